// [tcp] keys -> socket options: read back with getsockopt on a real (unconnected) socket.
#include "proxy/tcp_keepalive.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;

int option(tcp::socket& s, int level, int name) {
    int value = -1;
    socklen_t len = sizeof value;
    EXPECT_EQ(::getsockopt(s.native_handle(), level, name, &value, &len), 0);
    return value;
}

struct Sock {
    asio::io_context io;
    tcp::socket socket{io};
    Sock() { socket.open(tcp::v4()); }
};

TEST(TcpKeepalive, ConfiguredTimesAreSet) {
    Sock s;
    config::Tcp tcp;
    tcp.keepalive_idle = 30s;
    tcp.keepalive_interval = 5s;
    tcp.keepalive_count = 4;
    apply_keepalive(s.socket, tcp);
    EXPECT_EQ(option(s.socket, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(option(s.socket, IPPROTO_TCP, TCP_KEEPIDLE), 30);
    EXPECT_EQ(option(s.socket, IPPROTO_TCP, TCP_KEEPINTVL), 5);
    EXPECT_EQ(option(s.socket, IPPROTO_TCP, TCP_KEEPCNT), 4);
}

TEST(TcpKeepalive, ZeroKeepsTheKernelDefaults) {
    Sock plain, configured;
    const int idle = option(plain.socket, IPPROTO_TCP, TCP_KEEPIDLE);
    const int interval = option(plain.socket, IPPROTO_TCP, TCP_KEEPINTVL);
    const int count = option(plain.socket, IPPROTO_TCP, TCP_KEEPCNT);
    apply_keepalive(configured.socket, config::Tcp{});  // keepalive on, everything else 0
    EXPECT_EQ(option(configured.socket, SOL_SOCKET, SO_KEEPALIVE), 1);
    EXPECT_EQ(option(configured.socket, IPPROTO_TCP, TCP_KEEPIDLE), idle);
    EXPECT_EQ(option(configured.socket, IPPROTO_TCP, TCP_KEEPINTVL), interval);
    EXPECT_EQ(option(configured.socket, IPPROTO_TCP, TCP_KEEPCNT), count);
}

TEST(TcpKeepalive, OffClearsSoKeepalive) {
    Sock s;
    config::Tcp on;
    apply_keepalive(s.socket, on);
    config::Tcp off;
    off.keepalive = false;
    off.keepalive_idle = 30s;  // ignored when off
    apply_keepalive(s.socket, off);
    EXPECT_EQ(option(s.socket, SOL_SOCKET, SO_KEEPALIVE), 0);
}

}  // namespace
}  // namespace sluice::proxy
