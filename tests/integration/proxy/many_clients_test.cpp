// Issue #3 acceptance, fan-in: 1,000 client connections held open on a pool of 5 while 50 of
// them run transactions. Every connection is accepted and stays usable, every transaction
// commits on one server from BEGIN to COMMIT, and PostgreSQL never sees more than 5 server
// connections for the user (it refuses a 6th: CONNECTION LIMIT).
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/proxy/backend_sampler.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kConnections = 1000;
constexpr int kWorkers = 50;
constexpr int kTransactionsEach = 20;
constexpr std::uint32_t kPoolSize = 5;

TEST(ProxyManyClients, ThousandConnectionsOnPoolOfFive) {
    raise_fd_limit();
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("many_clients", "id int primary key, n int not null");
    pg().exec_superuser("INSERT INTO many_clients SELECT g, 0 FROM generate_series(0, " + std::to_string(kWorkers - 1) +
                        ") g");
    auto config = SluiceConfig::trust();
    config.pool_size = kPoolSize;
    config.log_connections = false;
    SluiceProcess sluice(config);
    // PostgreSQL refuses a 6th server connection outright: an overshoot fails a transaction.
    ConnectionLimit limit(ConnectionLimit::On::Role, kTrustRole.user, static_cast<int>(kPoolSize));
    BackendSampler sampler(pg(), std::string(kTrustRole.user));

    std::vector<PgConn> conns;
    conns.reserve(kConnections);
    int rejected = 0;
    std::string first_rejection;
    for (int i = 0; i < kConnections; ++i) {
        conns.push_back(pq_connect(sluice.conninfo(kTrustRole.user, {}, "postgres", "application_name=many")));
        if (!connected(conns.back().get()) && rejected++ == 0) first_rejection = conn_error(conns.back().get());
    }
    ASSERT_EQ(rejected, 0) << rejected << " of " << kConnections << " connections rejected; first: " << first_rejection;

    // Workers use every 20th connection, so the busy ones are spread among idle ones.
    std::atomic<int> committed{0};
    std::mutex mutex;
    std::vector<std::string> errors;
    std::vector<std::thread> threads;
    for (int w = 0; w < kWorkers; ++w) {
        threads.emplace_back([&, w] {
            PGconn* c = conns[static_cast<std::size_t>(w) * (kConnections / kWorkers)].get();
            const std::string id = std::to_string(w);
            auto fail = [&](const std::string& what) {
                std::lock_guard lock(mutex);
                errors.push_back("worker " + id + ": " + what);
            };
            for (int i = 0; i < kTransactionsEach; ++i) {
                // Every statement reports its server: a transaction split across servers (its
                // statements relayed to more than one) shows as two pids.
                std::string server;
                for (const std::string& sql :
                     {std::string("BEGIN"), "UPDATE many_clients SET n = n + 1 WHERE id = " + id + " RETURNING pg_backend_pid()",
                      "SELECT pg_backend_pid(), n FROM many_clients WHERE id = " + id, std::string("SELECT pg_backend_pid()"),
                      std::string("COMMIT")}) {
                    auto r = exec_with_deadline(c, sql, 60s);
                    if (!r.ok()) return fail("tx " + std::to_string(i) + " \"" + sql + "\": " + r.describe());
                    if (PQntuples(r.result.get()) == 0) continue;
                    const std::string pid = PQgetvalue(r.result.get(), 0, 0);
                    if (server.empty()) server = pid;
                    if (pid != server)
                        return fail("transaction " + std::to_string(i) + " ran on servers " + server + " and " + pid);
                    if (PQnfields(r.result.get()) == 2 && PQgetvalue(r.result.get(), 0, 1) != std::to_string(i + 1))
                        return fail(std::string("read n=") + PQgetvalue(r.result.get(), 0, 1) +
                                    " in its own transaction " + std::to_string(i + 1));
                }
                ++committed;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_TRUE(errors.empty()) << errors.size() << " workers failed; first: " << errors.front();
    EXPECT_EQ(committed.load(), kWorkers * kTransactionsEach);
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FILTER (WHERE n = " + std::to_string(kTransactionsEach) +
                                  ") FROM many_clients")
                  .at(0)
                  .at(0),
              std::to_string(kWorkers));

    // The idle ones were never dropped: each still answers.
    int dead = 0;
    for (int i = 0; i < kConnections; ++i) {
        auto r = exec_with_deadline(conns[static_cast<std::size_t>(i)].get(), "SELECT " + std::to_string(i), 10s);
        if (!r.ok() || PQgetvalue(r.result.get(), 0, 0) != std::to_string(i)) ++dead;
    }
    EXPECT_EQ(dead, 0) << dead << " held-open connections no longer work";
    sampler.stop();
    EXPECT_LE(sampler.max(), static_cast<int>(kPoolSize)) << "more server connections than the pool size";
    EXPECT_GT(sampler.samples(), 5);
    EXPECT_EQ(sampler.failures(), 0) << "pg_stat_activity polls failed; last: " << sampler.last_error();
}

}  // namespace
}  // namespace sluice::testing
