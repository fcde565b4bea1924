#pragma once
// A result that a thread of its own (a TLS handshake step, a host name's lookup) hands to a
// coroutine of a worker thread.
//
// With one worker thread the io_context runs without its scheduler's lock
// (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE: ~200 of the ~5,300 instructions of a transaction), so no other
// thread may post to it, and an Asio completion from another thread (a thread_pool's, the
// resolver's) is such a post. The other thread raises an eventfd instead, and the coroutine awaits
// its readiness as it awaits a socket's.
#include <atomic>
#include <memory>

#include "proxy/asio.hpp"

namespace sluice::proxy {

class Handoff {
public:
    // Throws std::system_error when no eventfd can be made (out of descriptors).
    Handoff();
    ~Handoff();
    Handoff(const Handoff&) = delete;
    Handoff& operator=(const Handoff&) = delete;

    // The other thread, once, after it wrote the result: everything written before is seen by
    // the coroutine once its wait() returns.
    void raise() noexcept;
    [[nodiscard]] bool raised() const noexcept { return raised_.load(std::memory_order_acquire); }

    // Awaits raise() on the calling coroutine's executor (a thread that runs it); an error only when
    // the wait could not be made or, if `cancellable`, was cancelled. A wait that must outlive
    // cancellation (the other thread is using something the coroutine owns) passes false.
    static awaitable<error_code> wait(std::shared_ptr<Handoff> handoff, bool cancellable);

private:
    int fd_;
    std::atomic<bool> raised_{false};
};

}  // namespace sluice::proxy
