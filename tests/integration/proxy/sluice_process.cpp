#include "tests/integration/proxy/sluice_process.hpp"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <stdexcept>

#include "tests/support/free_port.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr int kStartAttempts = 3;  // a free_port() race with another process is retried
constexpr auto kStartTimeout = 20s;
constexpr std::size_t kLogTailOnFailure = 8000;
// Longer than sluice's own wait for transactions in flight would be a hang, not a slow exit; a
// test that leaves none open sees sluice exit at once.
constexpr auto kStopGrace = 15s;
// The first line of each sanitizer's report (they write to stderr, which is sluice's log).
constexpr std::string_view kSanitizerReports[] = {"ERROR: AddressSanitizer", "runtime error:",
                                                  "WARNING: ThreadSanitizer", "LeakSanitizer"};

// TOML basic string: quotes and backslashes escaped (test values are plain ASCII).
std::string toml_string(std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

fs::path make_temp_dir() {
    std::string pattern = (fs::temp_directory_path() / "sluice-it-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
        throw std::runtime_error(std::string("mkdtemp: ") + std::strerror(errno));
    return pattern;
}

std::string tail(const std::string& s, std::size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

fs::path sluice_binary() {
    if (const char* env = std::getenv("SLUICE_BIN"); env && *env) return env;
    return fs::path(SLUICE_BINARY_DIR) / "proxy" / "sluice";
}

std::vector<std::pair<std::string, std::string>> preload_env(
    const std::string& shim, std::vector<std::pair<std::string, std::string>> settings) {
    settings.emplace_back("LD_PRELOAD", shim);
    const char* asan = std::getenv("ASAN_OPTIONS");
    settings.emplace_back("ASAN_OPTIONS", std::string(asan ? asan : "") + (asan ? ":" : "") + "verify_asan_link_order=0");
    return settings;
}

void raise_fd_limit() {
    rlimit limit{};
    if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur == limit.rlim_max) return;
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
}

std::vector<std::string> SluiceProcess::thread_names() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& task :
         std::filesystem::directory_iterator("/proc/" + std::to_string(child_->pid()) + "/task", ec)) {
        std::ifstream comm(task.path() / "comm");
        std::string name;
        if (std::getline(comm, name)) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
}

unsigned SluiceConfig::default_workers() {
    const char* text = std::getenv("SLUICE_TEST_WORKERS");
    if (text == nullptr || *text == '\0') return 2;
    int workers = std::atoi(text);
    if (workers < 1 || workers > 64) throw std::runtime_error(std::string("SLUICE_TEST_WORKERS must be 1-64: ") + text);
    return static_cast<unsigned>(workers);
}

std::vector<SluiceUser> SluiceConfig::default_users() {
    std::vector<SluiceUser> users;
    for (const auto& role : {kMd5Role, kScramRole, kClientsRole, kHcMd5Role, kHcScramRole})
        users.push_back({std::string(role.user), std::string(role.password)});
    return users;
}

SluiceConfig SluiceConfig::trust() {
    SluiceConfig c;
    c.auth_method = "trust";
    c.users.push_back({std::string(kTrustRole.user), {}});
    return c;
}

std::string SluiceConfig::to_toml(std::uint16_t listen_port, const PgCluster& cluster) const {
    std::string t;
    t += "[listen]\naddress = \"127.0.0.1\"\nport = " + std::to_string(listen_port) +
         "\nworkers = " + std::to_string(workers) + "\n";
    if (max_client_connections) t += "max_client_connections = " + std::to_string(*max_client_connections) + "\n";
    t += "\n[auth]\nmethod = " + toml_string(auth_method) + "\n";
    for (const auto& u : users) {
        t += "\n[[auth.users]]\nname = " + toml_string(u.name) + "\n";
        if (!u.password.empty()) t += "password = " + toml_string(u.password) + "\n";
        if (auto more = user_toml.find(u.name); more != user_toml.end()) t += more->second;
    }
    t += "\n[pool]\nmode = " + toml_string(pool_mode) + "\nsize = " + std::to_string(pool_size) + "\n" + pool_toml;
    if (!server_connect_timeout.empty()) t += "server_connect_timeout = " + toml_string(server_connect_timeout) + "\n";
    if (!query_wait.empty() || !client_login.empty() || !timeouts_toml.empty()) {
        t += "\n[timeouts]\n";
        if (!query_wait.empty()) t += "query_wait = " + toml_string(query_wait) + "\n";
        if (!client_login.empty()) t += "client_login = " + toml_string(client_login) + "\n";
        t += timeouts_toml;
    }
    t += "\n[logging]\nlevel = " + toml_string(log_level) +
         "\nlog_connections = " + (log_connections ? "true" : "false") + "\n";
    for (const auto& db : databases) {
        // No credentials in the URL: each client's own pass through to PostgreSQL.
        t += "\n[[databases]]\nname = " + toml_string(db) + "\nurl = " +
             toml_string("postgres://" + (upstream_host.empty() ? cluster.host() : upstream_host) + ":" +
                         std::to_string(upstream_port.value_or(cluster.port())) + "/" + db + "?" + upstream_query) +
             "\n" + database_toml;
    }
    t += extra_toml;
    return t;
}

SluiceProcess::SluiceProcess(const SluiceConfig& config, const PgCluster& cluster) : dir_(make_temp_dir()) {
    raise_fd_limit();
    std::string failures;
    for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
        auto port = free_port();
        std::string failure;
        if (start(config.to_toml(port, cluster), port, failure, config.env)) return;
        failures += failure + "\n";
    }
    std::error_code ec;
    fs::remove_all(dir_, ec);
    throw std::runtime_error("sluice did not start:\n" + failures);
}

