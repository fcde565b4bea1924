#include "tests/support/pg_cluster.hpp"

#include "tests/support/file_text.hpp"

#include <fcntl.h>
#include <libpq-fe.h>
#include <linux/close_range.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kDefaultBinDir = "/usr/lib/postgresql/15/bin";
constexpr auto kToolTimeout = std::chrono::seconds(120);
constexpr int kPgCtlWaitSeconds = 60;
constexpr int kStartAttempts = 3;  // a free_port() race with another process is retried

std::string quote_conninfo_value(std::string_view v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::string quote_conf_value(const std::string& v) {
    std::string out = "'";
    for (char c : v) {
        if (c == '\'') out.push_back('\'');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}


void write_file(const fs::path& p, const std::string& text, bool append) {
    std::ofstream out(p, append ? std::ios::app : std::ios::trunc);
    out << text;
    if (!out) throw std::runtime_error("cannot write " + p.string());
}

struct PgConnDeleter {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgResultDeleter {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgConnPtr = std::unique_ptr<PGconn, PgConnDeleter>;
using PgResultPtr = std::unique_ptr<PGresult, PgResultDeleter>;

std::string result_error(const PGresult* r, const PGconn* c) {
    std::string msg;
    if (r) {
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const char* text = PQresultErrorMessage(r);
        if (state) msg += std::string("[") + state + "] ";
        if (text) msg += text;
    }
    if (msg.empty() && c) msg = PQerrorMessage(c);
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    return msg;
}

// Shared-instance bookkeeping: built once, destroyed at exit; a failed start is remembered.
struct SharedState {
    std::once_flag once;
    std::unique_ptr<PgCluster> cluster;
    std::exception_ptr failure;
};
SharedState& shared_state() {
    static SharedState state;
    return state;
}

// Runs when the test process is gone (however it ended): the watchdog's stdin is a pipe whose
// write end only the test process holds, so `read` returns at its death. Stops a postmaster
// still running from the data dir (SIGQUIT = immediate shutdown, then SIGKILL) and deletes the
// cluster directory. $1 = data dir, $2 = cluster root.
constexpr const char* kWatchdogScript = R"sh(
read -r _ || true
pid=$(head -n 1 "$1/postmaster.pid" 2>/dev/null)
if [ -n "$pid" ] && [ "$(cat /proc/$pid/comm 2>/dev/null)" = postgres ]; then
  kill -QUIT "$pid" 2>/dev/null
  i=0
  # A zombie (parent not reaping) counts as gone.
  while kill -0 "$pid" 2>/dev/null && ! grep -q '^State:[[:space:]]*Z' /proc/$pid/status 2>/dev/null &&
        [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
  kill -KILL "$pid" 2>/dev/null
fi
rm -rf "$2"
)sh";

}  // namespace

PgCluster& PgCluster::shared() {
    auto& s = shared_state();
    std::call_once(s.once, [&s] {
        try {
            s.cluster = std::make_unique<PgCluster>();
            // Static destruction would also work, but atexit keeps the order explicit: the
            // cluster goes before libc tears down stdio, and before the watchdog's pipe closes.
            std::atexit([] { shared_state().cluster.reset(); });
        } catch (...) {
            s.failure = std::current_exception();
        }
    });
    if (s.failure) std::rethrow_exception(s.failure);
    return *s.cluster;
}

PgCluster::PgCluster() : PgCluster(Options{}) {}

PgCluster::PgCluster(Options options) : options_(std::move(options)) {
    if (options_.bin_dir.empty()) {
        const char* env = std::getenv("SLUICE_PG_BIN");
        options_.bin_dir = env && *env ? env : kDefaultBinDir;
    }
    try {
        init();
    } catch (...) {
        destroy();
        throw;
    }
}

PgCluster::~PgCluster() { destroy(); }

void PgCluster::init() {
    auto who = server_identity();
    // /tmp, not $TMPDIR: the postgres user must be able to traverse every parent directory, and
    // the socket path must stay under the 107-byte sun_path limit.
    const char* base_env = std::getenv("SLUICE_TEST_TMPDIR");
    std::string tmpl = std::string(base_env && *base_env ? base_env : "/tmp") + "/sluice-pg-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp " + tmpl + ": " + std::strerror(errno));
    root_ = tmpl;
    chown_to(root_, who);
    start_watchdog();
    data_dir_ = root_ / "data";
    socket_dir_ = root_ / "sock";
    log_path_ = root_ / "postgres.log";
    tool_log_path_ = root_ / "tools.log";
    fs::create_directory(socket_dir_);
    chown_to(socket_dir_, who);
    write_file(tool_log_path_, "", false);
    chown_to(tool_log_path_, who);

    ChildOptions initdb;
    initdb.argv = {(options_.bin_dir / "initdb").string(), "-D", data_dir_.string(), "-U", "postgres",
                   "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"};
    initdb.env = {{"LC_ALL", "C"}, {"TZ", "UTC"}};
    initdb.log_path = tool_log_path_;
    initdb.run_as = who;
    initdb.working_dir = root_;
    auto st = run_to_completion(std::move(initdb), kToolTimeout);
    if (!st.success())
        throw std::runtime_error("initdb " + st.describe() + ":\n" + file_text(tool_log_path_));

    std::string hba =
        "# Written by sluice's PgCluster test fixture. First match wins.\n"
        "# TYPE  DATABASE  USER  ADDRESS  METHOD\n";
    for (const auto& line : options_.extra_hba) hba += line + "\n";
    hba += "local all postgres trust\n";
    const std::pair<const char*, const char*> per_user[] = {
        {"sluice_trust", "trust"}, {"sluice_md5", "md5"}, {"hc_md5", "md5"}, {"all", "scram-sha-256"}};
    for (const auto& [user, method] : per_user) hba += std::string("local all ") + user + " " + method + "\n";
    for (const char* addr : {"127.0.0.1/32", "::1/128"}) {
        hba += std::string("host all postgres ") + addr + " trust\n";
        for (const auto& [user, method] : per_user)
            hba += std::string("host all ") + user + " " + addr + " " + method + "\n";
    }
    write_file(data_dir_ / "pg_hba.conf", hba, false);

    for (int attempt = 1;; ++attempt) {
        port_ = free_port();
        std::string conf =
            "\n# sluice test fixture\n"
            "listen_addresses = '127.0.0.1'\n"
            "port = " + std::to_string(port_) + "\n"
            "unix_socket_directories = " + quote_conf_value(socket_dir_.string()) + "\n"
            "max_connections = " + std::to_string(options_.max_connections) + "\n"
            // Durability is worthless for a throwaway cluster; speed is not.
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n"
            "shared_buffers = 32MB\n"
            "dynamic_shared_memory_type = mmap\n"
            "log_connections = on\n"
            "log_line_prefix = '%m [%p] %q%u@%d '\n"
            "timezone = 'UTC'\n";
        for (const auto& line : options_.extra_conf) conf += line + "\n";
        // Rewritten on each attempt so only the last port line counts.
        fs::path conf_path = data_dir_ / "postgresql.conf";
        std::string base = file_text(conf_path);
        auto marker = base.find("\n# sluice test fixture\n");
        if (marker != std::string::npos) base.resize(marker);
        write_file(conf_path, base + conf, false);
        std::size_t log_from = log_size();
        try {
            start();
            break;
        } catch (const std::exception&) {
            // Only a port taken since free_port() is worth another try.
            bool port_taken = read_log(log_from).find("could not bind") != std::string::npos;
            if (!port_taken || attempt >= kStartAttempts) throw;
        }
    }
    bootstrap_roles();
}

void PgCluster::bootstrap_roles() {
    // Mirrors shared/clients/targets/bootstrap.sql plus sluice's own test roles. The SET before
    // each group decides which kind of secret PostgreSQL stores (and so which method md5 in
    // pg_hba.conf really uses: md5 with an md5 secret, SCRAM with a SCRAM secret).
    exec_superuser(
        "SET password_encryption = 'scram-sha-256';"
        "CREATE ROLE sluice_scram LOGIN PASSWORD 'scram_pw';"
        "CREATE ROLE clients LOGIN PASSWORD 'clients_pw';"
        "CREATE ROLE hc_scram LOGIN PASSWORD 'scram_pw';"
        "CREATE ROLE sluice_trust LOGIN;"
        "SET password_encryption = 'md5';"
        "CREATE ROLE sluice_md5 LOGIN PASSWORD 'md5_pw';"
        "CREATE ROLE hc_md5 LOGIN PASSWORD 'md5_pw';"
        "GRANT CREATE ON SCHEMA public TO sluice_scram, sluice_md5, sluice_trust;");
    // CREATE DATABASE refuses to run inside the implicit transaction of a multi-statement query.
    exec_superuser("CREATE DATABASE clients OWNER clients");
    exec_superuser("GRANT CONNECT ON DATABASE clients TO hc_md5, hc_scram");
}

void PgCluster::start_watchdog() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
    std::string data = (root_ / "data").string();
    std::string root = root_.string();
    const char* argv[] = {"/bin/sh", "-c", kWatchdogScript, "sluice-pg-watchdog", data.c_str(), root.c_str(), nullptr};
    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(fds[0]);
        ::close(fds[1]);
        throw std::runtime_error(std::string("fork: ") + std::strerror(err));
    }
    if (pid == 0) {
        // Own session: survives a kill of the test's process group, which is when it is needed.
        ::setsid();
        ::dup2(fds[0], STDIN_FILENO);
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            ::dup2(devnull, STDOUT_FILENO);
            ::dup2(devnull, STDERR_FILENO);
        }
        ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
        ::execv("/bin/sh", const_cast<char* const*>(argv));
        ::_exit(127);
    }
    ::close(fds[0]);
    watchdog_pid_ = pid;
    watchdog_fd_ = fds[1];
}

