// README claims about the pool limits, checked against a real PostgreSQL: max_db_connections caps
// the servers of one database over all its pools, max_user_connections those of one user over all
// databases, and the reserve pool lends extra servers only to clients that waited reserve_timeout.
// PostgreSQL's own CONNECTION LIMIT backs every bound: an overshoot is refused there (53300 from
// the upstream, "could not connect"), not merely missed between two samples.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/integration/pool/pool_support.hpp"

namespace sluice::testing::pool {
namespace {

using Clock = std::chrono::steady_clock;

TEST(PoolLimits, MaxDbConnectionsCapsEveryPoolOfTheDatabase) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    ASSERT_TRUE(wait_no_backends(kMd5Role.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 5;
    config.query_wait = "3s";  // long enough for a new server to log in under TSan
    config.pool_toml = "max_db_connections = 2\n";
    SluiceProcess sluice(config);
    ConnectionLimit limit(ConnectionLimit::On::Database, "clients", 2);

    // Two pools of database "clients" (one per user) hold the database's two servers.
    auto a = hold_server(sluice, kTrustRole.user, "clients");
    auto b = hold_server(sluice, kMd5Role.user, "clients");
    expect_query_wait_timeout(first_statement(sluice, kTrustRole.user, "clients", "SELECT 1"),
                              "a third server for database \"clients\" (pool size 5, max_db_connections 2)");
    expect_query_wait_timeout(first_statement(sluice, kMd5Role.user, "clients", "SELECT 1"),
                              "a third server for database \"clients\" from the other pool");
    // Another database is not capped.
    auto other_db = first_statement(sluice, kTrustRole.user, "postgres", "SELECT 'other database'");
    EXPECT_TRUE(other_db.ok()) << other_db.describe();

    // A server given back serves the next client of its pool.
    exec_ok(a.conn.get(), "COMMIT");
    auto next = first_statement(sluice, kTrustRole.user, "clients", "SELECT pg_backend_pid()");
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(std::string(PQgetvalue(next.result.get(), 0, 0)), a.server);
    exec_ok(b.conn.get(), "COMMIT");
}

TEST(PoolLimits, MaxUserConnectionsCapsTheUserOverAllDatabases) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 5;
    config.query_wait = "3s";  // long enough for a new server to log in under TSan
    config.pool_toml = "max_user_connections = 2\n";
    SluiceProcess sluice(config);
    ConnectionLimit limit(ConnectionLimit::On::Role, kTrustRole.user, 2);

    auto a = hold_server(sluice, kTrustRole.user, "postgres");
    auto b = hold_server(sluice, kTrustRole.user, "clients");
    expect_query_wait_timeout(first_statement(sluice, kTrustRole.user, "postgres", "SELECT 1"),
                              "a third server for the user (pool size 5, max_user_connections 2)");
    // Another user is not capped.
    auto other_user = first_statement(sluice, kMd5Role.user, "postgres", "SELECT 'other user'");
    EXPECT_TRUE(other_user.ok()) << other_user.describe();

    exec_ok(a.conn.get(), "COMMIT");
    auto next = first_statement(sluice, kTrustRole.user, "postgres", "SELECT pg_backend_pid()");
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(std::string(PQgetvalue(next.result.get(), 0, 0)), a.server);
    exec_ok(b.conn.get(), "COMMIT");
}

// A cap shared by several pools: a server idle in one pool must not starve another pool's
// waiting client until query_wait (PgBouncer closes the idle one to make room).
TEST(PoolLimits, IdleServerOfAnotherPoolMakesRoomUnderASharedCap) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 5;
    config.query_wait = "5s";
    config.pool_toml = "max_user_connections = 1\n";
    SluiceProcess sluice(config);
    // (No CONNECTION LIMIT here: the closed server's backend may not have exited yet when its
    // successor logs in.)

    auto first = first_statement(sluice, kTrustRole.user, "postgres", "SELECT pg_backend_pid()");
    ASSERT_TRUE(first.ok()) << first.describe();
    const std::string idle_server = PQgetvalue(first.result.get(), 0, 0);
    // The user's only server is now idle in pool postgres/sluice_trust; pool clients/sluice_trust
    // needs one.
    auto r = first_statement(sluice, kTrustRole.user, "clients", "SELECT pg_backend_pid()");
    ASSERT_TRUE(r.ok()) << "the idle server of another pool kept the user's only slot: " << r.describe();
    EXPECT_NE(std::string(PQgetvalue(r.result.get(), 0, 0)), idle_server);
    EXPECT_TRUE(wait_until([&] { return server_gone(idle_server); }, 5s));
}

TEST(PoolLimits, ReserveServesOnlyAClientThatWaitedReserveTimeout) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "3s";
    config.pool_toml = "reserve_size = 1\nreserve_timeout = \"500ms\"\n";
    SluiceProcess sluice(config);
    ConnectionLimit limit(ConnectionLimit::On::Role, kTrustRole.user, 2);

    auto a = hold_server(sluice, kTrustRole.user, "postgres");
    auto b = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(b.get())) << conn_error(b.get());
    const auto asked = Clock::now();
    auto begin = exec_with_deadline(b.get(), "BEGIN", 10s);
    const double waited = seconds_since(asked);
    ASSERT_TRUE(begin.ok()) << "the reserve did not serve a client that waited: " << begin.describe();
    // A lower bound only: the reserve must not be used before reserve_timeout.
    EXPECT_GE(waited, 0.45) << "a reserve server was lent before reserve_timeout (500ms)";
    EXPECT_NE(query_value(b.get(), "SELECT pg_backend_pid()"), a.server);
    EXPECT_EQ(pg().count_backends(kTrustRole.user), 2);

    // Pool and reserve both busy: the next client waits out query_wait.
    expect_query_wait_timeout(first_statement(sluice, kTrustRole.user, "postgres", "SELECT 1"),
                              "pool size 1 + reserve 1 both lent");
    exec_ok(b.get(), "COMMIT");
    exec_ok(a.conn.get(), "COMMIT");
    auto after = first_statement(sluice, kTrustRole.user, "postgres", "SELECT 'served'");
    EXPECT_TRUE(after.ok()) << after.describe();
}

}  // namespace
}  // namespace sluice::testing::pool
