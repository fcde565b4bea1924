#include "proxy/pool.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kLivenessCheckAfter = std::chrono::milliseconds(100);
}  // namespace

struct Pool::Waiter {
    explicit Waiter(asio::any_io_executor ex) : signal(ex, 1) {}
    Signal signal;
    std::unique_ptr<ServerConnection> server;  // handed over by release(), under the pool mutex
};

bool ConnectionBudget::try_take() noexcept {
    auto used = used_.load(std::memory_order_relaxed);
    do {
        if (max_ != 0 && used >= max_) return false;
    } while (!used_.compare_exchange_weak(used, used + 1, std::memory_order_acq_rel));
    return true;
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
      user_budget_(std::move(user_budget)) {}

bool Pool::take_slot_locked(bool with_reserve) {
    std::uint32_t limit = settings_.size + (with_reserve ? settings_.reserve_size : 0);
    if (closed_ || total_ >= limit) return false;
    if (!database_budget_->try_take()) return false;
    if (!user_budget_->try_take()) {
        database_budget_->give_back();
        return false;
    }
    ++total_;
    return true;
}

void Pool::free_slot_locked() {
    --total_;
    database_budget_->give_back();
    user_budget_->give_back();
    wake_one_locked();  // the first waiter may now open a connection itself
}

void Pool::wake_one_locked() {
    if (waiters_.empty()) return;
    auto w = std::move(waiters_.front());
    waiters_.pop_front();
    w->signal.try_send(error_code{});
}

bool Pool::usable(ServerConnection& server, Clock::time_point now) const {
    if (settings_.server_lifetime.count() > 0 && now - server.created() >= settings_.server_lifetime) return false;
    // A server reused within moments is alive; skip the syscall on the busy path. One that sat
    // idle (an upstream restart kills idle servers) is checked without blocking.
    if (now - server.last_used() < kLivenessCheckAfter) return true;
    return server.stream().idle_and_alive();
}

awaitable<Pool::Acquired> Pool::acquire(Clock::time_point deadline) {
    auto ex = co_await asio::this_coro::executor;
    const auto started = Clock::now();
    for (;;) {
        std::unique_ptr<ServerConnection> server;
        std::shared_ptr<Waiter> waiter;
        bool may_connect = false;
        {
            std::lock_guard lock(mutex_);
            if (!idle_.empty()) {
                server = std::move(idle_.back());  // LIFO: warm caches, lets extras go idle and retire
                idle_.pop_back();
            } else {
                bool reserve = settings_.reserve_size > 0 && Clock::now() - started >= settings_.reserve_timeout;
                may_connect = take_slot_locked(reserve);
                if (!may_connect) {
                    waiter = std::make_shared<Waiter>(ex);
                    waiters_.push_back(waiter);
                }
            }
        }
        if (may_connect) co_return co_await connect_new(deadline);

        if (waiter) {
            auto wake_at = deadline;
            if (settings_.reserve_size > 0 && Clock::now() - started < settings_.reserve_timeout)
                wake_at = std::min(deadline, started + settings_.reserve_timeout);
            asio::steady_timer timer(ex, wake_at);
            co_await (waiter->signal.async_receive(use_tuple) || timer.async_wait(use_tuple));
            {
                std::lock_guard lock(mutex_);
                server = std::move(waiter->server);
                if (!server) std::erase(waiters_, waiter);
            }
            if (!server) {
                if (Clock::now() >= deadline) {
                    {
                        std::lock_guard lock(mutex_);
                        ++wait_timeouts_;
                    }
                    co_return Acquired{
                        nullptr,
                        SessionEnd::because(
                            EndReason::QueryWaitTimeout,
                            "query_wait timeout: no server connection became free within " +
                                std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - started)
                                                   .count()) +
                                "ms (pool size " + std::to_string(settings_.size) + " for database \"" +
                                key_.database + "\", user \"" + key_.user + "\")",
                            "Raise [pool] size or timeouts.query_wait, or make transactions shorter.")};
                }
                continue;  // a slot freed up or the reserve pool opened: try again
            }
        }

        auto now = Clock::now();
        if (!usable(*server, now)) {
            discard(std::move(server), "closed or expired while idle");
            continue;
        }
        if (settings_.server_check_delay.count() > 0 && now - server->last_used() >= settings_.server_check_delay) {
            auto check = co_await server->run_quietly("");
            if (!check.ok || check.error) {
                discard(std::move(server), "failed its health check");
                continue;
            }
        }
        {
            std::lock_guard lock(mutex_);
            ++acquired_;
        }
        co_return Acquired{std::move(server), std::nullopt};
    }
}

