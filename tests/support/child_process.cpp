#include "tests/support/child_process.hpp"

#include "tests/support/file_text.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <linux/close_range.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string_view>
#include <thread>

extern char** environ;

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(10);

std::string errno_text(const std::string& what, int err) { return what + ": " + std::strerror(err); }

std::string resolve_program(const std::string& name) {
    if (name.find('/') != std::string::npos) return name;
    const char* path = std::getenv("PATH");
    const std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t start = 0;
    while (start <= dirs.size()) {
        auto end = dirs.find(':', start);
        if (end == std::string_view::npos) end = dirs.size();
        // An empty entry is the current directory. The candidate is built by appending to a
        // string made from a view: g++ 12 at -O3 reports a false -Wrestrict overlap (GCC bug
        // 105329) when a short literal is assigned over a string, as `dir = "."` did.
        const std::string_view dir = end == start ? std::string_view(".") : dirs.substr(start, end - start);
        std::string candidate(dir);
        candidate += '/';
        candidate += name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate;
        start = end + 1;
    }
    throw std::runtime_error("cannot find program '" + name + "' on PATH");
}

std::vector<std::string> merged_environment(const std::vector<std::pair<std::string, std::string>>& overrides) {
    std::vector<std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view entry(*e);
        auto eq = entry.find('=');
        auto name = entry.substr(0, eq);
        bool overridden = false;
        for (const auto& [k, v] : overrides)
            if (k == name) overridden = true;
        if (!overridden) env.emplace_back(entry);
    }
    for (const auto& [k, v] : overrides) env.push_back(k + "=" + v);
    return env;
}

ExitStatus decode_wait_status(int status) {
    ExitStatus s;
    if (WIFEXITED(status)) s.code = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
    return s;
}

// Everything the child does between fork and exec: only async-signal-safe calls, since the test
// process may have other threads (whose locks the child inherits in whatever state they were).
[[noreturn]] void exec_child(const char* program, char* const* argv, char* const* envp, int log_fd, int report_fd,
                             pid_t parent, const ChildOptions& o) {
    auto die = [report_fd](int err) {
        (void)!::write(report_fd, &err, sizeof err);
        ::_exit(127);
    };
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull < 0 || ::dup2(devnull, STDIN_FILENO) < 0) die(errno);
    if (::dup2(log_fd, STDOUT_FILENO) < 0 || ::dup2(log_fd, STDERR_FILENO) < 0) die(errno);
    if (o.run_as) {
        if (::setgroups(0, nullptr) != 0 || ::setgid(o.run_as->gid) != 0 || ::setuid(o.run_as->uid) != 0)
            die(errno);
    }
    // After setuid: a credential change clears the parent-death signal.
    if (o.die_with_parent) {
        if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) die(errno);
        // The parent may already be gone; then nothing would ever deliver the signal.
        if (::getppid() != parent) ::_exit(126);
    }
    if (!o.working_dir.empty() && ::chdir(o.working_dir.c_str()) != 0) die(errno);
    // Descriptors the test process opened without O_CLOEXEC (listening sockets...) must not leak
    // into the child; the report pipe closes on exec too, which tells the parent exec worked.
    ::close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
    ::execve(program, argv, envp);
    die(errno);
    ::_exit(127);  // unreachable; tells the compiler this function never returns
}

}  // namespace

