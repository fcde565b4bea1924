#pragma once
// Finds (or creates) the pool for a client's (database, user) and holds the budgets shared
// across pools: max_db_connections per database, max_user_connections / users.max_connections
// per user.
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "config/model.hpp"
#include "proxy/pool.hpp"
#include "proxy/upstream_tls.hpp"

namespace sluice::proxy {

class Router {
public:
    // `upstream_tls` outlives the router.
    Router(asio::any_io_executor executor, std::shared_ptr<const config::Config> config,
           const UpstreamTls& upstream_tls);

    // The pool for these clients; the credentials are used when the pool is first created.
    std::shared_ptr<Pool> pool_for(const config::Database& database, const std::string& user,
                                   const ServerCredentials& credentials);

    // The upstream target of a database (hosts, dbname, startup parameters).
    static UpstreamTarget target_for(const config::Database& database, const std::string& client_database,
                                     const UpstreamTls& upstream_tls);

    // Pool upkeep, then retires pools that nobody uses and that hold no server (see .cpp).
    void maintain_all();
    // Ends the waits that are past their deadline (Pool::wake_overdue); every idle sweep.
    void wake_overdue_waiters();
    void close_all();
    std::vector<std::pair<PoolKey, PoolStats>> stats() const;

private:
    void retire_empty_pools();
    static void make_room(const std::vector<std::shared_ptr<Pool>>& pools);
    std::shared_ptr<ConnectionBudget> budget(std::map<std::string, std::shared_ptr<ConnectionBudget>>& budgets,
                                             const std::string& name, std::uint32_t max);

    asio::any_io_executor executor_;
    std::shared_ptr<const config::Config> config_;
    const UpstreamTls& upstream_tls_;
    mutable std::mutex mutex_;
    std::map<PoolKey, std::shared_ptr<Pool>> pools_;
    std::map<std::string, std::shared_ptr<ConnectionBudget>> database_budgets_;
    std::map<std::string, std::shared_ptr<ConnectionBudget>> user_budgets_;
};

}  // namespace sluice::proxy
