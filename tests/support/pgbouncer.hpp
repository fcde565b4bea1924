#pragma once
// A throwaway PgBouncer (/usr/sbin/pgbouncer, $SLUICE_PGBOUNCER overrides) in front of a
// PgCluster, for tests of sluice in front of an upstream that is itself a pooler: a temp dir with
// pgbouncer.ini, userlist and hba file, a free port on 127.0.0.1, no unix socket, run in the
// foreground as a ChildProcess (its log is the child's log) and stopped on destruction.
//
// Every role logs in with trust (hba), so use roles the cluster trusts too (kTrustRole):
// PgBouncer connects to PostgreSQL as the client's user, without a password.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

class PgBouncer {
public:
    struct Options {
        std::string pool_mode = "transaction";
        int default_pool_size = 2;
        // Roles in the auth_file (PgBouncer wants every login's user there, even with trust).
        std::vector<std::string> users = {std::string(kTrustRole.user), std::string(kSuperuser.user)};
        // More lines for the [pgbouncer] section ("server_round_robin = 1").
        std::vector<std::string> extra_ini;
    };

    // Starts PgBouncer in front of `cluster` (every database of the cluster, by its own name)
    // and waits until it accepts connections. Throws std::runtime_error, with its log, if it
    // does not come up.
    explicit PgBouncer(const PgCluster& cluster);
    PgBouncer(const PgCluster& cluster, Options options);
    PgBouncer(const PgBouncer&) = delete;
    PgBouncer& operator=(const PgBouncer&) = delete;
    // SIGTERM (SIGKILL after a grace period) and the temp dir removed.
    ~PgBouncer();

    [[nodiscard]] const std::string& host() const noexcept { return host_; }  // "127.0.0.1"
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string log(std::size_t from = 0) const { return child_ ? child_->log(from) : std::string(); }
    [[nodiscard]] const std::filesystem::path& ini_path() const noexcept { return ini_path_; }

private:
    bool start(const PgCluster& cluster, std::string& failure);
    void destroy() noexcept;

    Options options_;
    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    std::filesystem::path dir_;
    std::filesystem::path ini_path_;
    std::optional<RunAs> run_as_;
    std::optional<ChildProcess> child_;
};

}  // namespace sluice::testing
