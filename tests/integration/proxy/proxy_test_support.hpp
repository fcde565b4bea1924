#pragma once
// Small helpers shared by the proxy integration tests.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/blocking_client.hpp"
#include "tests/support/cluster_client.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/wait_until.hpp"

namespace sluice::testing {

inline PgCluster& pg() { return PgCluster::shared(); }

// A fresh table every role may use (PostgreSQL 15 lets only owners create in "public").
inline void create_table(const std::string& name, const std::string& columns, const PgCluster& cluster = pg(),
                         std::string_view dbname = "postgres") {
    cluster.exec_superuser("DROP TABLE IF EXISTS " + name + "; CREATE TABLE " + name + " (" + columns +
                               "); GRANT ALL ON " + name + " TO PUBLIC",
                           {}, dbname);
}

// BlockingClient options for logging in to sluice as `role`.
inline ConnectOptions sluice_client(const SluiceProcess& sluice, const PgRole& role,
                                    std::string_view database = "postgres") {
    return connect_options(sluice.host(), sluice.port(), role, database);
}

// The server's error for a login that must fail; nullopt if it succeeded (or failed otherwise).
inline std::optional<ServerError> login_error(const ConnectOptions& o) {
    try {
        BlockingClient::connect(o);
    } catch (const ServerError& e) {
        return e;
    } catch (const ClientError&) {
    }
    return std::nullopt;
}

// Server connections left by an earlier test's sluice are gone (PostgreSQL notices a closed
// socket within milliseconds, but asynchronously).
inline bool wait_no_backends(std::string_view user, const PgCluster& cluster = pg(),
                             std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return wait_until([&] { return cluster.count_backends(user) == 0; }, timeout, std::chrono::milliseconds(50));
}

// ALTER ROLE/DATABASE ... CONNECTION LIMIT for as long as it lives: PostgreSQL itself then
// refuses any server connection past a bound a test asserts (53300), however briefly sluice
// overshoots, where a sampler of pg_stat_activity could miss it between two polls. (Limits
// count only non-superuser backends: the test's own superuser queries are not in the way.)
class ConnectionLimit {
public:
    enum class On { Role, Database };
    ConnectionLimit(On on, std::string_view name, int limit, const PgCluster& cluster = pg())
        : target_(std::string(on == On::Role ? "ROLE " : "DATABASE ") + std::string(name)), cluster_(cluster) {
        cluster_.exec_superuser("ALTER " + target_ + " CONNECTION LIMIT " + std::to_string(limit));
    }
    ConnectionLimit(const ConnectionLimit&) = delete;
    ConnectionLimit& operator=(const ConnectionLimit&) = delete;
    ~ConnectionLimit() {
        try {
            cluster_.exec_superuser("ALTER " + target_ + " CONNECTION LIMIT -1");
        } catch (const std::exception& e) {
            ADD_FAILURE() << "could not lift the connection limit of " << target_ << ": " << e.what();
        }
    }

private:
    std::string target_;
    const PgCluster& cluster_;
};

inline int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    if (!v || !*v) return fallback;
    return std::atoi(v);
}

inline double seconds_since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace sluice::testing
