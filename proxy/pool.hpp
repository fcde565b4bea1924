#pragma once
// One pool per (database, user): a bounded set of server connections lent to one client at a
// time. The bookkeeping is PoolLedger's (FIFO waiters, slots, reserve, budgets); this class adds
// the I/O around it (connecting, health checks, waking waiters on any thread). The mutex covers
// ledger calls only, never I/O.
//
// Every resource taken across a co_await is held by a scoped object: a lent server by a Lease, a
// queued waiter by a guard that leaves the queue, a slot being connected by a guard that frees it.
// A cancelled or failed await therefore cannot leak a slot or strand a waiter.
#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/detail/scheduler_operation.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/connection_budget.hpp"
#include "proxy/in_place_handler.hpp"
#include "proxy/pool_ledger.hpp"
#include "proxy/server_connection.hpp"
#include "proxy/server_lease.hpp"
#include "proxy/session_end.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {

struct PoolKey {
    std::string database;
    std::string user;
    friend auto operator<=>(const PoolKey&, const PoolKey&) = default;
};

struct PoolStats {
    std::uint32_t idle = 0;
    std::uint32_t active = 0;      // lent to clients (or granted to a waiter)
    std::uint32_t connecting = 0;  // counted in total, not yet usable
    std::uint32_t total = 0;
    std::uint32_t waiting = 0;
    std::uint64_t acquired = 0;
    std::uint64_t wait_timeouts = 0;
    std::uint64_t connect_failures = 0;
};

class Pool : public std::enable_shared_from_this<Pool> {
public:
    Pool(asio::any_io_executor executor, PoolKey key, config::PoolSettings settings, UpstreamTarget target,
         ServerCredentials credentials, std::shared_ptr<ConnectionBudget> database_budget,
         std::shared_ptr<ConnectionBudget> user_budget);
    ~Pool();

    struct Acquired {
        Lease lease;
        std::optional<SessionEnd> failure;  // set when the lease is empty
    };
    // A client's request for a server, kept in the client's own coroutine frame (see below).
    class Turn;
    // A server for the caller alone, waiting (FIFO) until `deadline` when none is free. Await it
    // on a serialized executor (a strand, or the io_context with one thread): a grant wakes the
    // waiter through that executor.
    awaitable<Acquired> acquire(Clock::time_point deadline);
    // The same for a request already made: what Turn::ready() does not settle (a new connection,
    // a server to refresh or retire, the deadline, shutdown).
    awaitable<Acquired> acquire(Turn& turn);
    // The busy path, without suspending: the most recently used idle server when it needs no check
    // (used moments ago, not due for retirement or a reset). Empty otherwise: then call acquire().
    Lease try_lend_idle();

    // Startup settings already checked on this pool's upstream, and how the server spells them
    // ("utf8" -> "UTF8"): a client asking for a known setting logs in without a server round trip.
    std::optional<std::string> known_setting(std::string_view name, std::string_view value) const;
    void remember_setting(std::string_view name, std::string_view value, std::string normalized);
    // A client's settings as its login left them (`fingerprint`: theirs): an equal map that other
    // clients of the pool already share, or `mine`, now shared with those that follow.
    std::shared_ptr<ParamMap> shared_settings(std::shared_ptr<ParamMap> mine, std::uint64_t fingerprint);

    // How a login ends that sent these startup settings, once one like it ended without a server
    // round trip: the settings it shares and the ParameterStatus messages it was sent. Most
    // clients of a pool start alike; they skip building, comparing and encoding the same dozen
    // settings again. Forgotten when a setting's spelling is learned anew.
    struct Welcome {
        std::shared_ptr<ParamMap> settings;
        std::uint64_t fingerprint = 0;
        std::shared_ptr<const std::string> statuses;
    };
    std::optional<Welcome> known_welcome(const ParamMap& startup_settings) const;
    void remember_welcome(const ParamMap& startup_settings, Welcome welcome);

    // The reported parameters of a freshly logged-in server; empty until one connected. Never
    // null; set once, so every login shares it instead of copying it.
    [[nodiscard]] std::shared_ptr<const ParamMap> defaults() const;

    // Behind an upstream pooler: the settings some client of this pool changed with SET, each
    // with its default (what a client that never set it must see). A client's SET may linger on
    // the upstream's backend it ran on, so every transaction sets these for itself
    // (local_settings_statement). The version changes whenever the set does.
    void touch_setting(std::string_view name, std::string default_value);
    [[nodiscard]] std::uint64_t touched_version() const noexcept { return touched_version_.load(std::memory_order_acquire); }
    [[nodiscard]] ParamMap touched_settings() const;
    [[nodiscard]] const PoolKey& key() const noexcept { return key_; }
    [[nodiscard]] const config::PoolSettings& settings() const noexcept { return settings_; }
    [[nodiscard]] PoolStats stats() const;