void PgCluster::destroy() noexcept {
    if (!root_.empty() && postmaster_pid()) {
        try {
            pg_ctl({"stop", "-m", "immediate"});
        } catch (...) {
            // The watchdog below kills what pg_ctl could not stop.
        }
    }
    if (watchdog_fd_ >= 0) {
        ::close(watchdog_fd_);  // the watchdog wakes up, kills any leftover postmaster, deletes root_
        watchdog_fd_ = -1;
    }
    if (watchdog_pid_ > 0) {
        int status;
        while (::waitpid(watchdog_pid_, &status, 0) < 0 && errno == EINTR) {
        }
        watchdog_pid_ = -1;
    }
    if (!root_.empty()) {
        std::error_code ec;
        fs::remove_all(root_, ec);
    }
}

void PgCluster::pg_ctl(const std::vector<std::string>& args) {
    ChildOptions o;
    o.argv = {(options_.bin_dir / "pg_ctl").string()};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    for (const char* a : {"-D", data_dir_.c_str()}) o.argv.emplace_back(a);
    o.argv.insert(o.argv.end(), {"-w", "-t", std::to_string(kPgCtlWaitSeconds)});
    if (args.front() == "start" || args.front() == "restart") {
        o.argv.insert(o.argv.end(), {"-l", log_path_.string()});
    }
    o.env = {{"LC_ALL", "C"}, {"TZ", "UTC"}};
    o.log_path = tool_log_path_;
    o.run_as = server_identity();
    o.working_dir = root_;
    std::size_t from = fs::exists(tool_log_path_) ? fs::file_size(tool_log_path_) : 0;
    auto st = run_to_completion(std::move(o), std::chrono::seconds(kPgCtlWaitSeconds + 30));
    if (!st.success()) {
        throw std::runtime_error("pg_ctl " + args.front() + " " + st.describe() + ":\n" +
                                 file_text(tool_log_path_, from) + "\n--- server log tail:\n" +
                                 [&] {
                                     auto log = read_log();
                                     return log.size() > 4000 ? log.substr(log.size() - 4000) : log;
                                 }());
    }
}

