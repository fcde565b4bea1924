#pragma once
// Small helpers shared by the proxy integration tests.
#include <gtest/gtest.h>

#include <chrono>
#include <exception>
#include <filesystem>
#include <stdexcept>
#include <utility>
#include <vector>
#include <cstdlib>
#include <stdlib.h>
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

// shared/ beside the repository, or $SLUICE_SHARED_DIR: the shared client and guard suites.
inline std::filesystem::path shared_dir() {
    if (const char* env = std::getenv("SLUICE_SHARED_DIR"); env && *env) return std::filesystem::path(env);
    return std::filesystem::path(SLUICE_SOURCE_DIR) / ".." / "shared";
}

// A fresh directory under TMPDIR, removed at the end unless the test failed (kept to look into).
struct ScratchDir {
    std::filesystem::path path;
    explicit ScratchDir(const std::string& prefix = "sluice-test") {
        std::string pattern = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path = pattern;
    }
    ScratchDir(const ScratchDir&) = delete;
    ScratchDir& operator=(const ScratchDir&) = delete;
    ~ScratchDir() {
        std::error_code ec;
        if (!::testing::Test::HasFailure()) std::filesystem::remove_all(path, ec);
    }
};

// The environment shared/clients/run-all.sh expects for the cluster's roles, with its scratch in `tmp`.
inline std::vector<std::pair<std::string, std::string>> client_suite_env(const ScratchDir& tmp) {
    return {{"PGUSER", std::string(kClientsRole.user)},
            {"PGPASSWORD", std::string(kClientsRole.password)},
            {"PGDATABASE", "clients"},
            {"HC_MD5_USER", std::string(kHcMd5Role.user)},
            {"HC_MD5_PASSWORD", std::string(kHcMd5Role.password)},
            {"HC_SCRAM_USER", std::string(kHcScramRole.user)},
            {"HC_SCRAM_PASSWORD", std::string(kHcScramRole.password)},
            {"HC_SSLMODE", "disable"},
            {"HC_BUILD_DIR", (tmp.path / "build").string()},
            {"TMPDIR", tmp.path.string()}};
}

}  // namespace sluice::testing
