#include "tests/support/pgbouncer.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "tests/support/free_port.hpp"
#include "tests/support/wait_until.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kDefaultBinary = "/usr/sbin/pgbouncer";
constexpr int kStartAttempts = 3;  // a free_port() race with another process is retried
constexpr auto kStartTimeout = 20s;
constexpr auto kStopGrace = 10s;
constexpr std::size_t kLogTailOnFailure = 4000;


void write_owned(const fs::path& p, const std::string& text, const std::optional<RunAs>& who) {
    {
        std::ofstream out(p, std::ios::trunc);
        out << text;
        if (!out) throw std::runtime_error("cannot write " + p.string());
    }
    chown_to(p, who);
}

// True once something accepts a TCP connection on 127.0.0.1:port.
bool accepts_connections(std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    ::close(fd);
    return ok;
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

PgBouncer::PgBouncer(const PgCluster& cluster) : PgBouncer(cluster, Options{}) {}

PgBouncer::PgBouncer(const PgCluster& cluster, Options options)
    : options_(std::move(options)), run_as_(server_identity()) {
    // /tmp, not $TMPDIR: the postgres user must be able to traverse every parent directory.
    const char* base_env = std::getenv("SLUICE_TEST_TMPDIR");
    std::string tmpl = std::string(base_env && *base_env ? base_env : "/tmp") + "/sluice-pgbouncer-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    dir_ = tmpl;
    std::string failures;
    try {
        chown_to(dir_, run_as_);
        for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
            std::string failure;
            if (start(cluster, failure)) return;
            failures += failure + "\n";
        }
    } catch (...) {
        destroy();
        throw;
    }
    destroy();
    throw std::runtime_error("PgBouncer did not start:\n" + failures);
}

PgBouncer::~PgBouncer() { destroy(); }

bool PgBouncer::start(const PgCluster& cluster, std::string& failure) {
    port_ = free_port();
    std::string userlist;
    for (const auto& u : options_.users) userlist += "\"" + u + "\" \"\"\n";
    write_owned(dir_ / "userlist.txt", userlist, run_as_);
    write_owned(dir_ / "hba.conf", "host all all 127.0.0.1/32 trust\n", run_as_);
    std::string ini =
        "[databases]\n"
        "* = host=" + cluster.host() + " port=" + std::to_string(cluster.port()) + "\n"
        "\n[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        "listen_port = " + std::to_string(port_) + "\n"
        // No unix socket, no log file, no pid file: the child's log has everything, and the
        // fixture owns the process.
        "unix_socket_dir =\n"
        "logfile =\n"
        "pidfile =\n"
        "auth_type = hba\n"
        "auth_hba_file = " + (dir_ / "hba.conf").string() + "\n"
        "auth_file = " + (dir_ / "userlist.txt").string() + "\n"
        "pool_mode = " + options_.pool_mode + "\n"
        "default_pool_size = " + std::to_string(options_.default_pool_size) + "\n"
        "min_pool_size = 0\n"
        "reserve_pool_size = 0\n"
        "max_client_conn = 1000\n"
        // libpq and drivers send these; PgBouncer refuses a login with a parameter it does not know.
        "ignore_startup_parameters = extra_float_digits,options\n"
        "log_connections = 1\n"
        "log_disconnections = 1\n"
        "log_pooler_errors = 1\n"
        "admin_users = postgres\n";
    for (const auto& line : options_.extra_ini) ini += line + "\n";
    ini_path_ = dir_ / "pgbouncer.ini";
    write_owned(ini_path_, ini, run_as_);

    ChildOptions o;
    const char* bin = std::getenv("SLUICE_PGBOUNCER");
    o.argv = {bin && *bin ? bin : kDefaultBinary, ini_path_.string()};
    o.log_path = dir_ / ("pgbouncer-" + std::to_string(port_) + ".log");
    o.run_as = run_as_;
    o.working_dir = dir_;
    child_.emplace(std::move(o));
    if (wait_until([&] { return !child_->running() || accepts_connections(port_); }, kStartTimeout) &&
        child_->running())
        return true;
    failure = "port " + std::to_string(port_) + ": " +
              (child_->running() ? std::string("no listener in time")
                                 : "exited: " + child_->exit_status()->describe()) +
              "\n" + tail(child_->log(), kLogTailOnFailure);
    child_.reset();
    return false;
}

void PgBouncer::destroy() noexcept {
    if (child_) {
        try {
            if (child_->running()) child_->terminate(kStopGrace);
        } catch (...) {
            // ~ChildProcess kills what terminate() could not stop.
        }
        child_.reset();
    }
    if (!dir_.empty() && !std::getenv("SLUICE_IT_KEEP_LOGS")) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

}  // namespace sluice::testing
