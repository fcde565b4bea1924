#pragma once
// The mutex of state that sessions on different worker threads share (pools, cancel slots). With
// one worker thread every session, pool hand-off and CancelRequest runs on that thread, so the
// lock is skipped, as Asio skips its per-socket locks then (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO):
// two uncontended lock/unlock pairs per transaction are ~250 of its ~8,000 instructions.
#include <atomic>
#include <mutex>

namespace sluice::proxy {

class WorkerMutex {
public:
    // Set once by the Server, before its threads start and before any lock is taken. Without a
    // Server (unit tests) locks are always taken.
    static void set_single_worker(bool single) noexcept { single_worker_.store(single, std::memory_order_relaxed); }

    // One worker thread runs everything: every session and server socket is on the io_context's
    // own executor, with no strand to bind a completion to.
    static bool single_worker() noexcept { return single_worker_.load(std::memory_order_relaxed); }

    void lock() {
        if (!single_worker()) mutex_.lock();
    }
    void unlock() {
        if (!single_worker()) mutex_.unlock();
    }

private:
    inline static std::atomic<bool> single_worker_{false};
    std::mutex mutex_;
};

}  // namespace sluice::proxy
