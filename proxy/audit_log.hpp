#pragma once
// Where the query guard's JSON audit lines go: stdout, a file, or nowhere. Shared by every session
// on every worker thread: each line is one write(2) on an O_APPEND descriptor, so lines never
// interleave. A file moved away by log rotation (logrotate's rename) is noticed within a second
// and opened anew at its path.
#include <chrono>
#include <mutex>
#include <string>
#include <string_view>

namespace sluice::proxy {

class AuditLog {
public:
    // "stdout", "off", or a file path. A file that cannot be opened is an error at start
    // (std::runtime_error naming it); later reopen failures are logged and retried.
    explicit AuditLog(std::string target);
    ~AuditLog();
    AuditLog(const AuditLog&) = delete;
    AuditLog& operator=(const AuditLog&) = delete;

    [[nodiscard]] bool on() const noexcept { return target_ != "off"; }
    // `line` without its newline.
    void write(std::string_view line);

private:
    void reopen_if_rotated();  // with mutex_ held

    const std::string target_;
    std::mutex mutex_;
    int fd_ = -1;
    bool owns_fd_ = false;
    std::chrono::steady_clock::time_point checked_{};
};

}  // namespace sluice::proxy
