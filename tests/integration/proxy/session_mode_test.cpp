// Issue #3 acceptance, session mode: a client keeps one server for its whole session (session
// state lives across transactions), and the next client gets that server reset (DISCARD ALL).
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

TEST(ProxySessionMode, SessionStateLastsAndIsDiscardedAtRelease) {
    auto config = SluiceConfig::trust();
    config.pool_mode = "session";
    config.pool_size = 1;
    SluiceProcess sluice(config);

    std::string first_server;
    {
        auto a = pq_connect(sluice.conninfo(kTrustRole.user));
        ASSERT_TRUE(connected(a.get())) << conn_error(a.get());
        first_server = query_value(a.get(), "SELECT pg_backend_pid()");
        exec_ok(a.get(), "CREATE TEMP TABLE session_tmp (x int)");
        exec_ok(a.get(), "INSERT INTO session_tmp VALUES (1), (2)");
        exec_ok(a.get(), "SET work_mem = '7777kB'");
        exec_ok(a.get(), "PREPARE session_stmt AS SELECT 42");
        // Session state survives across transactions and statements.
        exec_ok(a.get(), "BEGIN");
        EXPECT_EQ(query_value(a.get(), "SELECT count(*) FROM session_tmp"), "2");
        exec_ok(a.get(), "COMMIT");
        EXPECT_EQ(query_value(a.get(), "SHOW work_mem"), "7777kB");
        EXPECT_EQ(query_value(a.get(), "EXECUTE session_stmt"), "42");
        EXPECT_EQ(query_value(a.get(), "SELECT pg_backend_pid()"), first_server);
    }
    // Once the client has left, sluice resets its server and gives it back to the pool: wait for
    // that state (the server idle after DISCARD ALL) instead of guessing how long it takes.
    std::string last_query;
    const bool reset = wait_until(
        [&] {
            auto rows = pg().exec_superuser("SELECT state, query FROM pg_stat_activity WHERE pid = $1", {first_server});
            last_query = rows.empty() ? "(server connection closed)" : rows.at(0).at(0) + ": " + rows.at(0).at(1);
            return last_query == "idle: DISCARD ALL";
        },
        std::chrono::seconds(10));
    ASSERT_TRUE(reset) << "the session's server was not reset for the next client; last seen: " << last_query;
    auto b = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(b.get())) << conn_error(b.get());
    EXPECT_EQ(query_value(b.get(), "SELECT pg_backend_pid()"), first_server)
        << "pool size 1: the next client should get the same (reset) server";
    auto r = exec(b.get(), "SELECT count(*) FROM session_tmp");
    EXPECT_EQ(sqlstate(r.get()), "42P01") << "the previous client's temp table survived: " << error_message(r.get());
    EXPECT_NE(query_value(b.get(), "SHOW work_mem"), "7777kB");
    EXPECT_EQ(sqlstate(exec(b.get(), "EXECUTE session_stmt").get()), "26000");
}

TEST(ProxySessionMode, QuitRightAfterLastResultLeavesNothingBehind) {
    auto config = SluiceConfig::trust();
    config.pool_mode = "session";
    config.pool_size = 1;
    SluiceProcess sluice(config);
    int reused = 0;
    for (int i = 0; i < 20; ++i) {
        std::string pid;
        {
            auto a = pq_connect(sluice.conninfo(kTrustRole.user));
            ASSERT_TRUE(connected(a.get())) << conn_error(a.get());
            exec_ok(a.get(), "CREATE TEMP TABLE quick_tmp (x int)");
            pid = query_value(a.get(), "SELECT pg_backend_pid()");
        }  // gone the moment its last result arrived
        auto b = pq_connect(sluice.conninfo(kTrustRole.user));
        ASSERT_TRUE(connected(b.get())) << conn_error(b.get());
        reused += query_value(b.get(), "SELECT pg_backend_pid()") == pid;
        EXPECT_EQ(sqlstate(exec(b.get(), "SELECT * FROM quick_tmp").get()), "42P01") << "round " << i;
    }
    // Pool size 1 and nothing wrong with the server: each next client gets it back, reset.
    EXPECT_EQ(reused, 20) << "the server was replaced instead of reset and reused in " << 20 - reused
                          << " of 20 rounds";
}

}  // namespace
}  // namespace sluice::testing
