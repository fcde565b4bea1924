#include "proxy/pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "protocol/ascii.hpp"

namespace sluice::proxy {

namespace {

constexpr std::size_t kMaxSharedSettings = 16;
constexpr auto kLivenessCheckAfter = std::chrono::milliseconds(100);
constexpr std::size_t kMaxKnownSettings = 4096;  // bounded: clients choose these values
constexpr std::size_t kMaxTouchedSettings = 256;  // settings behind an upstream pooler: each costs every transaction

std::string setting_key(std::string_view name, std::string_view value) {
    std::string key;
    for (char c : name) key.push_back(protocol::ascii_lower(c));
    key.push_back('\0');
    key.append(value);
    return key;
}
}  // namespace

// A slot taken to open a new server. Unless connected() is called, leaving scope frees the slot
// (or grants it to the first waiter).
class Pool::ConnectingSlot {
public:
    explicit ConnectingSlot(Pool& pool) noexcept : pool_(pool) {}
    ConnectingSlot(const ConnectingSlot&) = delete;
    ConnectingSlot& operator=(const ConnectingSlot&) = delete;
    ~ConnectingSlot() {
        if (done_) return;
        std::lock_guard lock(pool_.mutex_);
        wake(pool_.ledger_.connect_failed().wake);
    }
    void connected() {
        std::lock_guard lock(pool_.mutex_);
        pool_.ledger_.connected();
        done_ = true;
    }

private:
    Pool& pool_;
    bool done_ = false;
};

void Lease::give_back() {
    if (!server_) return;
    if (server_->cancel_in_flight()) {
        close(ServerCloseReason::CancelInFlight);
        return;
    }
    pool_->give_back(std::move(server_));
}

void Lease::close(ServerCloseReason reason) noexcept {
    if (!server_) return;
    pool_->close_lent(std::move(server_), reason);
}

Pool::Pool(asio::any_io_executor executor, PoolKey key, config::PoolSettings settings, UpstreamTarget target,
           ServerCredentials credentials, std::shared_ptr<ConnectionBudget> database_budget,
           std::shared_ptr<ConnectionBudget> user_budget)
    : executor_(std::move(executor)),
      key_(std::move(key)),
      settings_(settings),
      target_(std::move(target)),
      credentials_(std::move(credentials)),
      database_budget_(std::move(database_budget)),
      user_budget_(std::move(user_budget)),
      ledger_(PoolLimits{settings_.size, settings_.reserve_size}, database_budget_.get(), user_budget_.get()) {
    if (auto* io = executor_.target<asio::io_context::executor_type>(); io && WorkerMutex::single_worker())
        single_worker_scheduler_ = &asio::use_service<asio::detail::scheduler>(io->context());
}

Pool::~Pool() {
    // Idle servers still in the ledger close with their sockets; give their budget back.
    close();
}

void Pool::wake(Ledger::Waiter* waiter, error_code ec) noexcept {
    // Called under the mutex: a waiter outlives its queue entry only until its guard takes the
    // mutex, so it is alive here.
    if (!waiter) return;
    auto& w = static_cast<Waiter&>(*waiter);
    // Not suspended (yet, or any more): it looks at its grant before it suspends again.
    if (w.resume.pending()) w.resume.post(ec);
}

void Pool::wake_overdue(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    for (auto* w : ledger_.waiters())
        if (static_cast<Waiter*>(w)->wake_at <= now) wake(w);
}

void Pool::close_server(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept {
    if (!server) return;
    spdlog::info("server S{} closed: {}", server->id(), describe(reason));
    server->stream().close();
}

bool Pool::usable(ServerConnection& server, Clock::time_point now) const {
    if (settings_.server_lifetime.count() > 0 && now - server.created() >= settings_.server_lifetime) return false;
    // A server reused within moments is alive; skip the syscall on the busy path. One that sat
    // idle (an upstream restart kills idle servers) is checked without blocking.
    if (now - server.last_used() < kLivenessCheckAfter) return true;
    return server.stream().idle_and_alive();
}

SessionEnd Pool::wait_timeout(Clock::time_point started, Clock::time_point deadline) const {
    return SessionEnd::because(
        EndReason::QueryWaitTimeout,
        "query_wait timeout: no server connection became free within " +
            std::to_string(std::chrono::round<std::chrono::milliseconds>(deadline - started).count()) +
            "ms (pool size " + std::to_string(settings_.size) + " for database \"" + key_.database + "\", user \"" +
            key_.user + "\")",
        "Raise [pool] size or timeouts.query_wait, or make transactions shorter.");
}

Lease Pool::try_lend_idle() {
    std::unique_ptr<ServerConnection> server;
    {
        std::lock_guard lock(mutex_);
        const auto& idle = ledger_.idle();
        if (idle.empty()) return {};
        auto& last = *idle.back();
        auto now = Clock::now();
        if (now - last.last_used() >= kLivenessCheckAfter || last.role_may_have_changed() ||
            (settings_.server_lifetime.count() > 0 && now - last.created() >= settings_.server_lifetime))
            return {};
        server = ledger_.lend_idle();
        if (!server) return {};
        acquired_.fetch_add(1, std::memory_order_relaxed);
    }
    return Lease(shared_from_this(), std::move(server));
}

bool Pool::needs_check(const ServerConnection& server, Clock::time_point now) const {
    return settings_.server_check_delay.count() > 0 && now - server.last_used() >= settings_.server_check_delay;
}

Pool::Turn::Turn(Pool& pool, Clock::time_point deadline) : pool_(pool), started_(Clock::now()), deadline_(deadline) {
    ask();
}

Pool::Turn::~Turn() {
    if (in_queue_) {
        // Out of the queue, passing on a grant it did not collect.
        Ledger::Handoff handoff;
        {
            std::lock_guard lock(pool_.mutex_);
            handoff = pool_.ledger_.leave(waiter_);
            wake(handoff.wake);
        }
        if (handoff.close) pool_.close_server(std::move(handoff.close), ServerCloseReason::ShuttingDown);
    } else if (state_ == State::Connect) {
        // A slot to connect with, never used: the next waiter's.
        std::lock_guard lock(pool_.mutex_);
        wake(pool_.ledger_.connect_failed().wake);
    }
    // A server granted and never taken (only an exception between the grant and acquire() can
    // leave one) goes with lease_, closed: Lease's rule for a server dropped unused.
}

void Pool::Turn::ask() {
    std::unique_ptr<ServerConnection> server;
    Ledger::Outcome outcome;
    {
        std::lock_guard lock(pool_.mutex_);
        outcome = pool_.ledger_.request(waiter_, server);
        for (auto* w : pool_.ledger_.take_woken()) wake(w);
    }
    switch (outcome) {
    case Ledger::Outcome::Lend:
        granted(std::move(server));
        break;
    case Ledger::Outcome::Connect:
        state_ = State::Connect;
        break;
    case Ledger::Outcome::Wait:
        state_ = State::Queued;
        in_queue_ = true;
        waited_ = true;
        break;
    case Ledger::Outcome::Closed:
        state_ = State::Closed;
        break;
    }
}

void Pool::Turn::granted(std::unique_ptr<ServerConnection> server) {
    if (server) {
        lease_ = Lease(pool_.shared_from_this(), std::move(server));
        state_ = State::Lend;
    } else {
        state_ = State::Connect;
    }
}

Clock::time_point Pool::Turn::reserve_at() const { return started_ + pool_.settings_.reserve_timeout; }

bool Pool::Turn::may_reserve_later() const { return pool_.settings_.reserve_size > 0 && !waiter_.reserve; }

Clock::time_point Pool::Turn::wake_at() const {
    return may_reserve_later() ? std::min(deadline_, reserve_at()) : deadline_;
}

void Pool::Turn::woken(std::tuple<error_code> result) {
    if (auto ec = std::get<0>(result)) throw boost::system::system_error(ec);  // cancelled: ~Turn leaves the queue
    // A grant, or the sweep past the time set: the ledger says which.
    std::unique_ptr<ServerConnection> server;
    std::lock_guard lock(pool_.mutex_);
    auto& ledger = pool_.ledger_;
    if (ledger.collect(waiter_, server)) {
        in_queue_ = false;
        granted(std::move(server));
        return;
    }
    if (ledger.closed()) {
        state_ = State::Closed;
        return;
    }
    auto now = Clock::now();
    if (now >= deadline_) {
        ++pool_.wait_timeouts_;
        state_ = State::TimedOut;
        return;
    }
    if (may_reserve_later() && now >= reserve_at() && ledger.allow_reserve(waiter_)) {
        ledger.collect(waiter_, server);
        in_queue_ = false;
        state_ = State::Connect;
    }
}

Lease Pool::Turn::ready() {
    if (state_ != State::Lend) return {};
    auto now = Clock::now();
    if (!pool_.usable(*lease_, now) || lease_->role_may_have_changed() || pool_.needs_check(*lease_, now)) return {};
    state_ = State::Taken;
    pool_.acquired_.fetch_add(1, std::memory_order_relaxed);
    return std::move(lease_);
}

awaitable<Pool::Acquired> Pool::acquire(Clock::time_point deadline) {
    Turn turn(*this, deadline);
    if (Lease lease = turn.ready()) co_return Acquired{std::move(lease), std::nullopt};
    co_return co_await acquire(turn);
}

awaitable<Pool::Acquired> Pool::acquire(Turn& turn) {
    for (;;) {
        while (turn.waiting()) turn.woken(co_await turn.wait());
        switch (turn.state_) {
        case Turn::State::Closed:
            co_return Acquired{{}, SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down")};
        case Turn::State::TimedOut:
            co_return Acquired{{}, wait_timeout(turn.started_, turn.deadline_)};
        case Turn::State::Connect: {
            ConnectingSlot slot(*this);
            turn.state_ = Turn::State::Taken;
            // The upstream failed while this client waited: tell it so now rather than queue one
            // more attempt behind those that just failed (the slot, unused, wakes the next waiter).
            // A client that comes later tries again.
            if (turn.waited_) {
                std::lock_guard lock(mutex_);
                if (last_connect_failure_ && last_connect_failure_->at >= turn.started_)
                    co_return Acquired{{}, last_connect_failure_->end};
            }
            co_return co_await connect_new(slot, turn.deadline_);
        }
        case Turn::State::Lend:
            break;
        case Turn::State::Queued:
        case Turn::State::Taken:
            throw std::logic_error("Pool::acquire: a turn already settled");
        }
        Lease lease = std::move(turn.lease_);
        turn.state_ = Turn::State::Taken;
        auto now = Clock::now();
        if (!usable(*lease, now)) {
            lease.close(ServerCloseReason::ClosedWhileIdle);
            turn.ask();
            continue;
        }
        const bool check = needs_check(*lease, now);
        if (lease->role_may_have_changed() || check) {
            if (auto unfit = co_await refresh(*lease, check)) {
                lease.close(*unfit);
                turn.ask();
                continue;
            }
        }
        acquired_.fetch_add(1, std::memory_order_relaxed);
        co_return Acquired{std::move(lease), std::nullopt};
    }
}

// Out of acquire() so that its coroutine frame stays small enough for Asio's recycling allocator:
// every queued wait allocates one, this rarely runs.
awaitable<std::optional<ServerCloseReason>> Pool::refresh(ServerConnection& server, bool check) {
    if (server.role_may_have_changed()) {
        // Whatever role the last client took stays with that client.
        auto reset = co_await server.run_quietly("RESET SESSION AUTHORIZATION; RESET ROLE");
        if (!reset.ok || reset.error) co_return ServerCloseReason::ResetFailed;
        server.set_role_may_have_changed(false);
        // A client whose SET ROLE sluice replays gets it again from sync_statement.
        server.params().erase("role");
        server.set_synced_to(0);
    }
    if (check) {
        auto checked = co_await server.run_quietly("");
        if (!checked.ok || checked.error) co_return ServerCloseReason::HealthCheckFailed;
    }
    co_return std::nullopt;
}

awaitable<Pool::Acquired> Pool::connect_new(ConnectingSlot& slot, Clock::time_point deadline) {
    auto ex = co_await asio::this_coro::executor;
    auto backoff = settings_.server_retry_delay;
    const auto give_up = std::min(deadline, Clock::now() + std::max(settings_.server_connect_timeout,
                                                                     config::Duration(std::chrono::seconds(1))));
    for (;;) {
        auto outcome = co_await ServerConnection::connect(target_, credentials_);
        if (outcome.connection) {
            slot.connected();
            {
                std::lock_guard lock(mutex_);
                acquired_.fetch_add(1, std::memory_order_relaxed);
                last_connect_failure_.reset();
                if (defaults_->empty()) defaults_ = std::make_shared<const ParamMap>(outcome.connection->params());
            }
            spdlog::info("server S{} connected to {}:{} for pool {}/{}", outcome.connection->id(),
                         outcome.connection->endpoint().host, outcome.connection->endpoint().port, key_.database,
                         key_.user);
            co_return Acquired{Lease(shared_from_this(), std::move(outcome.connection)), std::nullopt};
        }
        {
            std::lock_guard lock(mutex_);
            ++connect_failures_;
        }
        spdlog::warn("pool {}/{}: {}", key_.database, key_.user, outcome.error);
        // The upstream answered and said no (bad password, unknown database): retrying will not help.
        // Starting up or shutting down is different: it is what a restart looks like.
        bool permanent =
            outcome.permanent || (outcome.server_error && !is_transient_login_error(*outcome.server_error));
        if (permanent || Clock::now() + backoff >= give_up) {
            SessionEnd end = SessionEnd::because(EndReason::ServerUnavailable,
                                                 "could not connect to the upstream server: " + outcome.error,
                                                 "Check that the upstream PostgreSQL is running and reachable.");
            end.upstream_error = std::move(outcome.server_error);
            {
                std::lock_guard lock(mutex_);
                last_connect_failure_ = ConnectFailure{Clock::now(), end};
            }
            co_return Acquired{{}, std::move(end)};
        }
        asio::steady_timer sleep(ex, backoff);
        co_await sleep.async_wait(use_tuple);
        backoff = std::min(backoff * 2, settings_.server_retry_max);
    }
}

void Pool::give_back(std::unique_ptr<ServerConnection> server) {
    const auto now = Clock::now();
    if (settings_.server_lifetime.count() > 0 && now - server->created() >= settings_.server_lifetime) {
        close_lent(std::move(server), ServerCloseReason::LifetimeReached);
        return;
    }
    server->touch(now);
    Ledger::Handoff handoff;
    {
        std::lock_guard lock(mutex_);
        handoff = ledger_.give_back(std::move(server));
        wake(handoff.wake);
    }
    if (handoff.close) close_server(std::move(handoff.close), ServerCloseReason::ShuttingDown);
}

void Pool::close_lent(std::unique_ptr<ServerConnection> server, ServerCloseReason reason) noexcept {
    close_server(std::move(server), reason);
    std::lock_guard lock(mutex_);
    wake(ledger_.closed_lent().wake);
}

std::optional<std::string> Pool::known_setting(std::string_view name, std::string_view value) const {
    std::lock_guard lock(mutex_);
    auto it = known_settings_.find(setting_key(name, value));
    if (it == known_settings_.end()) return std::nullopt;
    return it->second;
}

void Pool::remember_setting(std::string_view name, std::string_view value, std::string normalized) {
    std::lock_guard lock(mutex_);
    if (known_settings_.size() < kMaxKnownSettings)
        known_settings_.insert_or_assign(setting_key(name, value), std::move(normalized));
    welcomes_.clear();  // a welcome may hold the spelling before
}

std::optional<Pool::Welcome> Pool::known_welcome(const ParamMap& startup_settings) const {
    std::lock_guard lock(mutex_);
    for (const auto& [startup, welcome] : welcomes_)
        if (startup == startup_settings) return welcome;
    return std::nullopt;
}

void Pool::remember_welcome(const ParamMap& startup_settings, Welcome welcome) {
    std::lock_guard lock(mutex_);
    for (const auto& [startup, known] : welcomes_)
        if (startup == startup_settings) return;
    // As many shapes as shared_settings_ keeps: what drivers send at startup, not what each client does.
    if (welcomes_.size() >= kMaxSharedSettings) welcomes_.erase(welcomes_.begin());
    welcomes_.emplace_back(startup_settings, std::move(welcome));
}

std::shared_ptr<ParamMap> Pool::shared_settings(std::shared_ptr<ParamMap> mine, std::uint64_t fingerprint) {
    if (!mine) return mine;
    std::lock_guard lock(mutex_);
    for (const auto& [digest, shared] : shared_settings_)
        if (digest == fingerprint && *shared == *mine) return shared;
    // A few shapes cover a pool's clients (drivers differ in what they send at startup).
    if (shared_settings_.size() >= kMaxSharedSettings) shared_settings_.erase(shared_settings_.begin());
    shared_settings_.emplace_back(fingerprint, mine);
    return mine;
}

std::shared_ptr<const ParamMap> Pool::defaults() const {
    std::lock_guard lock(mutex_);
    return defaults_;
}

void Pool::touch_setting(std::string_view name, std::string default_value) {
    std::lock_guard lock(mutex_);
    // Bounded like known_settings_: a client cannot make every transaction of the pool grow.
    if (!touched_settings_.contains(name) && touched_settings_.size() >= kMaxTouchedSettings) return;
    auto [it, added] = touched_settings_.try_emplace(std::string(name), default_value);
    if (!added && it->second == default_value) return;
    it->second = std::move(default_value);
    touched_version_.fetch_add(1, std::memory_order_acq_rel);
}

ParamMap Pool::touched_settings() const {
    std::lock_guard lock(mutex_);
    return touched_settings_;
}

PoolStats Pool::stats() const {
    std::lock_guard lock(mutex_);
    auto c = ledger_.counts();
    PoolStats s;
    s.idle = c.idle;
    s.connecting = c.connecting;
    s.total = c.total;
    s.active = c.lent + c.granted;
    s.waiting = c.waiting;
    s.acquired = acquired_.load(std::memory_order_relaxed);
    s.wait_timeouts = wait_timeouts_;
    s.connect_failures = connect_failures_;
    return s;
}

void Pool::maintain() {
    auto now = Clock::now();
    std::vector<std::unique_ptr<ServerConnection>> retired;
    std::vector<ServerCloseReason> reasons;
    std::uint32_t to_open = 0;
    {
        std::lock_guard lock(mutex_);
        retired = ledger_.retire_idle([&](ServerConnection& s, std::uint32_t total) {
            std::optional<ServerCloseReason> reason;
            if (settings_.server_lifetime.count() > 0 && now - s.created() >= settings_.server_lifetime)
                reason = ServerCloseReason::LifetimeReached;
            else if (settings_.server_idle_timeout.count() > 0 &&
                     now - s.last_used() >= settings_.server_idle_timeout && total > settings_.min_size)
                reason = ServerCloseReason::IdleTimeout;
            else if (!s.stream().idle_and_alive())
                reason = ServerCloseReason::ClosedWhileIdle;
            if (reason) reasons.push_back(*reason);
            return reason.has_value();
        });
        for (auto* w : ledger_.take_woken()) wake(w);
        auto total = ledger_.counts().total;
        if (!ledger_.closed() && total < settings_.min_size) to_open = settings_.min_size - total;
    }
    for (std::size_t i = 0; i < retired.size(); ++i) close_server(std::move(retired[i]), reasons[i]);
    for (std::uint32_t i = 0; i < to_open; ++i)
        asio::co_spawn(executor_, [self = shared_from_this()]() { return self->warm_one(); }, asio::detached);
}

awaitable<void> Pool::warm_one() {
    {
        std::lock_guard lock(mutex_);
        if (!ledger_.take_warmup_slot(settings_.min_size)) co_return;
    }
    ConnectingSlot slot(*this);
    auto got = co_await connect_new(slot, Clock::now() + settings_.server_connect_timeout);
    if (got.lease) got.lease.give_back();
}

bool Pool::short_of_budget() const {
    std::lock_guard lock(mutex_);
    return ledger_.short_of_budget();
}

bool Pool::can_make_room_for(const Pool& needy) const noexcept {
    // A budget `needy` lacks must be one this pool draws from too.
    auto frees = [](const ConnectionBudget& needed, const ConnectionBudget& mine) {
        return !needed.exhausted() || &needed == &mine;
    };
    return frees(*needy.database_budget_, *database_budget_) && frees(*needy.user_budget_, *user_budget_);
}

bool Pool::close_idle_for_another_pool() {
    std::unique_ptr<ServerConnection> server;
    {
        std::lock_guard lock(mutex_);
        server = ledger_.take_oldest_idle();
    }
    if (!server) return false;
    close_server(std::move(server), ServerCloseReason::MadeRoom);
    return true;
}

void Pool::offer_free_slots() {
    std::lock_guard lock(mutex_);
    for (auto* w : ledger_.grant_free_slots()) wake(w);
}

void Pool::close() {
    std::vector<std::unique_ptr<ServerConnection>> idle;
    {
        std::lock_guard lock(mutex_);
        if (ledger_.closed()) return;
        auto closed = ledger_.close();
        idle = std::move(closed.first);
        for (auto* w : closed.second) wake(w);
    }
    for (auto& s : idle) close_server(std::move(s), ServerCloseReason::ShuttingDown);
}

}  // namespace sluice::proxy
