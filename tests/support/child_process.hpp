#pragma once
// A child process for tests: spawned with its own argv and environment, stdout+stderr captured in a
// log file the test can wait on, and never outliving the test (the destructor kills it, and the
// kernel kills it if the test process dies first).
#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace sluice::testing {

// The OS identity a child runs as (PostgreSQL refuses to run as root).
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
    // The named user's ids; throws std::runtime_error if there is no such user.
    static RunAs user(const std::string& name);
};
// PostgreSQL and PgBouncer refuse to run as root: as root, the servers the tests start run as the
// `postgres` OS user (and the files they use belong to it); otherwise as the caller.
std::optional<RunAs> server_identity();
// Gives `p` to `who` (nothing when nullopt); throws std::runtime_error on failure.
void chown_to(const std::filesystem::path& p, const std::optional<RunAs>& who);

struct ChildOptions {
    std::vector<std::string> argv;  // argv[0] is looked up on PATH unless it contains a '/'
    // Added to (or replacing entries of) the inherited environment.
    std::vector<std::pair<std::string, std::string>> env;
    // Receives stdout and stderr (appended). Empty: a temporary file, removed with the object.
    std::filesystem::path log_path;
    std::optional<RunAs> run_as;
    std::filesystem::path working_dir;  // empty: inherit
    // SIGKILL the child when the spawning thread dies, so a crashed test leaves no stray server.
    bool die_with_parent = true;
};

struct ExitStatus {
    int code = -1;   // exit code when the process exited normally, else -1
    int signal = 0;  // the signal that ended it, else 0
    [[nodiscard]] bool exited_normally() const noexcept { return signal == 0; }
    [[nodiscard]] bool success() const noexcept { return signal == 0 && code == 0; }
    [[nodiscard]] std::string describe() const;
};

class ChildProcess {
public:
    // Spawns the process; throws std::runtime_error if it cannot be started (including exec failure).
    explicit ChildProcess(ChildOptions options);
    ChildProcess(ChildProcess&& other) noexcept;
    ChildProcess& operator=(ChildProcess&& other) noexcept;
    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;
    // Kills (SIGKILL) and reaps a child that is still running.
    ~ChildProcess();

    [[nodiscard]] pid_t pid() const noexcept { return pid_; }
    [[nodiscard]] bool running();
    // The exit status once the child has been reaped.
    [[nodiscard]] const std::optional<ExitStatus>& exit_status() const noexcept { return status_; }

    // Waits for the child to exit; nullopt if it is still running after `timeout`.
    std::optional<ExitStatus> wait_for_exit(std::chrono::milliseconds timeout);
    // SIGTERM, then SIGKILL if it has not exited after `grace`. Returns how it ended.
    ExitStatus terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
    // SIGKILL and reap.
    ExitStatus kill9();
    // Sends any signal (e.g. SIGHUP for a reload); no-op once reaped.
    void send_signal(int sig);

    [[nodiscard]] const std::filesystem::path& log_path() const noexcept { return log_path_; }
    // The log from byte `from` on.
    [[nodiscard]] std::string log(std::size_t from = 0) const;
    [[nodiscard]] std::size_t log_size() const;
    // Waits until the log (from byte `from` on) matches `pattern`. False on timeout, or when the
    // child exited without the log matching.
    bool wait_for_log(const std::regex& pattern, std::chrono::milliseconds timeout, std::size_t from = 0);
    bool wait_for_log(const std::string& pattern, std::chrono::milliseconds timeout, std::size_t from = 0) {
        return wait_for_log(std::regex(pattern), timeout, from);
    }

private:
    void spawn(ChildOptions options);
    bool reap(bool block);
    void release() noexcept;

    pid_t pid_ = -1;
    std::optional<ExitStatus> status_;
    std::filesystem::path log_path_;
    bool owns_log_ = false;
};

// Runs a command to completion. Throws std::runtime_error if it does not finish within `timeout`
// (after killing it).
ExitStatus run_to_completion(ChildOptions options, std::chrono::milliseconds timeout);

}  // namespace sluice::testing
