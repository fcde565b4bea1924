#include "proxy/router.hpp"

#include <spdlog/spdlog.h>

namespace sluice::proxy {

Router::Router(asio::any_io_executor executor, std::shared_ptr<const config::Config> config,
               const UpstreamTls& upstream_tls)
    : executor_(std::move(executor)), config_(std::move(config)), upstream_tls_(upstream_tls) {}

std::shared_ptr<ConnectionBudget> Router::budget(std::map<std::string, std::shared_ptr<ConnectionBudget>>& budgets,
                                                 const std::string& name, std::uint32_t max) {
    auto& b = budgets[name];
    if (!b) b = std::make_shared<ConnectionBudget>(max);
    return b;
}

UpstreamTarget Router::target_for(const config::Database& database, const std::string& client_database,
                                  const UpstreamTls& upstream_tls) {
    UpstreamTarget t;
    const auto& url = database.upstream;
    t.hosts = url.hosts;
    t.database = url.database.value_or(client_database);
    if (!url.options.empty()) t.parameters.emplace_back("options", url.options);
    for (const auto& kv : url.parameters) t.parameters.push_back(kv);
    t.connect_timeout = url.connect_timeout.value_or(database.pool.server_connect_timeout);
    t.sslmode = url.sslmode;
    t.sni = url.sslsni;
    t.channel_binding = url.channel_binding;
    auto tls = upstream_tls.for_url(url);
    t.tls = std::move(tls.tls);
    t.tls_error = std::move(tls.error);
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
    auto target = target_for(database, database.name, upstream_tls_);
    target.write_timeout = config_->timeouts.server_write;
    target.tcp = config_->tcp;
    auto pool = std::make_shared<Pool>(executor_, key, settings, std::move(target), credentials,
                                       budget(database_budgets_, database.name, settings.max_db_connections),
                                       budget(user_budgets_, credentials.user, user_max));
    pools_.emplace(std::move(key), pool);
    return pool;
}

void Router::maintain_all() {
    {
        std::vector<std::shared_ptr<Pool>> pools;
        {
            std::lock_guard lock(mutex_);
            for (auto& [k, p] : pools_) pools.push_back(p);
        }
        for (auto& p : pools) p->maintain();
        make_room(pools);
    }
    retire_empty_pools();  // after `pools` is gone: it counts who holds each pool
}

void Router::retire_empty_pools() {
    // A client may name any user (trust without a user list), and each name gets a pool: pools
    // must not outlive their use. One that nobody holds (no session, lease or upkeep task has a
    // reference) and that has no server, connecting or idle, only remembers settings: drop it,
    // and build it again when a client asks. Budgets go the same way once no pool shares them.
    std::vector<std::shared_ptr<Pool>> retired;  // destroyed after the lock is released
    std::lock_guard lock(mutex_);
    for (auto it = pools_.begin(); it != pools_.end();) {
        // Copies of this pointer are only made under mutex_ (pool_for) or from a holder: with
        // use_count 1 there is no holder, so nobody can take one while we decide.
        if (it->second.use_count() == 1) {
            auto stats = it->second->stats();
            if (stats.total == 0 && stats.waiting == 0) {
                spdlog::info("retired pool {}/{}: no clients and no servers", it->first.database, it->first.user);
                retired.push_back(std::move(it->second));
                it = pools_.erase(it);
                continue;
            }
        }
        ++it;
    }
    for (auto* budgets : {&database_budgets_, &user_budgets_})
        std::erase_if(*budgets, [](const auto& entry) { return entry.second.use_count() == 1; });
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

void Router::wake_overdue_waiters() {
    const auto now = Clock::now();
    // Pool mutexes are taken under mutex_ here as in stats(): never the other way round.
    std::lock_guard lock(mutex_);
    for (auto& [k, p] : pools_) p->wake_overdue(now);
}

std::vector<std::pair<PoolKey, PoolStats>> Router::stats() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<PoolKey, PoolStats>> out;
    for (const auto& [k, p] : pools_) out.emplace_back(k, p->stats());
    return out;
}

}  // namespace sluice::proxy
