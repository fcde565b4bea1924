#include "proxy/audit_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

#include <spdlog/spdlog.h>

namespace sluice::proxy {
namespace {

int open_for_append(const std::string& path) {
    return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

AuditLog::AuditLog(std::string target) : target_(std::move(target)) {
    if (target_ == "off") return;
    if (target_ == "stdout") {
        fd_ = STDOUT_FILENO;
        return;
    }
    fd_ = open_for_append(target_);
    if (fd_ < 0) throw std::runtime_error("cannot open guard.audit_log \"" + target_ + "\": " + std::strerror(errno));
    owns_fd_ = true;
    checked_ = std::chrono::steady_clock::now();
}

AuditLog::~AuditLog() {
    if (owns_fd_ && fd_ >= 0) ::close(fd_);
}

void AuditLog::reopen_if_rotated() {
    auto now = std::chrono::steady_clock::now();
    if (now - checked_ < std::chrono::seconds(1)) return;
    checked_ = now;
    struct stat at_path {}, open_file {};
    bool same = fd_ >= 0 && ::stat(target_.c_str(), &at_path) == 0 && ::fstat(fd_, &open_file) == 0 &&
                at_path.st_dev == open_file.st_dev && at_path.st_ino == open_file.st_ino;
    if (same) return;
    int fresh = open_for_append(target_);
    if (fresh < 0) {
        spdlog::error("cannot reopen guard.audit_log \"{}\": {} (audit lines go to the old file until it can be)",
                      target_, std::strerror(errno));
        return;
    }
    if (fd_ >= 0) ::close(fd_);
    fd_ = fresh;
}

void AuditLog::write(std::string_view line) {
    if (!on()) return;
    std::string out;
    out.reserve(line.size() + 1);
    out.append(line);
    out.push_back('\n');
    std::lock_guard lock(mutex_);
    if (owns_fd_) reopen_if_rotated();
    if (fd_ < 0) return;
    std::size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ::write(fd_, out.data() + done, out.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            spdlog::error("cannot write to guard.audit_log \"{}\": {}", target_, std::strerror(errno));
            return;
        }
        done += static_cast<std::size_t>(n);
    }
}

}  // namespace sluice::proxy
