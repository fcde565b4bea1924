#pragma once
// A cap on server connections shared by several pools (all pools of a database, of a user).
// Lock-free: pools on any thread take and give back.
#include <atomic>
#include <cstdint>

namespace sluice::proxy {

class ConnectionBudget {
public:
    explicit ConnectionBudget(std::uint32_t max) noexcept : max_(max) {}
    bool try_take() noexcept {
        auto used = used_.load(std::memory_order_relaxed);
        do {
            if (max_ != 0 && used >= max_) return false;
        } while (!used_.compare_exchange_weak(used, used + 1, std::memory_order_acq_rel));
        return true;
    }
    void give_back() noexcept { used_.fetch_sub(1, std::memory_order_acq_rel); }
    [[nodiscard]] std::uint32_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] bool exhausted() const noexcept { return max_ != 0 && used() >= max_; }

private:
    std::uint32_t max_;  // 0 = unlimited
    std::atomic<std::uint32_t> used_{0};
};

}  // namespace sluice::proxy