void PgCluster::start() { pg_ctl({"start"}); }
void PgCluster::stop_fast() { pg_ctl({"stop", "-m", "fast"}); }
void PgCluster::stop_immediate() { pg_ctl({"stop", "-m", "immediate"}); }
void PgCluster::restart_fast() { pg_ctl({"restart", "-m", "fast"}); }
void PgCluster::reload() { pg_ctl({"reload"}); }

void PgCluster::append_conf(const std::string& line) { write_file(data_dir_ / "postgresql.conf", line + "\n", true); }

std::optional<pid_t> PgCluster::postmaster_pid() const {
    std::ifstream in(data_dir_ / "postmaster.pid");
    long pid = 0;
    if (!(in >> pid) || pid <= 0) return std::nullopt;
    if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return std::nullopt;
    return static_cast<pid_t>(pid);
}

bool PgCluster::is_running() const { return postmaster_pid().has_value(); }

std::string PgCluster::read_log(std::size_t from) const { return file_text(log_path_, from); }

std::size_t PgCluster::log_size() const {
    std::error_code ec;
    auto n = fs::file_size(log_path_, ec);
    return ec ? 0 : static_cast<std::size_t>(n);
}

std::string PgCluster::conninfo(std::string_view user, std::string_view password, std::string_view dbname) const {
    std::string s = "host=" + host_ + " port=" + std::to_string(port_) + " user=" + quote_conninfo_value(user) +
                    " dbname=" + quote_conninfo_value(dbname) + " sslmode=disable connect_timeout=10";
    if (!password.empty()) s += " password=" + quote_conninfo_value(password);
    return s;
}

