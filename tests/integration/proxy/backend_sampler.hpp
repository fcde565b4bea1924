#pragma once
// Watches how many server connections a user holds on PostgreSQL (pg_stat_activity), every
// `interval` on a background thread, to prove a pool never exceeds its size under load.
//
// A maximum is only as good as the sampling behind it: tests check that enough polls succeeded
// (failures() is zero when the server stayed up) and that they cover the whole load
// (samples_between), rather than a poll rate that a busy machine cannot promise.
#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

class BackendSampler {
public:
    using Clock = std::chrono::steady_clock;

    BackendSampler(const PgCluster& cluster, std::string user,
                   std::chrono::milliseconds interval = std::chrono::milliseconds(50));
    BackendSampler(const BackendSampler&) = delete;
    BackendSampler& operator=(const BackendSampler&) = delete;
    ~BackendSampler() { stop(); }

    void stop();
    [[nodiscard]] int max() const noexcept { return max_.load(); }
    // Polls that succeeded.
    [[nodiscard]] int samples() const;
    // Polls that succeeded and were taken in [from, to).
    [[nodiscard]] int samples_between(Clock::time_point from, Clock::time_point to) const;
    // Polls that failed (the server was down, e.g. during a restart), and the last one's error.
    [[nodiscard]] int failures() const noexcept { return failures_.load(); }
    [[nodiscard]] std::string last_error() const;

private:
    const PgCluster& cluster_;
    std::string user_;
    std::chrono::milliseconds interval_;
    std::atomic<bool> stop_{false};
    std::atomic<int> max_{0};
    std::atomic<int> failures_{0};
    mutable std::mutex mutex_;
    std::vector<Clock::time_point> sample_times_;  // when each successful poll returned
    std::string last_error_;
    std::thread thread_;
};

}  // namespace sluice::testing
