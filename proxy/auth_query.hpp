#pragma once
// Looks up the password secret of users that are not in the configuration, in the upstream
// itself (PgBouncer's auth_query), as auth_query.user. The connection pins search_path to
// pg_catalog, so an unqualified name in the query cannot be hijacked by a table in a schema the
// looked-up user controls (PgBouncer CVE-2025-12819).
//
// User names come from clients that have not proved anything yet, so nothing here may grow with
// what they send: one upstream connection per database, kept and reused (reconnected when lost);
// one lookup at a time on it, and a login whose name is being looked up waits for that lookup
// and reads its answer from the cache; a cache with a fixed maximum of entries, each kept for
// auth_query.cache_ttl. Only answers are cached ("this secret", "no such user"): a failed lookup
// is not, so the next login asks again.
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/server_connection.hpp"
#include "proxy/ttl_lru_cache.hpp"
#include "proxy/upstream_tls.hpp"

namespace sluice::proxy {

struct AuthQueryResult {
    enum class Status {
        Found,     // `secret` is the user's password secret
        Refused,   // no such user, no password, password expired: fails like a wrong password
        Failed,    // the lookup itself failed (upstream down, query error): not the user's fault
    };
    Status status = Status::Refused;
    std::string secret;  // "md5..." or "SCRAM-SHA-256$..." when Found
    std::string reason;  // why not (for the log only: the client is told less)
};

class AuthQueryCache {
public:
    // Enough for every real user of a large deployment; a flood of invented names only evicts
    // other invented names (and, at worst, costs a real user one more lookup).
    static constexpr std::size_t kMaxEntries = 10'000;

    // `upstream_tls` outlives the cache.
    AuthQueryCache(asio::any_io_executor executor, config::AuthQuery settings, const UpstreamTls& upstream_tls);
    ~AuthQueryCache();

    awaitable<AuthQueryResult> lookup(const config::Database& database, const std::string& user);

private:
    // One database's lookup connection; `permit` (capacity 1) lets one lookup at a time use it.
    struct Upstream {
        explicit Upstream(const asio::any_io_executor& executor) : permit(executor, 1) {}
        asio::experimental::concurrent_channel<void(error_code)> permit;
        std::unique_ptr<ServerConnection> connection;  // touched only while holding the permit
    };
    class Permit;

    Upstream& upstream_for(const std::string& database);
    std::optional<AuthQueryResult> cached(const std::string& database, const std::string& user);
    awaitable<AuthQueryResult> query(const config::Database& database, Upstream& upstream, const std::string& user);
    awaitable<bool> ensure_connected(const config::Database& database, Upstream& upstream);

    asio::any_io_executor executor_;
    const UpstreamTls& upstream_tls_;
    config::AuthQuery settings_;
    std::mutex mutex_;  // cache_ and upstreams_ (the map, not the connections)
    TtlLruCache<std::pair<std::string, std::string>, AuthQueryResult> cache_;
    std::map<std::string, std::unique_ptr<Upstream>> upstreams_;
};

}  // namespace sluice::proxy
