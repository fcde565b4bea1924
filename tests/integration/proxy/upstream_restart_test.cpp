// Issue #3 acceptance, upstream restart: `pg_ctl restart -m fast` under load. Clients caught
// mid-transaction get an error (never a hang), new queries through sluice work again within a
// second of PostgreSQL accepting connections, and no server connection leaks past the pool size.
// A private cluster: restarting the shared one would disturb the other tests.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/proxy/backend_sampler.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kClients = 20;
constexpr std::uint32_t kPoolSize = 5;

TEST(ProxyUpstreamRestart, FastRestartUnderLoad) {
    PgCluster cluster;
    create_table("restart_load", "id int primary key, n int not null", cluster);
    cluster.exec_superuser("INSERT INTO restart_load SELECT g, 0 FROM generate_series(0, " +
                           std::to_string(kClients - 1) + ") g");
    auto config = SluiceConfig::trust();
    config.pool_size = kPoolSize;
    config.query_wait = "5s";
    config.log_connections = false;
    SluiceProcess sluice(config, cluster);
    // Every libpq wait is bounded: connecting by connect_timeout, statements by exec_with_deadline.
    const std::string conninfo = sluice.conninfo(kTrustRole.user, {}, "postgres", "connect_timeout=3");

    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::mutex mutex;
    std::map<std::string, int> failures;  // SQLSTATE, "connect", "lost" or "TIMEOUT" -> count
    auto count_failure = [&](const std::string& what) {
        std::lock_guard lock(mutex);
        ++failures[what];
    };
    std::vector<std::future<void>> clients;
    for (int k = 0; k < kClients; ++k) {
        clients.push_back(std::async(std::launch::async, [&, k] {
            PgConn c;
            const std::string id = std::to_string(k);
            while (!stop.load()) {
                if (!connected(c.get())) {
                    c = pq_connect(conninfo);
                    if (!connected(c.get())) {
                        count_failure("connect");
                        std::this_thread::sleep_for(20ms);
                        continue;
                    }
                }
                for (const std::string& sql : {std::string("BEGIN"),
                                               "UPDATE restart_load SET n = n + 1 WHERE id = " + id,
                                               std::string("SELECT pg_sleep(0.005)"), std::string("COMMIT")}) {
                    auto r = exec_with_deadline(c.get(), sql, 10s);
                    if (r.ok()) continue;
                    count_failure(r.timed_out ? "TIMEOUT" : !r.state().empty() ? r.state() : "lost");
                    c.reset();  // start over on a new connection
                    break;
                }
                if (c) ++committed;
            }
        }));
    }

    // Whatever way the test leaves this scope, the client threads stop (the futures' destructors
    // wait for them).
    struct StopOnExit {
        std::atomic<bool>& flag;
        ~StopOnExit() { flag = true; }
    } stop_on_exit{stop};

    BackendSampler sampler(cluster, std::string(kTrustRole.user));
    ASSERT_TRUE(wait_until([&] { return committed.load() > 50; }, 20s)) << "no load before the restart";
    const int committed_before = committed.load();

    // A prober notes when PostgreSQL accepts connections again, then how long it takes sluice to
    // serve a new client's query.
    // As the superuser: a direct connection as the pooled role would count against the pool size
    // the sampler checks.
    const std::string direct = cluster.conninfo(kSuperuser.user) + " connect_timeout=2";
    std::atomic<bool> restarting{true};
    auto prober = std::async(std::launch::async, [&]() -> double {
        // "Up again" is the first successful direct connection after one that failed (or, if the
        // prober never caught the server down, the first one after pg_ctl returned).
        bool seen_down = false;
        Clock::time_point up;
        const auto give_up = Clock::now() + 90s;
        for (;;) {
            if (Clock::now() > give_up) return -1;
            const bool restart_done = !restarting.load();
            auto c = pq_connect(direct);
            if (connected(c.get())) {
                if (seen_down || restart_done) {
                    up = Clock::now();
                    break;
                }
            } else {
                seen_down = true;
            }
            std::this_thread::sleep_for(10ms);
        }
        for (;;) {
            auto c = pq_connect(conninfo);
            if (connected(c.get())) {
                auto r = exec_with_deadline(c.get(), "SELECT 'served'", 5s);
                if (r.ok()) return seconds_since(up);
            }
            if (seconds_since(up) > 30) return -1;
            std::this_thread::sleep_for(10ms);
        }
    });

    const auto restart_started = Clock::now();
    cluster.restart_fast();
    restarting = false;
    const auto restarted = Clock::now();
    const double restart_took = seconds_since(restart_started);
    ASSERT_EQ(prober.wait_for(40s), std::future_status::ready) << "the prober hung";
    const double served_after_up = prober.get();

    // Let the load run on the restarted server, then stop; every client thread must come back.
    const int committed_at_restart = committed.load();
    EXPECT_TRUE(wait_until([&] { return committed.load() > committed_at_restart + 50; }, 20s))
        << "load did not resume after the restart";
    // Polls fail while PostgreSQL is down; the pool-size bound must still cover the reconnections
    // after it. Keep the load on until the sampler has looked a few times (50 commits can take
    // less time than a few polls).
    EXPECT_TRUE(wait_until([&] { return sampler.samples_between(restarted, Clock::now()) >= 3; }, 20s))
        << "pg_stat_activity was hardly sampled after the restart (" << sampler.failures()
        << " failed polls; last: " << sampler.last_error() << ")";
    stop = true;
    int hung = 0;
    for (auto& f : clients)
        if (f.wait_for(15s) != std::future_status::ready) ++hung;
    sampler.stop();
    ASSERT_EQ(hung, 0) << hung << " client threads hung";

    std::string summary;
    int errors = 0;
    for (const auto& [what, n] : failures) {
        summary += what + "=" + std::to_string(n) + " ";
        errors += n;
    }
    std::cout << "restart took " << restart_took << " s; served " << served_after_up
              << " s after PostgreSQL was up; commits " << committed_before << " before, " << committed.load()
              << " total; client failures: " << summary << "\n";

    // Served at all (the prober gives up after 30 s); how fast is printed, not asserted: a busy
    // machine may be slow.
    EXPECT_GE(served_after_up, 0) << "sluice never served a new client after the restart";
    EXPECT_GT(errors, 0) << "a fast restart mid-load hit no client at all?";
    EXPECT_EQ(failures.count("TIMEOUT"), 0u) << "statements hung: " << summary;
    // What in-flight clients may see: the server's 57P01, sluice's 08006, or a lost connection.
    // Not 57P03 (cannot_connect_now): that is PostgreSQL refusing a login while it shuts down or
    // starts up, a transient state sluice must ride out within query_wait rather than hand to
    // clients that were merely between transactions.
    for (const auto& [what, n] : failures)
        EXPECT_TRUE(what == "57P01" || what == "08006" || what == "lost" || what == "connect" || what == "08P01")
            << "unexpected failure kind " << what << " (" << n << "x): " << summary
            << (what == "57P03" ? " - a server login refused as \"shutting down\"/\"starting up\" was passed to "
                                  "clients instead of being retried within query_wait"
                                : "");

    EXPECT_LE(sampler.max(), static_cast<int>(kPoolSize)) << "more server connections than the pool size";
    EXPECT_TRUE(wait_until([&] { return cluster.count_backends(kTrustRole.user) <= static_cast<int>(kPoolSize); }, 5s))
        << cluster.count_backends(kTrustRole.user) << " server connections after the load stopped";
    // The pool is whole again: pool-size clients can hold a transaction open at the same time.
    std::vector<PgConn> holders;
    for (std::uint32_t i = 0; i < kPoolSize; ++i) {
        holders.push_back(pq_connect(conninfo));
        ASSERT_TRUE(connected(holders.back().get())) << conn_error(holders.back().get());
        auto r = exec_with_deadline(holders.back().get(), "BEGIN; SELECT 1", 10s);
        ASSERT_TRUE(r.ok()) << "holder " << i << ": " << r.describe();
    }
    EXPECT_EQ(cluster.count_backends(kTrustRole.user), static_cast<int>(kPoolSize));
}

}  // namespace
}  // namespace sluice::testing
