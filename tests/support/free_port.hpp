#pragma once
// A TCP port on 127.0.0.1 that was free a moment ago, for servers started by tests.
#include <cstdint>

namespace sluice::testing {

// Binds port 0, reads the port the kernel chose and closes the socket. Another process can take
// it before the caller binds it; the kernel hands out ephemeral ports round-robin, so that
// race is rare enough for tests.
std::uint16_t free_port();

}  // namespace sluice::testing
