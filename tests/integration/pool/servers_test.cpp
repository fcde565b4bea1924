// README claims about server connections without clients: the pool keeps min_size servers open
// (opened by sluice itself once the pool exists, with no client asking), closes servers idle for
// server_idle_timeout down to min_size, and retires servers older than server_lifetime (an idle
// one by the maintenance sweep, a lent one when its client gives it back, never mid-transaction).
// Pools are made on a user's first login to a database (sluice logs in to PostgreSQL with that
// client's credentials), so each test starts with one client.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/pool/pool_support.hpp"

namespace sluice::testing::pool {
namespace {

int count_matches(const std::string& text, const std::string& needle) {
    int n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
    return n;
}

// Servers of `user` idle for longer than `seconds`, and all of them.
std::pair<int, int> idle_longer_than(std::string_view user, int seconds) {
    auto row = pg().exec_superuser("SELECT count(*) FILTER (WHERE state = 'idle' AND now() - state_change > $2::interval), "
                                   "count(*) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
                                   {std::string(user), std::to_string(seconds) + " s"})
                   .at(0);
    return {std::stoi(row.at(0)), std::stoi(row.at(1))};
}

TEST(PoolServers, MinSizeServersAreOpenedWithoutClients) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 5;
    config.pool_toml = "min_size = 3\n";
    SluiceProcess sluice(config);
    ConnectionLimit limit(ConnectionLimit::On::Role, kTrustRole.user, 5);
    {
        auto first = first_statement(sluice, kTrustRole.user, "postgres", "SELECT 1");
        ASSERT_TRUE(first.ok()) << first.describe();
    }  // the only client is gone: it used one server
    int backends = -1;
    EXPECT_TRUE(wait_until([&] { return (backends = pg().count_backends(kTrustRole.user)) == 3; }, 15s))
        << backends << " server connections with min_size 3 and no client";
    // They are kept, idle, however long nobody uses them (until server_idle_timeout, 10m here).
    std::pair<int, int> idle;
    EXPECT_TRUE(wait_until([&] { return (idle = idle_longer_than(kTrustRole.user, 3)).first == 3; }, 15s))
        << idle.first << " of " << idle.second << " servers stayed idle for 3 s";
    EXPECT_EQ(idle.second, 3);
}

TEST(PoolServers, IdleServersCloseAfterServerIdleTimeoutDownToMinSize) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 4;
    config.pool_toml = "min_size = 1\nserver_idle_timeout = \"1s\"\n";
    SluiceProcess sluice(config);
    {
        std::vector<Holder> holders;
        for (int i = 0; i < 3; ++i) holders.push_back(hold_server(sluice, kTrustRole.user, "postgres"));
        EXPECT_EQ(pg().count_backends(kTrustRole.user), 3);
        for (auto& h : holders) exec_ok(h.conn.get(), "COMMIT");
    }
    int backends = -1;
    EXPECT_TRUE(wait_until([&] { return (backends = pg().count_backends(kTrustRole.user)) == 1; }, 15s))
        << backends << " server connections left; expected min_size (1) after server_idle_timeout (1s)";
    // The last one stays: min_size outranks the idle timeout.
    std::pair<int, int> idle;
    EXPECT_TRUE(wait_until([&] { return (idle = idle_longer_than(kTrustRole.user, 3)).first == 1; }, 15s))
        << "the min_size server did not stay idle for 3 s (" << idle.second << " servers)";
    EXPECT_EQ(idle.second, 1);
    EXPECT_EQ(count_matches(sluice.log(), "server_idle_timeout reached"), 2) << sluice.log();
}

TEST(PoolServers, ServerLifetimeRetiresOldServersButNeverMidTransaction) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 2;
    config.pool_toml = "server_lifetime = \"1s\"\n";
    SluiceProcess sluice(config);
    auto client = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(client.get())) << conn_error(client.get());

    // Idle: the maintenance sweep closes it once it is older than server_lifetime.
    const std::string first = query_value(client.get(), "SELECT pg_backend_pid()");
    EXPECT_TRUE(wait_until([&] { return server_gone(first); }, 15s)) << "an idle server outlived server_lifetime";
    const std::string second = query_value(client.get(), "SELECT pg_backend_pid()");
    EXPECT_NE(second, first);

    // Lent: the transaction keeps its server past server_lifetime, which closes at release.
    exec_ok(client.get(), "BEGIN");
    const std::string lent = query_value(client.get(), "SELECT pg_backend_pid()");
    EXPECT_TRUE(wait_until(
        [&] {
            auto rows = pg().exec_superuser(
                "SELECT now() - backend_start > interval '2 s' FROM pg_stat_activity WHERE pid = $1", {lent});
            return rows.empty() || rows.at(0).at(0) == "t";  // gone: the check below says so
        },
        15s))
        << "the lent server never grew older than server_lifetime";
    EXPECT_EQ(query_value(client.get(), "SELECT pg_backend_pid()"), lent) << "the server was taken mid-transaction";
    exec_ok(client.get(), "COMMIT");
    EXPECT_TRUE(wait_until([&] { return server_gone(lent); }, 15s)) << "a server past server_lifetime was kept";
    EXPECT_NE(query_value(client.get(), "SELECT pg_backend_pid()"), lent);
    EXPECT_GE(count_matches(sluice.log(), "server_lifetime reached"), 2) << sluice.log();
}

}  // namespace
}  // namespace sluice::testing::pool