awaitable<Pool::Acquired> Pool::connect_new(Clock::time_point deadline) {
    auto ex = co_await asio::this_coro::executor;
    {
        std::lock_guard lock(mutex_);
        ++connecting_;
    }
    auto backoff = settings_.server_retry_delay;
    const auto give_up = std::min(deadline, Clock::now() + std::max(settings_.server_connect_timeout,
                                                                     config::Duration(std::chrono::seconds(1))));
    for (;;) {
        auto outcome = co_await ServerConnection::connect(target_, credentials_);
        if (outcome.connection) {
            std::lock_guard lock(mutex_);
            --connecting_;
            ++acquired_;
            if (defaults_.empty()) defaults_ = outcome.connection->params();
            spdlog::info("server S{} connected to {}:{} for pool {}/{}", outcome.connection->id(),
                         outcome.connection->endpoint().host, outcome.connection->endpoint().port, key_.database,
                         key_.user);
            co_return Acquired{std::move(outcome.connection), std::nullopt};
        }
        {
            std::lock_guard lock(mutex_);
            ++connect_failures_;
        }
        spdlog::warn("pool {}/{}: {}", key_.database, key_.user, outcome.error);
        auto now = Clock::now();
        // The upstream answered and said no (bad password, unknown database): retrying will not help.
        // Starting up or shutting down is different: it is what a restart looks like.
        bool permanent = outcome.server_error && !is_transient_login_error(*outcome.server_error);
        if (permanent || now + backoff >= give_up) {
            {
                std::lock_guard lock(mutex_);
                --connecting_;
                free_slot_locked();
            }
            SessionEnd end = SessionEnd::because(EndReason::ServerUnavailable,
                                                 "could not connect to the upstream server: " + outcome.error,
                                                 "Check that the upstream PostgreSQL is running and reachable.");
            end.upstream_error = std::move(outcome.server_error);
            co_return Acquired{nullptr, std::move(end)};
        }
        asio::steady_timer sleep(ex, backoff);
        co_await sleep.async_wait(use_tuple);
        backoff = std::min(backoff * 2, settings_.server_retry_max);
    }
}

void Pool::release(std::unique_ptr<ServerConnection> server) {
    auto now = Clock::now();
    if (settings_.server_lifetime.count() > 0 && now - server->created() >= settings_.server_lifetime) {
        discard(std::move(server), "server_lifetime reached");
        return;
    }
    server->touch();
    std::lock_guard lock(mutex_);
    if (closed_) {
        server->stream().close();
        free_slot_locked();
        return;
    }
    while (!waiters_.empty()) {
        auto w = std::move(waiters_.front());
        waiters_.pop_front();
        w->server = std::move(server);
        w->signal.try_send(error_code{});
        return;
    }
    idle_.push_back(std::move(server));
}

void Pool::discard(std::unique_ptr<ServerConnection> server, std::string_view reason) {
    if (!server) return;
    spdlog::info("server S{} closed: {}", server->id(), reason);
    server->stream().close();
    server.reset();
    std::lock_guard lock(mutex_);
    free_slot_locked();
}

namespace {
constexpr std::size_t kMaxKnownSettings = 4096;  // bounded: clients choose these values
std::string setting_key(std::string_view name, std::string_view value) {
    std::string key;
    for (char c : name) key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    key.push_back('\0');
    key.append(value);
    return key;
}
}  // namespace

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
}

ParamMap Pool::defaults() const {
    std::lock_guard lock(mutex_);
    return defaults_;
}

PoolStats Pool::stats() const {
    std::lock_guard lock(mutex_);
    PoolStats s;
    s.idle = static_cast<std::uint32_t>(idle_.size());
    s.connecting = connecting_;
    s.total = total_;
    s.active = total_ - s.idle - connecting_;
    s.waiting = static_cast<std::uint32_t>(waiters_.size());
    s.acquired = acquired_;
    s.wait_timeouts = wait_timeouts_;
    s.connect_failures = connect_failures_;
    return s;
}

void Pool::maintain() {
    auto now = Clock::now();
    std::vector<std::pair<std::unique_ptr<ServerConnection>, const char*>> retired;
    std::uint32_t to_open = 0;
    {
        std::lock_guard lock(mutex_);
        // Oldest-used idle servers sit at the front (release pushes back, acquire pops back).
        for (auto it = idle_.begin(); it != idle_.end();) {
            auto& s = **it;
            const char* reason = nullptr;
            if (settings_.server_lifetime.count() > 0 && now - s.created() >= settings_.server_lifetime)
                reason = "server_lifetime reached";
            else if (settings_.server_idle_timeout.count() > 0 && now - s.last_used() >= settings_.server_idle_timeout &&
                     total_ - retired.size() > settings_.min_size)
                reason = "server_idle_timeout reached";
            else if (!s.stream().idle_and_alive())
                reason = "closed by the server while idle";
            if (reason) {
                retired.emplace_back(std::move(*it), reason);
                it = idle_.erase(it);
            } else {
                ++it;
            }
        }
        std::uint32_t after = total_ - static_cast<std::uint32_t>(retired.size());
        if (!closed_ && after < settings_.min_size) to_open = settings_.min_size - after;
    }
    for (auto& [server, reason] : retired) discard(std::move(server), reason);
    for (std::uint32_t i = 0; i < to_open; ++i)
        asio::co_spawn(executor_, [self = shared_from_this()]() { return self->warm_one(); }, asio::detached);
}

awaitable<void> Pool::warm_one() {
    {
        std::lock_guard lock(mutex_);
        if (!take_slot_locked(false)) co_return;
    }
    auto got = co_await connect_new(Clock::now() + settings_.server_connect_timeout);
    if (got.server) release(std::move(got.server));
}

void Pool::close() {
    std::deque<std::unique_ptr<ServerConnection>> idle;
    {
        std::lock_guard lock(mutex_);
        closed_ = true;
        idle.swap(idle_);
    }
    for (auto& s : idle) discard(std::move(s), "shutting down");
}

}  // namespace sluice::proxy