RunAs RunAs::user(const std::string& name) {
    std::vector<char> buf(16384);
    passwd pw{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(name.c_str(), &pw, buf.data(), buf.size(), &found);
    if (rc != 0 || found == nullptr) throw std::runtime_error("no OS user named '" + name + "'");
    return RunAs{pw.pw_uid, pw.pw_gid};
}

std::string ExitStatus::describe() const {
    if (signal != 0) return "killed by signal " + std::to_string(signal) + " (" + ::strsignal(signal) + ")";
    return "exited with code " + std::to_string(code);
}

ChildProcess::ChildProcess(ChildOptions options) {
    if (options.argv.empty()) throw std::invalid_argument("ChildProcess: empty argv");
    try {
        spawn(std::move(options));
    } catch (...) {
        release();  // the destructor does not run for a throwing constructor
        throw;
    }
}

void ChildProcess::spawn(ChildOptions options) {
    if (options.log_path.empty()) {
        std::string tmpl = (std::filesystem::temp_directory_path() / "sluice-child-XXXXXX.log").string();
        int fd = ::mkstemps(tmpl.data(), 4);
        if (fd < 0) throw std::runtime_error(errno_text("ChildProcess: mkstemps", errno));
        ::close(fd);
        options.log_path = tmpl;
        owns_log_ = true;
    }
    log_path_ = options.log_path;

    // Prepare everything that allocates before fork().
    std::string program = resolve_program(options.argv.front());
    std::vector<char*> argv;
    for (auto& a : options.argv) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_strings = merged_environment(options.env);
    std::vector<char*> envp;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);

    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error(errno_text("ChildProcess: open " + log_path_.string(), errno));
    if (options.run_as && ::fchown(log_fd, options.run_as->uid, options.run_as->gid) != 0) {
        int err = errno;
        ::close(log_fd);
        throw std::runtime_error(errno_text("ChildProcess: chown log", err));
    }
    // The child reports a failed exec through this pipe; a successful exec closes it (CLOEXEC).
    int report[2];
    if (::pipe2(report, O_CLOEXEC) != 0) {
        int err = errno;
        ::close(log_fd);
        throw std::runtime_error(errno_text("ChildProcess: pipe", err));
    }

    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        int err = errno;
        ::close(log_fd);
        ::close(report[0]);
        ::close(report[1]);
        throw std::runtime_error(errno_text("ChildProcess: fork", err));
    }
    if (pid == 0) {
        ::close(report[0]);
        exec_child(program.c_str(), argv.data(), envp.data(), log_fd, report[1], parent, options);
    }
    pid_ = pid;
    ::close(log_fd);
    ::close(report[1]);
    int child_errno = 0;
    ssize_t n;
    do {
        n = ::read(report[0], &child_errno, sizeof child_errno);
    } while (n < 0 && errno == EINTR);
    ::close(report[0]);
    if (n == static_cast<ssize_t>(sizeof child_errno)) {
        reap(true);
        pid_ = -1;
        throw std::runtime_error(errno_text("ChildProcess: cannot start " + program, child_errno));
    }
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      status_(std::move(other.status_)),
      log_path_(std::move(other.log_path_)),
      owns_log_(std::exchange(other.owns_log_, false)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
        release();
        pid_ = std::exchange(other.pid_, -1);
        status_ = std::move(other.status_);
        log_path_ = std::move(other.log_path_);
        owns_log_ = std::exchange(other.owns_log_, false);
    }
    return *this;
}

ChildProcess::~ChildProcess() { release(); }

void ChildProcess::release() noexcept {
    if (pid_ > 0 && !status_) {
        ::kill(pid_, SIGKILL);
        reap(true);
    }
    pid_ = -1;
    if (owns_log_) {
        std::error_code ec;
        std::filesystem::remove(log_path_, ec);
        owns_log_ = false;
    }
}

bool ChildProcess::reap(bool block) {
    if (status_) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, block ? 0 : WNOHANG);
    } while (r < 0 && errno == EINTR);
    if (r == pid_) {
        status_ = decode_wait_status(status);
        return true;
    }
    if (r < 0) {
        // Someone else reaped it (should not happen); treat as gone.
        status_ = ExitStatus{};
        return true;
    }
    return false;
}

bool ChildProcess::running() { return pid_ > 0 && !reap(false); }

std::optional<ExitStatus> ChildProcess::wait_for_exit(std::chrono::milliseconds timeout) {
    auto deadline = Clock::now() + timeout;
    while (!reap(false)) {
        if (Clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(kPollInterval);
    }
    return status_;
}

ExitStatus ChildProcess::terminate(std::chrono::milliseconds grace) {
    if (status_) return *status_;
    send_signal(SIGTERM);
    if (auto s = wait_for_exit(grace)) return *s;
    return kill9();
}

ExitStatus ChildProcess::kill9() {
    if (status_) return *status_;
    send_signal(SIGKILL);
    reap(true);
    return *status_;
}

void ChildProcess::send_signal(int sig) {
    if (pid_ > 0 && !status_) ::kill(pid_, sig);
}

std::string ChildProcess::log(std::size_t from) const { return file_text(log_path_, from); }

std::size_t ChildProcess::log_size() const {
    std::error_code ec;
    auto size = std::filesystem::file_size(log_path_, ec);
    return ec ? 0 : static_cast<std::size_t>(size);
}

bool ChildProcess::wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout, std::size_t from) {
    auto deadline = Clock::now() + timeout;
    for (;;) {
        // Check liveness before reading, so output written just before exit is still seen.
        bool exited = !running();
        if (std::regex_search(log(from), pattern)) return true;
        if (exited || Clock::now() >= deadline) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

ExitStatus run_to_completion(ChildOptions options, std::chrono::milliseconds timeout) {
    std::string what = options.argv.empty() ? std::string() : options.argv.front();
    ChildProcess child(std::move(options));
    if (auto s = child.wait_for_exit(timeout)) return *s;
    child.kill9();
    throw std::runtime_error(what + " did not finish within " + std::to_string(timeout.count()) + " ms");
}

std::optional<RunAs> server_identity() {
    if (::geteuid() != 0) return std::nullopt;
    return RunAs::user("postgres");
}

void chown_to(const std::filesystem::path& p, const std::optional<RunAs>& who) {
    if (who && ::chown(p.c_str(), who->uid, who->gid) != 0)
        throw std::runtime_error("chown " + p.string() + ": " + std::strerror(errno));
}

}  // namespace sluice::testing