    // Wakes the waiters whose deadline (or reserve_timeout) has passed: called by the 100 ms
    // idle sweep, so a wait ends at most one period late, and a wait needs no timer of its own.
    void wake_overdue(Clock::time_point now);

    // Periodic upkeep: retire idle servers past server_idle_timeout/server_lifetime or closed by
    // the server, and open connections up to min_size.
    void maintain();
    // Shutdown: close idle servers now, and every server when it comes back.
    void close();

    // Pools sharing a budget give way to each other (Router::make_room): whether clients wait
    // here only because a shared budget is spent, whether closing one of this pool's servers would
    // free every budget that `needy` lacks, closing the least recently used idle server, and
    // handing free budget to the waiters.
    [[nodiscard]] bool short_of_budget() const;
    [[nodiscard]] bool can_make_room_for(const Pool& needy) const noexcept;
    bool close_idle_for_another_pool();
    void offer_free_slots();

private:
    friend class Lease;
    using Ledger = PoolLedger<ServerConnection>;

    // A suspended waiter's completion handler, kept in place in the waiter (so in the waiting
    // coroutine's frame): nothing is allocated per wait. Asio's any_completion_handler would
    // allocate, and it takes over the handler's cancellation slot. With one worker the resumption
    // is itself the operation queued to the io_context's scheduler (an Asio detail, as
    // receive_op.hpp's), so resuming allocates nothing and copies no executor either.
    class Resumption : asio::detail::scheduler_operation {
    public:
        Resumption() noexcept : scheduler_operation(&Resumption::complete) {}
        Resumption(const Resumption&) = delete;
        Resumption& operator=(const Resumption&) = delete;
        ~Resumption() = default;

        // `scheduler`: the io_context's when one worker runs everything (the handler's executor
        // is then that io_context's), else nullptr.
        template <class Handler>
        void emplace(Handler&& handler, asio::detail::scheduler* scheduler) noexcept {
            handler_.emplace(std::forward<Handler>(handler));
            scheduler_ = scheduler;
            queued_ = false;
        }
        [[nodiscard]] bool pending() const noexcept { return !handler_.empty() && !queued_; }
        // Resumes the waiter with `ec`, once, on its own executor (the client's), never inline: the
        // caller holds the pool's mutex, and may run on another thread.
        void post(error_code ec) {
            if (!scheduler_) return handler_.complete(Handler::Completion::post, ec);
            // One worker: that executor is the io_context's, without a strand. Queued as Asio
            // queues a post there, the handler staying where it is until it runs.
            ec_ = ec;
            queued_ = true;
            scheduler_->post_immediate_completion(this, false);
        }

    private:
        using Handler = InPlaceHandler<32, error_code>;

        // Run by the scheduler; `owner` is null when it shuts down with the resumption queued:
        // the handler is destroyed uncalled, as Asio destroys its own operations'. The call
        // resumes the coroutine whose frame holds this resumption.
        static void complete(void* owner, scheduler_operation* base, const error_code&, std::size_t) {
            auto& r = static_cast<Resumption&>(*base);
            r.handler_.complete(owner ? Handler::Completion::call : Handler::Completion::destroy, r.ec_);
        }

        Handler handler_;
        asio::detail::scheduler* scheduler_ = nullptr;
        error_code ec_;
        bool queued_ = false;
    };

    // A waiting client: the ledger's record, when to wake it without a grant (its deadline, or the
    // moment it may use the reserve: the 100 ms sweep checks these, as PgBouncer's janitor checks
    // query_wait_timeout, instead of a timer per wait), and, while it is suspended, how to resume
    // it. Whoever finds `resume` pending under the mutex (a grant, the sweep, a cancellation, the
    // pool closing) posts it; nobody else can.
    struct Waiter : Ledger::Waiter {
        Clock::time_point wake_at;
        Resumption resume;
    };
    class ConnectingSlot;