PgRows PgCluster::exec_superuser(const std::string& sql, const std::vector<std::string>& params,
                                 std::string_view dbname) const {
    std::string ci = "host=" + quote_conninfo_value(socket_dir_.string()) + " port=" + std::to_string(port_) +
                     " user=postgres dbname=" + quote_conninfo_value(dbname) + " connect_timeout=10";
    PgConnPtr conn(PQconnectdb(ci.c_str()));
    if (!conn || PQstatus(conn.get()) != CONNECTION_OK)
        throw std::runtime_error("exec_superuser: cannot connect: " + result_error(nullptr, conn.get()));
    PgResultPtr last;
    if (params.empty()) {
        // PQexec returns only the last result of a multi-statement string, stopping at the first error.
        last.reset(PQexec(conn.get(), sql.c_str()));
    } else {
        std::vector<const char*> values;
        for (const auto& p : params) values.push_back(p.c_str());
        last.reset(PQexecParams(conn.get(), sql.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                                nullptr, nullptr, 0));
    }
    auto status = last ? PQresultStatus(last.get()) : PGRES_FATAL_ERROR;
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK && status != PGRES_EMPTY_QUERY)
        throw std::runtime_error("exec_superuser: " + result_error(last.get(), conn.get()) + "\n  in: " + sql);
    PgRows rows;
    if (status == PGRES_TUPLES_OK) {
        int n = PQntuples(last.get()), m = PQnfields(last.get());
        for (int i = 0; i < n; ++i) {
            auto& row = rows.emplace_back();
            for (int j = 0; j < m; ++j) row.emplace_back(PQgetvalue(last.get(), i, j));
        }
    }
    return rows;
}

int PgCluster::count_backends(std::string_view user) const {
    auto rows = exec_superuser(
        "SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND backend_type = 'client backend' "
        "AND pid <> pg_backend_pid()",
        {std::string(user)});
    return std::stoi(rows.at(0).at(0));
}

int PgCluster::terminate_backends(std::string_view user) const {
    auto rows = exec_superuser(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE usename = $1 AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        {std::string(user)});
    return std::stoi(rows.at(0).at(0));
}

}  // namespace sluice::testing