SluiceProcess::SluiceProcess(const std::string& toml, std::uint16_t port) : dir_(make_temp_dir()) {
    raise_fd_limit();
    std::string failure;
    if (!start(toml, port, failure)) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
        throw std::runtime_error("sluice did not start:\n" + failure);
    }
}

bool SluiceProcess::start(const std::string& toml, std::uint16_t port, std::string& failure,
                          const std::vector<std::pair<std::string, std::string>>& env) {
    auto config_path = dir_ / "sluice.toml";
    {
        std::ofstream out(config_path, std::ios::trunc);
        out << toml;
        if (!out) throw std::runtime_error("cannot write " + config_path.string());
    }
    ChildOptions options;
    options.argv = {sluice_binary().string(), "--config", config_path.string()};
    options.log_path = dir_ / "sluice.log";
    options.env = env;
    std::error_code ec;
    fs::remove(options.log_path, ec);
    child_.emplace(options);
    if (child_->wait_for_log("sluice listening on", kStartTimeout)) {
        port_ = port;
        return true;
    }
    failure = "port " + std::to_string(port) + ":\n" + tail(child_->log(), kLogTailOnFailure);
    child_->terminate(2s);
    child_.reset();
    return false;
}

std::optional<std::string> unclean_exit(const ExitStatus& status, const std::string& log) {
    for (auto report : kSanitizerReports) {
        auto at = log.find(report);
        if (at == std::string::npos) continue;
        auto line_start = log.rfind('\n', at);
        line_start = line_start == std::string::npos ? 0 : line_start + 1;
        return "a sanitizer report in its log (" + status.describe() + "): " +
               log.substr(line_start, std::min<std::size_t>(log.find('\n', at) - line_start, 400));
    }
    if (status.signal == SIGKILL) return "no exit within the grace period after SIGTERM (a hang), so it was killed";
    if (!status.success()) return status.describe();
    return std::nullopt;
}

SluiceProcess::~SluiceProcess() {
    if (child_) {
        // running() reaps a child that already ended (a crash mid-test): its status is checked too.
        const ExitStatus status = child_->running() ? child_->terminate(kStopGrace) : *child_->exit_status();
        if (check_exit_)
            if (auto why = unclean_exit(status, child_->log()))
                ADD_FAILURE() << "sluice did not exit cleanly at SIGTERM: " << *why;
        // In a suite-level fixture there is no current test: look at the suite's failures.
        auto* unit = ::testing::UnitTest::GetInstance();
        bool failed = unit->current_test_info() ? ::testing::Test::HasFailure()
                      : unit->current_test_suite() ? unit->current_test_suite()->failed_test_count() > 0
                                                   : unit->failed_test_count() > 0;
        if (failed)
            std::cerr << "---- sluice log (" << child_->log_path().string() << ", tail) ----\n"
                      << tail(child_->log(), kLogTailOnFailure) << "\n---- end of sluice log ----\n";
        child_.reset();
    }
    if (!std::getenv("SLUICE_IT_KEEP_LOGS")) {
        std::error_code ec;
        fs::remove_all(dir_, ec);
    }
}

ExitStatus SluiceProcess::stop(std::chrono::milliseconds grace) { return child_->terminate(grace); }

std::string SluiceProcess::conninfo(std::string_view user, std::string_view password, std::string_view dbname,
                                    std::string_view extra) const {
    std::string ci = "host=127.0.0.1 port=" + std::to_string(port_) + " user=" + std::string(user) +
                     " dbname=" + std::string(dbname) + " sslmode=disable connect_timeout=10";
    if (!password.empty()) ci += " password=" + std::string(password);
    if (!extra.empty()) ci += " " + std::string(extra);
    return ci;
}

}  // namespace sluice::testing
