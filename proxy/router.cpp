#include "proxy/router.hpp"

namespace sluice::proxy {

Router::Router(asio::any_io_executor executor, std::shared_ptr<const config::Config> config)
    : executor_(std::move(executor)), config_(std::move(config)) {}

std::shared_ptr<ConnectionBudget> Router::budget(std::map<std::string, std::shared_ptr<ConnectionBudget>>& budgets,
                                                 const std::string& name, std::uint32_t max) {
    auto& b = budgets[name];
    if (!b) b = std::make_shared<ConnectionBudget>(max);
    return b;
}

UpstreamTarget Router::target_for(const config::Database& database, const std::string& client_database) {
    UpstreamTarget t;
    const auto& url = database.upstream;
    t.hosts = url.hosts;
    t.database = url.database.value_or(client_database);
    if (!url.options.empty()) t.parameters.emplace_back("options", url.options);
    for (const auto& kv : url.parameters) t.parameters.push_back(kv);
    t.connect_timeout = url.connect_timeout.value_or(database.pool.server_connect_timeout);
    return t;
}

std::shared_ptr<Pool> Router::pool_for(const config::Database& database, const std::string& user,
                                       const ServerCredentials& credentials) {
    std::lock_guard lock(mutex_);
    PoolKey key{database.name, user};
    auto it = pools_.find(key);
    if (it != pools_.end()) return it->second;

    config::PoolSettings settings = database.pool;
    std::uint32_t user_max = settings.max_user_connections;
    if (const auto* u = config_->find_user(user)) {
        if (u->pool_size) settings.size = *u->pool_size;
        if (u->max_connections) user_max = *u->max_connections;
    }
    auto pool = std::make_shared<Pool>(executor_, key, settings, target_for(database, database.name), credentials,
                                       budget(database_budgets_, database.name, settings.max_db_connections),
                                       budget(user_budgets_, credentials.user, user_max));
    pools_.emplace(std::move(key), pool);
    return pool;
}

void Router::maintain_all() {
    std::vector<std::shared_ptr<Pool>> pools;
    {
        std::lock_guard lock(mutex_);
        for (auto& [k, p] : pools_) pools.push_back(p);
    }
    for (auto& p : pools) p->maintain();
    make_room(pools);
}

// Pools that share a budget (max_db_connections, max_user_connections) give way to each other: a
// pool whose clients wait only because the shared budget is spent gets the slot of a server idle
// in another pool of that budget, which would otherwise hold it until server_idle_timeout while
// those clients run into query_wait. (PgBouncer does the same.) Runs with the maintenance sweep.
void Router::make_room(const std::vector<std::shared_ptr<Pool>>& pools) {
    for (const auto& needy : pools) {
        needy->offer_free_slots();  // budget another pool gave back since
        while (needy->short_of_budget()) {
            bool closed = false;
            for (const auto& other : pools) {
                if (other != needy && other->can_make_room_for(*needy) && other->close_idle_for_another_pool()) {
                    closed = true;
                    break;
                }
            }
            if (!closed) break;
            needy->offer_free_slots();
        }
    }
}

void Router::close_all() {
    std::vector<std::shared_ptr<Pool>> pools;
    {
        std::lock_guard lock(mutex_);
        for (auto& [k, p] : pools_) pools.push_back(p);
    }
    for (auto& p : pools) p->close();
}

std::vector<std::pair<PoolKey, PoolStats>> Router::stats() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<PoolKey, PoolStats>> out;
    for (const auto& [k, p] : pools_) out.emplace_back(k, p->stats());
    return out;
}

}  // namespace sluice::proxy
