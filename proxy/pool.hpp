#pragma once
// One pool per (database, user): a bounded set of server connections lent to one client at a
// time. Waiting clients queue FIFO; a released server goes straight to the first waiter.
// Thread-safe: sessions on any thread acquire and release; the mutex is held only for
// bookkeeping, never across I/O.
#include <atomic>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/server_connection.hpp"
#include "proxy/session_end.hpp"

namespace sluice::proxy {

// A cap on server connections shared by several pools (all pools of a database, of a user).
class ConnectionBudget {
public:
    explicit ConnectionBudget(std::uint32_t max) noexcept : max_(max) {}
    bool try_take() noexcept;
    void give_back() noexcept { used_.fetch_sub(1, std::memory_order_acq_rel); }
    [[nodiscard]] std::uint32_t used() const noexcept { return used_.load(std::memory_order_relaxed); }

private:
    std::uint32_t max_;  // 0 = unlimited
    std::atomic<std::uint32_t> used_{0};
};

struct PoolKey {
    std::string database;
    std::string user;
    friend auto operator<=>(const PoolKey&, const PoolKey&) = default;
};

struct PoolStats {
    std::uint32_t idle = 0;
    std::uint32_t active = 0;      // lent to clients
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

    struct Acquired {
        std::unique_ptr<ServerConnection> server;
        std::optional<SessionEnd> failure;  // set when server is null
    };
    // A server for the caller alone, waiting (FIFO) until `deadline` when none is free.
    awaitable<Acquired> acquire(Clock::time_point deadline);
    // The server is idle (ReadyForQuery 'I', nothing in flight) and clean: lend it again.
    void release(std::unique_ptr<ServerConnection> server);
    // The server's state is unknown or it broke: close it.
    void discard(std::unique_ptr<ServerConnection> server, std::string_view reason);

    // Startup settings already checked on this pool's upstream, and how the server spells them
    // ("utf8" -> "UTF8"): a client asking for a known setting logs in without a server round trip.
    std::optional<std::string> known_setting(std::string_view name, std::string_view value) const;
    void remember_setting(std::string_view name, std::string_view value, std::string normalized);

    // The reported parameters of a freshly logged-in server; empty until one connected.
    [[nodiscard]] ParamMap defaults() const;
    [[nodiscard]] const PoolKey& key() const noexcept { return key_; }
    [[nodiscard]] const config::PoolSettings& settings() const noexcept { return settings_; }
    [[nodiscard]] PoolStats stats() const;

    // Periodic upkeep: retire idle servers past server_idle_timeout/server_lifetime, and open
    // connections up to min_size.
    void maintain();
    // Shutdown: close idle servers now, and every server when it is released.
    void close();

private:
    struct Waiter;
    using Signal = asio::experimental::concurrent_channel<void(error_code)>;

    bool take_slot_locked(bool with_reserve);
    void free_slot_locked();
    void wake_one_locked();
    bool usable(ServerConnection& server, Clock::time_point now) const;
    awaitable<Acquired> connect_new(Clock::time_point deadline);
    awaitable<void> warm_one();

    asio::any_io_executor executor_;
    PoolKey key_;
    config::PoolSettings settings_;
    UpstreamTarget target_;
    ServerCredentials credentials_;
    std::shared_ptr<ConnectionBudget> database_budget_;
    std::shared_ptr<ConnectionBudget> user_budget_;

    mutable std::mutex mutex_;
    std::deque<std::unique_ptr<ServerConnection>> idle_;
    std::deque<std::shared_ptr<Waiter>> waiters_;
    std::uint32_t total_ = 0;       // idle + lent + connecting
    std::uint32_t connecting_ = 0;
    bool closed_ = false;
    ParamMap defaults_;
    std::map<std::string, std::string, std::less<>> known_settings_;  // "name\0value" -> normalized
    std::uint64_t acquired_ = 0;
    std::uint64_t wait_timeouts_ = 0;
    std::uint64_t connect_failures_ = 0;
};

}  // namespace sluice::proxy
