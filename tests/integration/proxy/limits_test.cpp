// Issue #3 acceptance, limits: listen.max_client_connections refuses the connection past the
// limit, and timeouts.query_wait bounds how long a client waits for a busy pool. Both answer
// with SQLSTATE 53300, and neither disturbs the clients already being served.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

TEST(ProxyLimits, MaxClientConnections) {
    auto config = SluiceConfig::trust();
    config.max_client_connections = 3;
    SluiceProcess sluice(config);

    std::vector<PgConn> held;
    for (int i = 0; i < 3; ++i) {
        held.push_back(pq_connect(sluice.conninfo(kTrustRole.user)));
        ASSERT_TRUE(connected(held.back().get())) << "connection " << i + 1 << ": " << conn_error(held.back().get());
    }
    auto e = login_error(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(e) << "a 4th connection was accepted with max_client_connections = 3";
    EXPECT_EQ(e->sqlstate(), "53300");
    EXPECT_NE(e->fields().message().find("max_client_connections"), std::string_view::npos) << e->fields().message();
    auto fourth = pq_connect(sluice.conninfo(kTrustRole.user));
    EXPECT_FALSE(connected(fourth.get()));

    // The three are unaffected, and a freed place is usable again.
    for (auto& c : held) EXPECT_EQ(query_value(c.get(), "SELECT 1"), "1");
    held.pop_back();
    bool reconnected = wait_until(
        [&] {
            auto c = pq_connect(sluice.conninfo(kTrustRole.user));
            if (!connected(c.get())) return false;
            held.push_back(std::move(c));
            return true;
        },
        5s, 50ms);
    ASSERT_TRUE(reconnected) << "a place freed by a closed client was not given back";
    EXPECT_EQ(query_value(held.back().get(), "SELECT 2"), "2");
}

TEST(ProxyLimits, QueryWaitTimesOutWhileTheHolderIsUnaffected) {
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "500ms";
    SluiceProcess sluice(config);

    auto holder = pq_connect(sluice.conninfo(kTrustRole.user));
    auto waiter = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(holder.get()) && connected(waiter.get()));
    exec_ok(holder.get(), "BEGIN");
    EXPECT_EQ(query_value(holder.get(), "SELECT 'holding'"), "holding");

    const auto started = Clock::now();
    auto r = exec_with_deadline(waiter.get(), "SELECT 'waited'", 10s);
    const double waited = seconds_since(started);
    ASSERT_FALSE(r.timed_out) << "query_wait did not fire";
    ASSERT_TRUE(r.result) << r.describe();
    EXPECT_EQ(r.state(), "53300") << r.describe();
    EXPECT_NE(error_message(r.result.get()).find("query_wait"), std::string::npos) << error_message(r.result.get());
    // Not before query_wait; no upper bound beyond the 10 s deadline above: a busy machine may be late.
    EXPECT_GE(waited, 0.45);

    // The holder's transaction goes on and commits.
    EXPECT_EQ(query_value(holder.get(), "SELECT 'still holding'"), "still holding");
    exec_ok(holder.get(), "COMMIT");
    // Once the server is free, a new client gets it at once.
    auto next = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(next.get())) << conn_error(next.get());
    auto ok = exec_with_deadline(next.get(), "SELECT 'next'", 5s);
    EXPECT_TRUE(ok.ok()) << ok.describe();
}

}  // namespace
}  // namespace sluice::testing
