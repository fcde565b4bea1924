#pragma once
// Polls a condition until it holds or a deadline passes: for state that settles asynchronously
// (a backend exiting, a log line appearing). Prefer it to fixed sleeps.
#include <chrono>
#include <thread>

namespace sluice::testing {

template <class Predicate>
bool wait_until(Predicate&& done, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = std::chrono::milliseconds(20)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= deadline) return false;
        std::this_thread::sleep_for(interval);
    }
}

}  // namespace sluice::testing
