#include "tests/integration/auth/fake_upstream.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"

namespace sluice::testing {

namespace p = protocol;

namespace {

constexpr int kReadTimeoutMs = 10'000;

std::uint32_t be32(const char* b) {
    return (std::uint32_t{static_cast<unsigned char>(b[0])} << 24) |
           (std::uint32_t{static_cast<unsigned char>(b[1])} << 16) |
           (std::uint32_t{static_cast<unsigned char>(b[2])} << 8) | std::uint32_t{static_cast<unsigned char>(b[3])};
}

}  // namespace

void FakeUpstreamPeer::read_exact(char* out, std::size_t n) {
    while (n > 0) {
        pollfd pfd{fd_, POLLIN, 0};
        if (::poll(&pfd, 1, kReadTimeoutMs) <= 0) throw std::runtime_error("fake upstream: read timed out");
        auto got = ::recv(fd_, out, n, 0);
        if (got <= 0) throw std::runtime_error("fake upstream: peer closed");
        out += got;
        n -= static_cast<std::size_t>(got);
    }
}

std::string FakeUpstreamPeer::read_startup() {
    for (;;) {
        char len_bytes[4];
        read_exact(len_bytes, 4);
        auto len = be32(len_bytes);
        if (len < 8 || len > 10000) throw std::runtime_error("fake upstream: bad startup length");
        std::string body(len - 4, '\0');
        read_exact(body.data(), body.size());
        if (be32(body.data()) == 80877103) {  // SSLRequest
            send("N");
            continue;
        }
        return body;
    }
}

char FakeUpstreamPeer::read_message(std::string& body) {
    char header[5];
    read_exact(header, 5);
    auto len = be32(header + 1);
    if (len < 4 || len > 1'000'000) throw std::runtime_error("fake upstream: bad message length");
    body.assign(len - 4, '\0');
    read_exact(body.data(), body.size());
    return header[0];
}

void FakeUpstreamPeer::send(std::string_view bytes) {
    while (!bytes.empty()) {
        auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n <= 0) throw std::runtime_error("fake upstream: write failed");
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
}

void FakeUpstreamPeer::send_login_ok() {
    std::string out;
    p::encode_authentication(p::AuthenticationOk{}, out);
    for (auto [name, value] : {std::pair{"server_version", "15.0"}, std::pair{"server_encoding", "UTF8"},
                               std::pair{"client_encoding", "UTF8"}, std::pair{"DateStyle", "ISO, MDY"},
                               std::pair{"integer_datetimes", "on"}, std::pair{"standard_conforming_strings", "on"},
                               std::pair{"TimeZone", "UTC"}})
        p::ParameterStatus{name, value}.encode(out);
    p::BackendKeyData{4242, std::string("\x01\x02\x03\x04", 4)}.encode(out);
    p::ReadyForQuery{p::TxStatus::Idle}.encode(out);
    send(out);
}

void FakeUpstreamPeer::serve_until_terminate() {
    std::string body;
    for (;;) {
        char tag = read_message(body);
        if (tag == 'X') return;
        if (tag == 'Q') {
            std::string out("I\0\0\0\4", 5);
            p::ReadyForQuery{p::TxStatus::Idle}.encode(out);
            send(out);
        }
    }
}

FakeUpstream::FakeUpstream(Script script) : script_(std::move(script)) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (listen_fd_ < 0) throw std::runtime_error("fake upstream: socket failed");
    int one = 1;
    ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;  // the kernel picks a free port: no race with other tests
    if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listen_fd_, 64) != 0)
        throw std::runtime_error("fake upstream: bind/listen failed");
    socklen_t len = sizeof addr;
    ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            pollfd pfd{listen_fd_, POLLIN, 0};
            if (::poll(&pfd, 1, 50) <= 0) continue;
            int fd = ::accept(listen_fd_, nullptr, nullptr);
            if (fd < 0) continue;
            connections_.fetch_add(1);
            // One connection at a time is enough for a login script; each ends by closing.
            try {
                FakeUpstreamPeer peer(fd);
                script_(peer);
            } catch (const std::exception&) {
            }
            ::close(fd);
        }
    });
}

FakeUpstream::~FakeUpstream() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
}

}  // namespace sluice::testing
