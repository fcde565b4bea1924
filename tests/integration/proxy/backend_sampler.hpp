#pragma once
// Watches how many server connections a user holds on PostgreSQL (pg_stat_activity), every
// `interval` on a background thread, to prove a pool never exceeds its size under load.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

class BackendSampler {
public:
    BackendSampler(const PgCluster& cluster, std::string user,
                   std::chrono::milliseconds interval = std::chrono::milliseconds(50));
    BackendSampler(const BackendSampler&) = delete;
    BackendSampler& operator=(const BackendSampler&) = delete;
    ~BackendSampler() { stop(); }

    void stop();
    [[nodiscard]] int max() const noexcept { return max_.load(); }
    [[nodiscard]] int samples() const noexcept { return samples_.load(); }
    // Polls that failed (the server was down, e.g. during a restart).
    [[nodiscard]] int failures() const noexcept { return failures_.load(); }

private:
    const PgCluster& cluster_;
    std::string user_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stop_{false};
    std::atomic<int> max_{0};
    std::atomic<int> samples_{0};
    std::atomic<int> failures_{0};
    std::thread thread_;
};

}  // namespace sluice::testing
