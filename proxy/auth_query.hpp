#pragma once
// Looks up the password secret of users that are not in the configuration, in the upstream
// itself (PgBouncer's auth_query), over a dedicated connection as auth_query.user. The connection
// pins search_path to pg_catalog, so an unqualified name in the query cannot be hijacked by a
// table in a schema the looked-up user controls (PgBouncer CVE-2025-12819). Results, including
// "no such user", are cached for auth_query.cache_ttl.
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "config/model.hpp"
#include "proxy/asio.hpp"

namespace sluice::proxy {

struct AuthQueryResult {
    std::optional<std::string> secret;  // "md5..." or "SCRAM-SHA-256$..."; nullopt: may not log in
    std::string reason;                 // why not (for the log only: the client is told less)
};

class AuthQueryCache {
public:
    explicit AuthQueryCache(config::AuthQuery settings) : settings_(std::move(settings)) {}

    awaitable<AuthQueryResult> lookup(const config::Database& database, const std::string& user);

private:
    awaitable<AuthQueryResult> query(const config::Database& database, const std::string& user);

    struct Entry {
        AuthQueryResult result;
        Clock::time_point expires;
    };
    config::AuthQuery settings_;
    std::mutex mutex_;
    std::map<std::pair<std::string, std::string>, Entry> cache_;
};

}  // namespace sluice::proxy
