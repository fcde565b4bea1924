#pragma once
// Where TLS handshakes do their CPU-heavy steps (key exchange, certificate signatures): a thread of
// its own at a lower scheduling priority (nice +10), so that a flood of new TLS connections slows
// new logins down instead of starving the sessions already established on the worker threads.
#include "proxy/asio.hpp"

namespace sluice::proxy {

asio::any_io_executor handshake_executor();

}  // namespace sluice::proxy
