#include "tests/integration/tls/sni_relay.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace sluice::testing::tls {
namespace {

bool read_exact(int fd, std::string& out, std::size_t n) {
    while (n > 0) {
        char buf[4096];
        ssize_t got = ::recv(fd, buf, std::min(n, sizeof buf), 0);
        if (got <= 0) return false;
        out.append(buf, static_cast<std::size_t>(got));
        n -= static_cast<std::size_t>(got);
    }
    return true;
}

bool write_all(int fd, const std::string& data) {
    std::size_t done = 0;
    while (done < data.size()) {
        ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
    }
    return true;
}

std::size_t be(const std::string& s, std::size_t at, std::size_t bytes) {
    std::size_t v = 0;
    for (std::size_t i = 0; i < bytes; ++i) v = (v << 8) | static_cast<unsigned char>(s.at(at + i));
    return v;
}

}  // namespace

std::optional<std::string> client_hello_server_name(const std::string& r) {
    try {
        if (r.size() < 9 || r[0] != 0x16 || r[5] != 0x01) return std::nullopt;
        std::size_t p = 5 + 4 + 2 + 32;  // record header, handshake header, version, random
        p += 1 + be(r, p, 1);            // session id
        p += 2 + be(r, p, 2);            // cipher suites
        p += 1 + be(r, p, 1);            // compression methods
        std::size_t end = p + 2 + be(r, p, 2);
        p += 2;
        while (p + 4 <= end) {
            std::size_t type = be(r, p, 2), len = be(r, p + 2, 2);
            if (type == 0) return r.substr(p + 4 + 2 + 1 + 2, be(r, p + 4 + 2 + 1, 2));  // list, type, name
            p += 4 + len;
        }
        return std::string();
    } catch (const std::out_of_range&) {
        return std::nullopt;
    }
}

SniRelay::SniRelay(std::uint16_t upstream_port) : upstream_port_(upstream_port) {
    listener_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (::bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener_, 64) != 0 ||
        ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
        throw std::runtime_error("SniRelay: cannot listen");
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
}

SniRelay::~SniRelay() {
    stopping_ = true;
    ::shutdown(listener_, SHUT_RDWR);
    acceptor_.join();
    {
        std::lock_guard lock(mutex_);
        for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : threads_) t.join();
    std::lock_guard lock(mutex_);
    for (int fd : fds_) ::close(fd);
    ::close(listener_);
}

std::vector<std::string> SniRelay::server_names() const {
    std::lock_guard lock(mutex_);
    return names_;
}

void SniRelay::accept_loop() {
    while (!stopping_) {
        int client = ::accept(listener_, nullptr, nullptr);
        if (client < 0) return;
        std::lock_guard lock(mutex_);
        fds_.push_back(client);
        threads_.emplace_back([this, client] { relay(client); });
    }
}

void SniRelay::relay(int client) {
    int server = ::socket(AF_INET, SOCK_STREAM, 0);
    {
        std::lock_guard lock(mutex_);
        fds_.push_back(server);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(upstream_port_);
    if (::connect(server, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return;
    // SSLRequest (8 bytes) up, the one-byte answer down, then the ClientHello record up.
    std::string request, answer, header;
    if (!read_exact(client, request, 8) || !write_all(server, request)) return;
    if (request.substr(4, 4) == std::string("\x04\xd2\x16\x2f", 4)) {
        if (!read_exact(server, answer, 1) || !write_all(client, answer)) return;
        if (answer == "S" && read_exact(client, header, 5) && read_exact(client, header, be(header, 3, 2))) {
            {
                std::lock_guard lock(mutex_);
                names_.push_back(client_hello_server_name(header).value_or("<not a ClientHello>"));
            }
            if (!write_all(server, header)) return;
        }
    }
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    char buf[16384];
    while (!stopping_) {
        if (::poll(fds, 2, 200) < 0) return;
        for (int i = 0; i < 2; ++i) {
            if (!(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::recv(fds[i].fd, buf, sizeof buf, 0);
            if (n <= 0) {
                ::shutdown(fds[1 - i].fd, SHUT_WR);
                return;
            }
            if (!write_all(fds[1 - i].fd, std::string(buf, static_cast<std::size_t>(n)))) return;
        }
    }
}

}  // namespace sluice::testing::tls
