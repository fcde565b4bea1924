#pragma once
// TCP keepalive ([tcp] keys) on every client socket sluice accepts and every server connection it
// opens: a peer that vanished without a FIN or RST (host powered off, NAT entry dropped) is found
// within idle + interval * count instead of holding a client or pool slot for hours.
#include "config/model.hpp"
#include "proxy/asio.hpp"

namespace sluice::proxy {

// Sets SO_KEEPALIVE and, where configured (non-zero), TCP_KEEPIDLE, TCP_KEEPINTVL and TCP_KEEPCNT.
// Best effort: a socket the peer already closed may refuse options; that is not an error here,
// it fails at its next read or write.
void apply_keepalive(tcp::socket& socket, const config::Tcp& tcp) noexcept;

}  // namespace sluice::proxy
