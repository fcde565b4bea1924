#include "tests/integration/relay/fault_link.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string_view>

namespace sluice::testing {

namespace {

constexpr std::size_t kMaxPending = 1024 * 1024;  // per direction, before reading stops
constexpr int kPollMs = 10;                       // how fast flags (cut, release, stop) are seen

void set_nonblocking(int fd) { ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK); }

int connect_to(const std::string& host, std::uint16_t port) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 ||
        ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        ::close(fd);
        return -1;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

// Reads what is there into `to`; false on EOF or error (eof tells which).
bool pull(int fd, std::string& to, bool& eof, std::atomic<std::uint64_t>* counter) {
    char buf[64 * 1024];
    for (;;) {
        ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) {
            to.append(buf, static_cast<std::size_t>(n));
            if (counter) *counter += static_cast<std::uint64_t>(n);
            if (to.size() >= kMaxPending) return true;
            continue;
        }
        if (n == 0) {
            eof = true;
            return true;
        }
        if (errno == EINTR) continue;
        return errno == EAGAIN || errno == EWOULDBLOCK;
    }
}

// Writes as much of `from` as the socket takes; false on error.
bool push(int fd, std::string& from) {
    while (!from.empty()) {
        ssize_t n = ::send(fd, from.data(), from.size(), MSG_NOSIGNAL);
        if (n > 0) {
            from.erase(0, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
    }
    return true;
}

}  // namespace

struct FaultLink::Conn {
    int down = -1;  // accepted from sluice
    int up = -1;    // to PostgreSQL
    std::atomic<bool> held{false};
    std::atomic<bool> frozen{false};
    std::atomic<bool> cut{false};
    std::atomic<bool> stop{false};
    std::atomic<bool> closed{false};
    std::atomic<std::uint64_t> c2s{0};
    mutable std::mutex fd_mutex;  // guards down/up against close while the test inspects them
    std::thread thread;
};

FaultLink::FaultLink(std::string upstream_host, std::uint16_t upstream_port)
    : upstream_host_(std::move(upstream_host)), upstream_port_(upstream_port) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (listen_fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        int err = errno;
        ::close(listen_fd_);
        throw std::runtime_error(std::string("FaultLink listen: ") + std::strerror(err));
    }
    port_ = ntohs(addr.sin_port);
    set_nonblocking(listen_fd_);
    acceptor_ = std::thread([this] { accept_loop(); });
}

FaultLink::~FaultLink() {
    stop_ = true;
    if (acceptor_.joinable()) acceptor_.join();
    std::lock_guard lock(mutex_);
    for (auto& c : conns_) {
        c->stop = true;
        if (c->thread.joinable()) c->thread.join();
    }
    ::close(listen_fd_);
}

std::string FaultLink::url(std::string_view database) const {
    return "postgres://127.0.0.1:" + std::to_string(port_) + "/" + std::string(database) + "?sslmode=disable";
}

void FaultLink::accept_loop() {
    while (!stop_) {
        pollfd p{listen_fd_, POLLIN, 0};
        if (::poll(&p, 1, 50) <= 0) continue;
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) continue;
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        auto c = std::make_unique<Conn>();
        c->down = fd;
        c->held = hold_new_.load();
        auto* raw = c.get();
        std::lock_guard lock(mutex_);
        conns_.push_back(std::move(c));
        raw->thread = std::thread([raw, host = upstream_host_, port = upstream_port_] { run(*raw, host, port); });
    }
}

void FaultLink::run(Conn& c, const std::string& host, std::uint16_t port) {
    while (c.held && !c.stop && !c.cut) std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    if (!c.stop && !c.cut) {
        int up = connect_to(host, port);
        std::lock_guard lock(c.fd_mutex);
        c.up = up;
    }
    if (c.up >= 0) {
        set_nonblocking(c.down);
        set_nonblocking(c.up);
        std::string to_up, to_down;
        bool down_eof = false, up_eof = false, up_shut = false, down_shut = false;
        while (!c.stop && !c.cut) {
            const bool frozen = c.frozen;
            pollfd fds[2] = {{c.down, 0, 0}, {c.up, 0, 0}};
            if (!down_eof && !frozen && to_up.size() < kMaxPending) fds[0].events |= POLLIN;
            if (!to_down.empty()) fds[0].events |= POLLOUT;
            if (!up_eof && to_down.size() < kMaxPending) fds[1].events |= POLLIN;
            if (!to_up.empty()) fds[1].events |= POLLOUT;
            int rc = ::poll(fds, 2, kPollMs);
            if (rc < 0 && errno != EINTR) break;
            if (rc <= 0) continue;
            bool ok = true;
            if (fds[0].events & POLLIN && fds[0].revents & (POLLIN | POLLHUP | POLLERR))
                ok = ok && pull(c.down, to_up, down_eof, &c.c2s);
            if (fds[1].events & POLLIN && fds[1].revents & (POLLIN | POLLHUP | POLLERR))
                ok = ok && pull(c.up, to_down, up_eof, nullptr);
            if (!frozen && (fds[0].revents & (POLLERR | POLLNVAL))) ok = false;
            if (fds[1].revents & (POLLERR | POLLNVAL)) ok = false;
            // A frozen side that hangs up: nothing more to wait for.
            if (frozen && (fds[0].revents & (POLLHUP | POLLERR))) ok = false;
            ok = ok && push(c.up, to_up) && push(c.down, to_down);
            if (!ok) break;
            if (down_eof && to_up.empty() && !up_shut) {
                ::shutdown(c.up, SHUT_WR);
                up_shut = true;
            }
            if (up_eof && to_down.empty() && !down_shut) {
                ::shutdown(c.down, SHUT_WR);
                down_shut = true;
            }
            if (up_shut && down_shut) break;
        }
    }
    std::lock_guard lock(c.fd_mutex);
    if (c.cut) {
        linger hard{1, 0};  // close() sends RST
        ::setsockopt(c.down, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    ::close(c.down);
    if (c.up >= 0) ::close(c.up);
    c.down = c.up = -1;
    c.closed = true;
}

FaultLink::Conn& FaultLink::conn(std::size_t i) const {
    std::lock_guard lock(mutex_);
    if (i >= conns_.size()) throw std::out_of_range("FaultLink: no connection " + std::to_string(i));
    return *conns_[i];
}

std::size_t FaultLink::connections() const {
    std::lock_guard lock(mutex_);
    return conns_.size();
}

void FaultLink::release_held() {
    std::lock_guard lock(mutex_);
    for (auto& c : conns_) c->held = false;
}

void FaultLink::freeze_client_to_server(std::size_t i) { conn(i).frozen = true; }
void FaultLink::thaw_client_to_server(std::size_t i) { conn(i).frozen = false; }

std::size_t FaultLink::queued_from_client(std::size_t i) const {
    auto& c = conn(i);
    std::lock_guard lock(c.fd_mutex);
    int n = 0;
    if (c.down < 0 || ::ioctl(c.down, FIONREAD, &n) != 0) return 0;
    return static_cast<std::size_t>(n);
}

std::uint64_t FaultLink::forwarded_client_to_server(std::size_t i) const { return conn(i).c2s.load(); }

void FaultLink::cut(std::size_t i) {
    auto& c = conn(i);
    c.cut = true;
    if (c.thread.joinable()) c.thread.join();
}

bool FaultLink::closed(std::size_t i) const { return conn(i).closed.load(); }

}  // namespace sluice::testing
