#pragma once
// Where TLS handshakes do their CPU-heavy steps (key exchange, certificate signatures): a thread of
// its own at a lower scheduling priority (nice +10), so that a flood of new TLS connections slows
// new logins down instead of starving the sessions already established on the worker threads.
#include <memory>
#include <optional>

#include "proxy/asio.hpp"

namespace boost::asio {
class thread_pool;
}

namespace sluice::proxy {

// The handshake thread, owned by the Server: started with it, and stopped and joined before the
// Server's io_context goes (a handshake step still queued then is abandoned: sluice is stopping).
class HandshakeThread {
public:
    HandshakeThread();
    ~HandshakeThread();
    HandshakeThread(const HandshakeThread&) = delete;
    HandshakeThread& operator=(const HandshakeThread&) = delete;

private:
    std::unique_ptr<asio::thread_pool> pool_;
};

// The running handshake thread's executor; nullopt when there is none (tests that use a Stream
// without a Server): the caller then does the step itself.
std::optional<asio::any_io_executor> handshake_executor();

}  // namespace sluice::proxy
