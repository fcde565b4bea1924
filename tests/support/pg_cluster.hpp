#pragma once
// A throwaway PostgreSQL 15 cluster for integration tests: initdb into a fresh temp dir, a free
// TCP port on 127.0.0.1 plus a unix socket dir, and the roles every test expects. Never the
// machine's own cluster: tests must not depend on what runs on 5432.
//
// Roles (password -> how PostgreSQL stores it -> pg_hba method on 127.0.0.1 and the socket):
//   postgres      superuser      trust
//   sluice_trust  no password    trust
//   sluice_md5    md5_pw         md5 secret, md5
//   sluice_scram  scram_pw       SCRAM secret, scram-sha-256
//   clients       clients_pw     SCRAM, owns database "clients"     (shared/clients/targets/bootstrap.sql)
//   hc_md5        md5_pw         md5 secret, md5                     (same)
//   hc_scram      scram_pw       SCRAM                               (same)
//   anyone else                  scram-sha-256
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <sys/types.h>

namespace sluice::testing {

// Credentials of the roles PgCluster creates.
struct PgRole {
    std::string_view user;
    std::string_view password;
};
inline constexpr PgRole kSuperuser{"postgres", ""};
inline constexpr PgRole kTrustRole{"sluice_trust", ""};
inline constexpr PgRole kMd5Role{"sluice_md5", "md5_pw"};
inline constexpr PgRole kScramRole{"sluice_scram", "scram_pw"};
inline constexpr PgRole kClientsRole{"clients", "clients_pw"};
inline constexpr PgRole kHcMd5Role{"hc_md5", "md5_pw"};
inline constexpr PgRole kHcScramRole{"hc_scram", "scram_pw"};

using PgRows = std::vector<std::vector<std::string>>;  // SQL NULL reads as ""

class PgCluster {
public:
    struct Options {
        // PostgreSQL binaries; $SLUICE_PG_BIN overrides the default.
        std::filesystem::path bin_dir;
        int max_connections = 300;
        // Extra postgresql.conf lines (appended, so they win).
        std::vector<std::string> extra_conf;
        // Extra pg_hba.conf lines, placed before the defaults (first match wins).
        std::vector<std::string> extra_hba;
    };

    // The cluster shared by all tests of one binary: started on first use, stopped and deleted at
    // process exit. If the process dies without cleaning up, a watchdog process deletes it.
    // A failed start is remembered and rethrown, so later tests fail fast.
    static PgCluster& shared();

    // Creates and starts a private cluster (for tests that must not disturb the shared one).
    PgCluster();
    explicit PgCluster(Options options);
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;
    // Stops the server (immediate mode) and deletes its directory.
    ~PgCluster();

    [[nodiscard]] const std::string& host() const noexcept { return host_; }  // "127.0.0.1"
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] const std::filesystem::path& socket_dir() const noexcept { return socket_dir_; }
    [[nodiscard]] const std::filesystem::path& data_dir() const noexcept { return data_dir_; }
    [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }
    // The server log from byte `from` on (pass log_size() taken earlier to see only new lines).
    [[nodiscard]] std::string read_log(std::size_t from = 0) const;
    [[nodiscard]] std::size_t log_size() const;

    // libpq keyword/value conninfo for a TCP connection to this cluster.
    [[nodiscard]] std::string conninfo(std::string_view user, std::string_view password = {},
                                       std::string_view dbname = "postgres") const;

    // Runs SQL as the superuser over the unix socket. Returns the rows of the last result
    // (NULL as ""). With `params`, `sql` is one statement using $1, $2...; without, it may hold
    // several. Throws std::runtime_error with the server's SQLSTATE and message on error.
    PgRows exec_superuser(const std::string& sql, const std::vector<std::string>& params = {},
                          std::string_view dbname = "postgres") const;

    // pg_ctl restart/stop/start, all waiting (-w) until done.
    void restart_fast();
    void stop_fast();
    // pg_ctl stop -m immediate: every backend quits at once, as in a crash (start() recovers).
    void stop_immediate();
    void start();
    // pg_ctl reload (SIGHUP): picks up edits of extra conf written with append_conf().
    void reload();
    void append_conf(const std::string& line);
    [[nodiscard]] bool is_running() const;
    // The postmaster's pid (from postmaster.pid), nullopt when stopped.
    [[nodiscard]] std::optional<pid_t> postmaster_pid() const;

    // Client backends (pg_stat_activity) logged in as `user`, not counting the query's own.
    int count_backends(std::string_view user) const;
    // pg_terminate_backend() for every client backend of `user`; returns how many.
    int terminate_backends(std::string_view user) const;

private:
    void init();
    void bootstrap_roles();
    void pg_ctl(const std::vector<std::string>& args);
    void start_watchdog();
    void destroy() noexcept;

    Options options_;
    std::string host_ = "127.0.0.1";
    std::uint16_t port_ = 0;
    std::filesystem::path root_;
    std::filesystem::path data_dir_;
    std::filesystem::path socket_dir_;
    std::filesystem::path log_path_;
    std::filesystem::path tool_log_path_;  // initdb / pg_ctl output
    pid_t watchdog_pid_ = -1;
    int watchdog_fd_ = -1;
};

}  // namespace sluice::testing
