#include "tests/integration/proxy/backend_sampler.hpp"

#include <exception>

namespace sluice::testing {

BackendSampler::BackendSampler(const PgCluster& cluster, std::string user, std::chrono::milliseconds interval)
    : cluster_(cluster), user_(std::move(user)), interval_(interval) {
    thread_ = std::thread([this] {
        while (!stop_.load()) {
            try {
                int n = cluster_.count_backends(user_);
                int seen = max_.load();
                while (n > seen && !max_.compare_exchange_weak(seen, n)) {
                }
                ++samples_;
            } catch (const std::exception&) {
                ++failures_;
            }
            std::this_thread::sleep_for(interval_);
        }
    });
}

void BackendSampler::stop() {
    stop_.store(true);
    if (thread_.joinable()) thread_.join();
}

}  // namespace sluice::testing
