#include "proxy/tcp_keepalive.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>

namespace sluice::proxy {

namespace {

using KeepIdle = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>;
using KeepInterval = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>;
using KeepCount = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>;

int whole_seconds(config::Duration d) noexcept {
    return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(d).count());
}

}  // namespace

void apply_keepalive(tcp::socket& socket, const config::Tcp& tcp) noexcept {
    error_code ec;
    socket.set_option(asio::socket_base::keep_alive(tcp.keepalive), ec);
    if (!tcp.keepalive) return;
    // Zero keeps the kernel's default (net.ipv4.tcp_keepalive_*).
    if (tcp.keepalive_idle.count() > 0) socket.set_option(KeepIdle(whole_seconds(tcp.keepalive_idle)), ec);
    if (tcp.keepalive_interval.count() > 0) socket.set_option(KeepInterval(whole_seconds(tcp.keepalive_interval)), ec);
    if (tcp.keepalive_count > 0) socket.set_option(KeepCount(static_cast<int>(tcp.keepalive_count)), ec);
}

}  // namespace sluice::proxy
