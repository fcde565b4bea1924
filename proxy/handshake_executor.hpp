#pragma once
// Where TLS handshakes do their CPU-heavy steps (key exchange, certificate signatures): a thread of
// its own at a lower scheduling priority (nice +10), so that a flood of new TLS connections slows
// new logins down instead of starving the sessions already established on the worker threads.
//
// The thread starts with the first handshake: a sluice that never speaks TLS keeps one thread per
// worker, and with one worker stays a single-threaded process, whose every libc socket call skips
// the cancellation-point bookkeeping a multi-threaded one pays (~35 instructions a call, ~150 a
// transaction: what a single-threaded PgBouncer does not pay either).
#include <memory>
#include <mutex>
#include <optional>

#include "proxy/asio.hpp"

namespace boost::asio {
class thread_pool;
}

namespace sluice::proxy {

// The handshake thread, owned by the Server: started by its first use, and stopped and joined
// before the Server's io_context goes (a handshake step still queued then is abandoned: sluice is
// stopping).
class HandshakeThread {
public:
    HandshakeThread();
    ~HandshakeThread();
    HandshakeThread(const HandshakeThread&) = delete;
    HandshakeThread& operator=(const HandshakeThread&) = delete;

    // Starts the thread if it is not running; nullopt if it cannot be started.
    std::optional<asio::any_io_executor> executor();

private:
    std::mutex mutex_;  // worker threads may start their first handshakes at once
    std::unique_ptr<asio::thread_pool> pool_;
};

// The Server's handshake thread's executor; nullopt when there is none (tests that use a Stream
// without a Server, or no thread could be started): the caller then does the step itself.
std::optional<asio::any_io_executor> handshake_executor();

}  // namespace sluice::proxy
