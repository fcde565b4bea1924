// A server connection goes back to the pool only in a reusable state. The tightest spot: a
// client that disconnects the moment its last ReadyForQuery arrives, while sluice may still be
// finishing that transaction's relay. With pool size 1 every client gets that same server, so a
// broken one handed out again shows up as a failed query.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

TEST(ProxyServerReuse, ServerStaysUsableWhenClientsQuitRightAfterTheirLastResult) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    SluiceProcess sluice(config);

    constexpr int kQuitters = 4;
    constexpr int kRounds = 150;
    std::atomic<int> failures{0};
    std::atomic<int> queries{0};
    std::mutex mutex;
    std::string first_failure;
    auto record = [&](const std::string& what) {
        if (failures++ == 0) {
            std::lock_guard lock(mutex);
            first_failure = what;
        }
    };
    std::atomic<bool> quitters_done{false};

    // One long-lived client keeps querying the shared server...
    std::thread steady([&] {
        auto c = pq_connect(sluice.conninfo(kTrustRole.user));
        int i = 0;
        while (!quitters_done.load()) {
            if (!connected(c.get())) {
                record("steady client could not connect: " + conn_error(c.get()));
                return;
            }
            auto r = exec_with_deadline(c.get(), "SELECT 'steady " + std::to_string(i++) + "'", 5s);
            ++queries;
            if (!r.ok()) {
                record("steady client: " + r.describe());
                c = pq_connect(sluice.conninfo(kTrustRole.user));
            }
        }
    });
    // ...while others connect, run one query and hang up at once (PQfinish: Terminate + close).
    std::vector<std::thread> quitters;
    for (int t = 0; t < kQuitters; ++t) {
        quitters.emplace_back([&, t] {
            for (int i = 0; i < kRounds; ++i) {
                auto c = pq_connect(sluice.conninfo(kTrustRole.user));
                if (!connected(c.get())) {
                    record("quitter could not connect: " + conn_error(c.get()));
                    continue;
                }
                auto r = exec_with_deadline(c.get(), "SELECT " + std::to_string(t * 1000 + i), 5s);
                ++queries;
                if (!r.ok()) record("quitter " + std::to_string(t) + " round " + std::to_string(i) + ": " + r.describe());
            }
        });
    }
    for (auto& q : quitters) q.join();
    quitters_done = true;
    steady.join();
    EXPECT_EQ(failures.load(), 0) << failures.load() << " of " << queries.load()
                                  << " queries failed on a server left broken by a client that quit; first: "
                                  << first_failure;
    EXPECT_LE(pg().count_backends(kTrustRole.user), 1);
}

}  // namespace
}  // namespace sluice::testing
