// Issue 6, defect 5: the transaction tracker must not expect a ReadyForQuery that never comes.
// Each case sends, through sluice and straight to PostgreSQL, a sequence after which PostgreSQL
// is idle with nothing owed: the client must see exactly what PostgreSQL sends, and the server
// must go back to the pool. With pool size 1, a second client then runs a query while the first
// stays connected and idle; today the server stays pinned to the first client and the second
// gets 53300 after query_wait.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

// Sends `bytes`, then reads until a message tagged `until` (included). Returns the tags read,
// followed by "!<why>" if the stream ended first.
std::string exchange(BlockingClient& c, const std::string& bytes, char until) {
    if (!bytes.empty()) c.send_raw(bytes);
    std::string seen;
    try {
        for (;;) {
            auto m = c.read_message_or_eof();
            if (!m) return seen + "!closed";
            seen.push_back(m->tag);
            if (m->tag == until) return seen;
        }
    } catch (const ClientError& e) {
        return seen + "!" + e.what();
    }
}

ConnectOptions direct_client() {
    auto o = connect_options(pg(), kTrustRole);
    o.timeout = 10s;
    return o;
}

SluiceConfig tracker_config() {
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "3s";
    return config;
}

ConnectOptions client_of(const SluiceProcess& sluice) {
    auto o = sluice_client(sluice, kTrustRole);
    o.timeout = 10s;
    return o;
}

// With the first client connected and idle, a second one must be served.
void expect_second_client_served(const SluiceProcess& sluice) {
    auto second = connect_and_query(client_of(sluice), "select 'second'");
    EXPECT_TRUE(second.ok()) << "the first client, idle, still holds the only server: " << second.describe();
    EXPECT_EQ(second.value(), "second");
}

// libpq's way: Parse/Bind/Describe/Execute/Sync, then the data, CopyDone and Sync again.
// PostgreSQL ignores the first Sync during copy-in: one ReadyForQuery for two Syncs.
TEST(RelayFaults, CopyInViaExtendedProtocolDoesNotPinServer) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("relay_copy_in", "v text");
    const std::string start = parse_msg("COPY relay_copy_in FROM STDIN") + bind_msg() + describe_portal_msg() +
                              execute_msg() + sync_msg();
    const std::string rest = copy_data_msg("row\n") + copy_done_msg() + sync_msg();

    std::string expected;
    {
        auto direct = BlockingClient::connect(direct_client());
        expected = exchange(direct, start, 'G');
        expected += "|" + exchange(direct, rest, 'Z');
    }
    ASSERT_EQ(expected, "12nG|CZ") << "PostgreSQL itself answers differently than this test assumes";
    pg().exec_superuser("TRUNCATE relay_copy_in");
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));  // the direct client's backend

    SluiceProcess sluice(tracker_config());
    auto first = BlockingClient::connect(client_of(sluice));
    std::string seen = exchange(first, start, 'G');
    seen += "|" + exchange(first, rest, 'Z');
    EXPECT_EQ(seen, expected);
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_copy_in"), 1);
    expect_second_client_served(sluice);
    auto again = try_query(first, "select 'first again'");
    EXPECT_TRUE(again.ok()) << again.describe();
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

// After an extended-protocol error PostgreSQL skips everything until Sync, a Query included:
// one ReadyForQuery for a Query and a Sync.
TEST(RelayFaults, QueryBetweenErrorAndSyncDoesNotPinServer) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    const std::string batch = parse_msg("SELEC broken") + query_msg("select 1") + sync_msg();

    std::string expected;
    {
        auto direct = BlockingClient::connect(direct_client());
        expected = exchange(direct, batch, 'Z');
    }
    ASSERT_EQ(expected, "EZ") << "PostgreSQL itself answers differently than this test assumes";
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));  // the direct client's backend

    SluiceProcess sluice(tracker_config());
    auto first = BlockingClient::connect(client_of(sluice));
    EXPECT_EQ(exchange(first, batch, 'Z'), expected);
    expect_second_client_served(sluice);
    auto again = try_query(first, "select 'first again'");
    EXPECT_TRUE(again.ok()) << again.describe();
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

// A CopyData with no COPY running: PostgreSQL ignores it and answers nothing. A FaultLink shows
// when it has reached the server, so the second client asks only after that (today sluice
// attaches the server, forwards the CopyData and then waits for an answer that never comes).
TEST(RelayFaults, CopyDataOutsideCopyDoesNotPinServer) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    const std::string stray = copy_data_msg("stray bytes\n");

    std::string expected;
    {
        auto direct = BlockingClient::connect(direct_client());
        direct.send_raw(stray);
        expected = exchange(direct, query_msg("select 1"), 'Z');
    }
    ASSERT_EQ(expected, "TDCZ") << "PostgreSQL itself answers differently than this test assumes";
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));  // the direct client's backend

    FaultLink link(pg().host(), pg().port());
    auto config = tracker_config();
    route_through(config, link);
    SluiceProcess sluice(config);
    auto first = BlockingClient::connect(client_of(sluice));
    ASSERT_EQ(link.connections(), 1u);
    const auto before = link.forwarded_client_to_server(0);
    first.send_raw(stray);
    // Today it is forwarded at once. A relay may also drop a CopyData no COPY asked for: then it
    // never arrives, and after this bounded wait there is nothing more to wait for.
    wait_until([&] { return link.forwarded_client_to_server(0) >= before + stray.size(); }, 2s);
    expect_second_client_served(sluice);
    EXPECT_EQ(exchange(first, query_msg("select 1"), 'Z'), expected);
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

}  // namespace
}  // namespace sluice::testing::relay