    void give_back(std::unique_ptr<ServerConnection> server);
    void close_lent(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept;
    // Acts on what a ledger change handed on; call without the mutex.
    void hand_on(Ledger::Handoff handoff) noexcept;
    static void wake(Ledger::Waiter* waiter, error_code ec = {}) noexcept;
    // Suspends a queued waiter until wake() (a grant, the pool closing, wake_overdue past
    // `wake_at`, a cancellation) resumes it; at once if it was granted already.
    template <class Handler>
    void suspend(Waiter& waiter, Clock::time_point wake_at, Handler handler);
    void close_server(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept;
    bool usable(ServerConnection& server, Clock::time_point now) const;
    // Whether a lent server must be checked with an empty query first (server_check_delay).
    bool needs_check(const ServerConnection& server, Clock::time_point now) const;
    // A lent server made fit to lend again: its role reset, and checked with an empty query when
    // `check`; the reason to close it instead, if that failed.
    awaitable<std::optional<ServerCloseReason>> refresh(ServerConnection& server, bool check);
    awaitable<Acquired> connect_new(ConnectingSlot& slot, Clock::time_point deadline);
    awaitable<void> warm_one();
    SessionEnd wait_timeout(Clock::time_point started, Clock::time_point deadline) const;

    asio::any_io_executor executor_;
    // The io_context's scheduler when one worker runs it (WorkerMutex::single_worker()): every
    // waiter's executor is that io_context's then.
    asio::detail::scheduler* single_worker_scheduler_ = nullptr;
    PoolKey key_;
    config::PoolSettings settings_;
    UpstreamTarget target_;
    ServerCredentials credentials_;
    std::shared_ptr<ConnectionBudget> database_budget_;
    std::shared_ptr<ConnectionBudget> user_budget_;

    mutable WorkerMutex mutex_;
    Ledger ledger_;
    std::shared_ptr<const ParamMap> defaults_ = std::make_shared<const ParamMap>();
    ParamMap touched_settings_;
    std::atomic<std::uint64_t> touched_version_{0};
    std::map<std::string, std::string, std::less<>> known_settings_;  // "name\0value" -> normalized
    std::vector<std::pair<std::uint64_t, std::shared_ptr<ParamMap>>> shared_settings_;  // newest last
    std::vector<std::pair<ParamMap, Welcome>> welcomes_;  // by startup settings, newest last
    std::atomic<std::uint64_t> acquired_{0};
    std::uint64_t wait_timeouts_ = 0;
    std::uint64_t connect_failures_ = 0;
    // The last time connecting gave up, and what the client was told; cleared by a success.
    // Clients that were queued when it happened share it instead of each trying again in turn.
    struct ConnectFailure {
        Clock::time_point at;
        SessionEnd end;
    };
    std::optional<ConnectFailure> last_connect_failure_;
};

// A client's request for a server, held by the client's own coroutine: the common queued path
// (wait for a grant, take the server granted) runs in the caller's frame, without a coroutine of
// its own; pool.acquire(turn) does the rest.
//
//     Pool::Turn turn(pool, deadline);                 // asks at once
//     while (turn.waiting()) turn.woken(co_await turn.wait());
//     Lease lease = turn.ready();                      // empty: co_await pool.acquire(turn)
//
// Whatever it still holds when it ends goes back, so a cancelled or failed await leaks nothing: a
// place in the queue, a grant it did not collect and a slot to connect with to the pool, a server
// it collected and never handed on closed (as any Lease dropped unused).
class Pool::Turn {
public:
    Turn(Pool& pool, Clock::time_point deadline);
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    ~Turn();

    // Queued, with nothing granted yet: wait().
    [[nodiscard]] bool waiting() const noexcept { return state_ == State::Queued; }
    // Suspends until a grant, the sweep past the deadline (or past reserve_timeout), the pool
    // closing or a cancellation; hand what it completes with to woken().
    auto wait() {
        return asio::async_initiate<decltype(deferred_tuple), void(error_code)>(
            [this](auto handler) { pool_.suspend(waiter_, wake_at(), std::move(handler)); }, deferred_tuple);
    }
    // Takes up what woke the wait: a grant, or the reason there is none (which the ledger says).
    // Throws system_error if the wait was cancelled.
    void woken(std::tuple<error_code> result);
    // The server granted, when it can be lent as it is (alive, its role its own, no check due).
    // Empty otherwise: then pool.acquire(*this).
    Lease ready();

private:
    friend class Pool;
    enum class State { Queued, Lend, Connect, Closed, TimedOut, Taken };

    void ask();
    void granted(std::unique_ptr<ServerConnection> server);
    [[nodiscard]] Clock::time_point reserve_at() const;
    [[nodiscard]] bool may_reserve_later() const;
    [[nodiscard]] Clock::time_point wake_at() const;

    Pool& pool_;
    const Clock::time_point started_;
    const Clock::time_point deadline_;
    Waiter waiter_;
    State state_ = State::Taken;
    bool in_queue_ = false;  // the ledger links waiter_, or holds a grant for it not collected
    bool waited_ = false;
    Lease lease_;  // State::Lend
};

template <class Handler>
void Pool::suspend(Waiter& waiter, Clock::time_point wake_at, Handler handler) {
    std::lock_guard lock(mutex_);
    if (!waiter.queued) {
        // Granted (or the pool closed) between the caller's look and now.
        asio::post(asio::append(std::move(handler), error_code{}));
        return;
    }
    waiter.wake_at = wake_at;
    // The login's deadline cancels a login queued here. Asio clears the slot when the handler
    // runs, so this never outlives the wait.
    if (auto slot = asio::get_associated_cancellation_slot(handler); slot.is_connected()) {
        slot.assign([this, &waiter](asio::cancellation_type) {
            std::lock_guard cancel_lock(mutex_);
            wake(&waiter, asio::error::operation_aborted);
        });
    }
    waiter.resume.emplace(std::move(handler), single_worker_scheduler_);
}

}  // namespace sluice::proxy
