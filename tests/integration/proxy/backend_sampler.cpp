#include "tests/integration/proxy/backend_sampler.hpp"

#include <algorithm>
#include <exception>

namespace sluice::testing {

BackendSampler::BackendSampler(const PgCluster& cluster, std::string user, std::chrono::milliseconds interval)
    : cluster_(cluster), user_(std::move(user)), interval_(interval) {
    sample_times_.reserve(4096);
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            try {
                int n = cluster_.count_backends(user_);
                int seen = max_.load();
                while (n > seen && !max_.compare_exchange_weak(seen, n)) {
                }
                std::lock_guard lock(mutex_);
                sample_times_.push_back(Clock::now());
            } catch (const std::exception& e) {
                ++failures_;
                std::lock_guard lock(mutex_);
                last_error_ = e.what();
            }
            std::this_thread::sleep_for(interval_);
        }
    });
}

void BackendSampler::stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
}

int BackendSampler::samples() const {
    std::lock_guard lock(mutex_);
    return static_cast<int>(sample_times_.size());
}

int BackendSampler::samples_between(Clock::time_point from, Clock::time_point to) const {
    std::lock_guard lock(mutex_);
    // Appended in time order by the one sampling thread.
    auto first = std::lower_bound(sample_times_.begin(), sample_times_.end(), from);
    auto last = std::lower_bound(first, sample_times_.end(), to);
    return static_cast<int>(last - first);
}

std::string BackendSampler::last_error() const {
    std::lock_guard lock(mutex_);
    return last_error_;
}

}  // namespace sluice::testing
