#pragma once
// Helpers for the pre-authentication limit tests (issue 7): raw sockets that misbehave the way an
// attacker's would (say nothing, dribble, flood), the packets they send, and what sluice's process
// holds (/proc/PID/fd, VmRSS) so a test can see resources come back.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "protocol/error_fields.hpp"
#include "protocol/startup.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing::limits {

using namespace std::chrono_literals;

// An owned socket descriptor.
class Fd {
public:
    Fd() noexcept = default;
    explicit Fd(int fd) noexcept : fd_(fd) {}
    Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
    Fd& operator=(Fd&& o) noexcept {
        if (this != &o) {
            reset();
            fd_ = std::exchange(o.fd_, -1);
        }
        return *this;
    }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    ~Fd() { reset(); }
    void reset() noexcept {
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
    }
    [[nodiscard]] int get() const noexcept { return fd_; }
    explicit operator bool() const noexcept { return fd_ >= 0; }

private:
    int fd_ = -1;
};

inline sockaddr_in loopback(std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

// A blocking TCP connection to 127.0.0.1:port (throws if refused).
inline Fd tcp_connect(std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    auto a = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    return fd;
}

// A non-blocking TCP connection under way (EINPROGRESS) or made; empty if the socket could not
// be created (EMFILE) or the connect failed at once.
inline Fd tcp_connect_nonblocking(std::uint16_t port) {
    Fd fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return fd;
    auto a = loopback(port);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) return Fd();
    return fd;
}

inline bool send_all(int fd, std::string_view bytes) {
    while (!bytes.empty()) {
        auto n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            pollfd p{fd, POLLOUT, 0};
            ::poll(&p, 1, 1000);
            continue;
        }
        if (n <= 0) return false;
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
}

inline std::string startup_packet(std::string_view user, std::string_view database = "postgres") {
    protocol::StartupMessage m;
    m.version = protocol::kProtocol30;
    m.parameters = {{"user", std::string(user)}, {"database", std::string(database)}};
    std::string out;
    m.encode(out);
    return out;
}

inline std::string cancel_packet(std::int32_t pid = 4242, std::string key = std::string("\1\2\3\4", 4)) {
    std::string out;
    protocol::CancelRequest{pid, std::move(key)}.encode(out);
    return out;
}

// What a peer saw of the connection once sluice was done with it.
struct Outcome {
    bool closed = false;    // EOF or reset seen
    bool timed_out = false; // still open at the deadline
    std::string bytes;      // everything received
    // The SQLSTATE of the first ErrorResponse received, "" if none.
    [[nodiscard]] std::string sqlstate() const { return field('C'); }
    [[nodiscard]] std::string message() const { return field('M'); }
    [[nodiscard]] std::string field(char which) const {
        for (std::size_t i = 0; i + 5 <= bytes.size();) {
            std::uint32_t len = (std::uint32_t(std::uint8_t(bytes[i + 1])) << 24) |
                                (std::uint32_t(std::uint8_t(bytes[i + 2])) << 16) |
                                (std::uint32_t(std::uint8_t(bytes[i + 3])) << 8) | std::uint8_t(bytes[i + 4]);
            if (len < 4 || i + 1 + len > bytes.size()) break;
            if (bytes[i] == 'E') {
                auto fields = protocol::ErrorFields::decode(std::string_view(bytes).substr(i + 5, len - 4));
                if (!fields) return {};
                return std::string(which == 'C' ? fields->code() : fields->message());
            }
            i += 1 + len;
        }
        return {};
    }
};

// Reads until the peer closes (EOF or reset) or `timeout` passes.
inline Outcome read_until_closed(int fd, std::chrono::milliseconds timeout) {
    Outcome o;
    auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[4096];
    for (;;) {
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) {
            o.timed_out = true;
            return o;
        }
        pollfd p{fd, POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left.count()));
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) continue;
        auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) {
            o.bytes.append(buf, static_cast<std::size_t>(n));
        } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            o.closed = true;
            return o;
        }
    }
}

// Descriptors the process holds now.
inline int open_fds(pid_t pid) {
    int n = 0;
    std::error_code ec;
    for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
         !ec && it != std::filesystem::directory_iterator(); it.increment(ec))
        ++n;
    return n;
}

// Resident memory (VmRSS) in KiB, -1 if unreadable.
inline long rss_kib(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    for (std::string line; std::getline(in, line);)
        if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    return -1;
}

}  // namespace sluice::testing::limits
