#pragma once
// One pool per (database, user): a bounded set of server connections lent to one client at a
// time. The bookkeeping is PoolLedger's (FIFO waiters, slots, reserve, budgets); this class adds
// the I/O around it (connecting, health checks, waking waiters on any thread). The mutex covers
// ledger calls only, never I/O.
//
// Every resource taken across a co_await is held by a scoped object: a lent server by a Lease, a
// queued waiter by a guard that leaves the queue, a slot being connected by a guard that frees it.
// A cancelled or failed await therefore cannot leak a slot or strand a waiter.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/connection_budget.hpp"
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
    // A server for the caller alone, waiting (FIFO) until `deadline` when none is free. Await it
    // on a serialized executor (a strand, or the io_context with one thread): a grant wakes the
    // waiter through that executor.
    awaitable<Acquired> acquire(Clock::time_point deadline);
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
    class Resumption;
    struct Waiter;
    class WaitingGuard;
    class ConnectingSlot;

    void give_back(std::unique_ptr<ServerConnection> server);
    void close_lent(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept;
    // Acts on what a ledger change handed on; call without the mutex.
    void hand_on(Ledger::Handoff handoff) noexcept;
    static void wake(Ledger::Waiter* waiter, error_code ec = {}) noexcept;
    // Suspends a queued waiter until wake() (a grant, the pool closing, wake_overdue past
    // `wake_at`, a cancellation) resumes it; at once if it was granted already.
    auto wait_turn(Waiter& waiter, Clock::time_point wake_at);
    void close_server(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept;
    bool usable(ServerConnection& server, Clock::time_point now) const;
    // A lent server made fit to lend again: its role reset, and checked with an empty query when
    // `check`; the reason to close it instead, if that failed.
    awaitable<std::optional<ServerCloseReason>> refresh(ServerConnection& server, bool check);
    awaitable<Acquired> connect_new(ConnectingSlot& slot, Clock::time_point deadline);
    awaitable<void> warm_one();
    SessionEnd wait_timeout(Clock::time_point started, Clock::time_point deadline) const;

    asio::any_io_executor executor_;
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

}  // namespace sluice::proxy
