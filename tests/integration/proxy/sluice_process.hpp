#pragma once
// The real sluice binary in front of a test PostgreSQL: a TOML config written into a temp dir,
// the process started with ChildProcess, ready once it logs "sluice listening on", stopped with
// SIGTERM when the object goes away. Tests talk to it over TCP like any client would.
//
// Every test that runs sluice also checks how it ended: the destructor stops it with SIGTERM and
// adds a test failure unless it exited 0 with no sanitizer report in its log (stderr goes to the
// log, and so do ASan/UBSan/TSan/LSan reports). A leak, a race at shutdown or a shutdown that
// hangs then fails the test that caused it, not only a crash mid-test.
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <utility>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/child_process.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

struct SluiceUser {
    std::string name;
    std::string password;  // empty: no password key (trust)
};

// What tests vary; everything else keeps sluice's defaults. to_toml() renders it.
struct SluiceConfig {
    std::string auth_method = "scram-sha-256";  // trust | md5 | scram-sha-256
    // Defaults to every PgCluster role that has a password (see trust() for sluice_trust).
    std::vector<SluiceUser> users = default_users();
    std::string pool_mode = "transaction";
    std::uint32_t pool_size = 10;
    // 2 unless SLUICE_TEST_WORKERS says otherwise: one worker runs Asio without its locks (nothing
    // may post to it from another thread), several share pools through strands and mutexes, and
    // scripts/test.sh runs the suites both ways.
    unsigned workers = default_workers();
    std::optional<std::uint32_t> max_client_connections;
    std::string query_wait;  // a duration ("500ms"); empty: sluice's default
    std::string client_login;            // timeouts.client_login; empty: sluice's default
    std::string server_connect_timeout;  // pool.server_connect_timeout; empty: sluice's default
    // Where the databases' URLs point; nullopt: the cluster's port (a test may point them at a
    // port nothing listens on, or at a listener that never answers).
    std::optional<std::uint16_t> upstream_port;
    // The databases' URLs: host (empty: the cluster's) and query string.
    std::string upstream_host;
    std::string upstream_query = "sslmode=disable";
    // Databases served, each forwarded to the database of the same name on the cluster.
    std::vector<std::string> databases = {"postgres", "clients"};
    std::string database_toml;  // more lines for every [[databases]] entry ("upstream_pooler = true\n")
    std::string log_level = "info";  // must stay "info" or lower: the start waits for an info line
    bool log_connections = true;
    std::string pool_toml;      // more [pool] lines ("min_size = 2\n")
    std::string timeouts_toml;  // more [timeouts] lines ("client_login = \"500ms\"\n")
    std::string extra_toml;     // appended verbatim (more sections)
    // More lines for one user's [[auth.users]] entry, by name ({"u", "session_state = \"pin\"\n"}).
    std::map<std::string, std::string> user_toml;
    // Added to sluice's environment (an LD_PRELOAD shim and its settings).
    std::vector<std::pair<std::string, std::string>> env;

    static std::vector<SluiceUser> default_users();
    static unsigned default_workers();
    // auth.method "trust" with the default users plus sluice_trust: for tests that open many
    // connections (a SCRAM login costs 4096 HMAC rounds on each side).
    static SluiceConfig trust();
    [[nodiscard]] std::string to_toml(std::uint16_t listen_port, const PgCluster& cluster) const;
};

class SluiceProcess {
public:
    // Starts sluice with `config` in front of `cluster` on a free port (retrying if another
    // process takes the port first). Throws std::runtime_error, with the log, if it does not come up.
    explicit SluiceProcess(const SluiceConfig& config, const PgCluster& cluster = PgCluster::shared());
    // Starts sluice with a complete TOML text that listens on `port`.
    SluiceProcess(const std::string& toml, std::uint16_t port);
    SluiceProcess(const SluiceProcess&) = delete;
    SluiceProcess& operator=(const SluiceProcess&) = delete;
    // SIGTERM (SIGKILL after a grace period), then the clean-exit check above (a non-fatal gtest
    // failure: destructors cannot throw). If the current test failed, the tail of sluice's log
    // goes to stderr: the first thing anyone debugging the failure needs.
    ~SluiceProcess();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string host() const { return "127.0.0.1"; }
    [[nodiscard]] std::string log(std::size_t from = 0) const { return child_->log(from); }
    [[nodiscard]] std::size_t log_size() const { return child_->log_size(); }
    bool wait_for_log(const std::string& pattern, std::chrono::milliseconds timeout, std::size_t from = 0) {
        return child_->wait_for_log(pattern, timeout, from);
    }
    [[nodiscard]] bool running() { return child_->running(); }
    [[nodiscard]] ChildProcess& process() { return *child_; }
    // The names of sluice's threads now (/proc/PID/task/*/comm), sorted.
    [[nodiscard]] std::vector<std::string> thread_names() const;

    // libpq conninfo for a client of this sluice; `extra` is appended ("application_name=x ...").
    [[nodiscard]] std::string conninfo(std::string_view user, std::string_view password = {},
                                       std::string_view dbname = "postgres", std::string_view extra = {}) const;

    // Stops sluice now (SIGTERM, then SIGKILL after `grace`). The destructor still checks the
    // exit, unless the test opted out.
    ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(15));
    // Only for a test that ends sluice itself on purpose (SIGKILL, a provoked crash): the
    // destructor then does not check the exit status and log.
    void skip_exit_check() noexcept { check_exit_ = false; }

private:
    bool start(const std::string& toml, std::uint16_t port, std::string& failure,
               const std::vector<std::pair<std::string, std::string>>& env = {});

    std::filesystem::path dir_;
    std::uint16_t port_ = 0;
    std::optional<ChildProcess> child_;
    bool check_exit_ = true;
};

// Why an exit of sluice at SIGTERM was not clean (a non-zero status, a signal, a sanitizer
// report in `log`); nullopt when it was.
std::optional<std::string> unclean_exit(const ExitStatus& status, const std::string& log);

// The path of the sluice binary under test ($SLUICE_BIN overrides the build tree's).
std::filesystem::path sluice_binary();

// sluice's environment for an LD_PRELOAD shim: the shim and the settings it reads. An ASan build's
// runtime checks that it is loaded first; the shim is not instrumented, and is let come before it.
std::vector<std::pair<std::string, std::string>> preload_env(
    const std::string& shim, std::vector<std::pair<std::string, std::string>> settings);

// Raises RLIMIT_NOFILE to the hard limit (for this process and every child started after), so
// that a thousand clients, pgbench -c 200 and sluice itself do not run out of descriptors.
void raise_fd_limit();

}  // namespace sluice::testing
