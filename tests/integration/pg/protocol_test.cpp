// Protocol-level behaviour of real PostgreSQL as seen through BlockingClient's raw access:
// cancellation, SSLRequest, bad startup packets, Terminate, read deadlines.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "protocol/sqlstate.hpp"
#include "protocol/startup.hpp"
#include "tests/support/cluster_client.hpp"
#include "tests/support/wait_until.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = sluice::protocol;

PgCluster& pg() { return PgCluster::shared(); }

QueryResult collect(BlockingClient& c) {
    QueryResult r;
    for (auto& m : c.read_until_ready()) {
        if (m.tag == 'E') r.error = proto::ErrorResponse::decode(m.body)->fields;
        if (m.tag == 'Z') r.tx_status = proto::ReadyForQuery::decode(m.body)->status;
    }
    return r;
}

TEST(Protocol, CancelRequestStopsARunningQuery) {
    auto victim = BlockingClient::connect(connect_options(pg(), kScramRole));
    auto pid = std::to_string(victim.backend_pid());
    std::string q;
    proto::Query{"SELECT pg_sleep(30)"}.encode(q);
    auto started = std::chrono::steady_clock::now();
    victim.send_raw(q);
    ASSERT_TRUE(wait_until(
        [&] {
            auto rows = pg().exec_superuser("SELECT state, wait_event FROM pg_stat_activity WHERE pid = " + pid);
            return !rows.empty() && rows[0][0] == "active" && rows[0][1] == "PgSleep";
        },
        10s));
    victim.cancel(pg().host(), pg().port());
    auto r = collect(victim);
    ASSERT_TRUE(r.error);
    EXPECT_EQ(r.error->code(), proto::sqlstate::kQueryCanceled);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
    EXPECT_EQ(victim.simple_query("SELECT 1").at(0, 0), "1");
}

TEST(Protocol, CancelWithAWrongKeyIsIgnored) {
    auto victim = BlockingClient::connect(connect_options(pg(), kTrustRole));
    std::string q;
    proto::Query{"SELECT pg_sleep(0.5)"}.encode(q);
    victim.send_raw(q);
    auto raw = BlockingClient::connect_tcp(pg().host(), pg().port());
    std::string key = victim.secret_key();
    key[0] = static_cast<char>(key[0] ^ 0x55);
    std::string out;
    proto::CancelRequest{victim.backend_pid(), key}.encode(out);
    raw.send_raw(out);
    EXPECT_TRUE(raw.wait_closed(5s));
    EXPECT_FALSE(collect(victim).error) << "the query must finish normally";
}

TEST(Protocol, SslRequestIsRefusedWithoutTls) {
    auto c = BlockingClient::connect_tcp(pg().host(), pg().port());
    EXPECT_EQ(c.request_ssl(), 'N');
    // The same connection continues in plaintext.
    c.startup(connect_options(pg(), kMd5Role));
    EXPECT_EQ(c.simple_query("SELECT 3").at(0, 0), "3");
}

TEST(Protocol, UnsupportedProtocolVersionIsRejected) {
    // Major version 4: PostgreSQL answers in v3 format (for 2.0 it would use the old,
    // unframed v2 error format) and hangs up.
    auto c = BlockingClient::connect_tcp(pg().host(), pg().port());
    proto::StartupMessage sm;
    sm.version = {4, 0};
    sm.parameters = {{"user", "sluice_trust"}};
    std::string out;
    sm.encode(out);
    c.send_raw(out);
    auto m = c.read_message();
    ASSERT_EQ(m.tag, 'E');
    auto e = proto::ErrorResponse::decode(m.body);
    ASSERT_TRUE(e);
    EXPECT_EQ(e->fields.code(), proto::sqlstate::kFeatureNotSupported);
    EXPECT_NE(e->fields.message().find("unsupported frontend protocol 4.0"), std::string_view::npos);
    EXPECT_TRUE(c.wait_closed(5s));
}

TEST(Protocol, NewerMinorVersionIsNegotiatedDown) {
    auto c = BlockingClient::connect_tcp(pg().host(), pg().port());
    proto::StartupMessage sm;
    sm.version = {3, 2};
    sm.parameters = {{"user", "sluice_trust"}, {"database", "postgres"}, {"_pq_.sluice_test", "1"}};
    std::string out;
    sm.encode(out);
    c.send_raw(out);
    auto m = c.read_message();
    ASSERT_EQ(m.tag, 'v');
    auto n = proto::NegotiateProtocolVersion::decode(m.body);
    ASSERT_TRUE(n) << n.error().message;
    // The docs call this Int32 the "newest minor protocol version", but PostgreSQL sends its
    // whole newest version code, major << 16 | minor (pq_sendint32(&buf, PG_PROTOCOL_LATEST)),
    // and libpq reads it that way. For 3.0 that is 0x00030000.
    EXPECT_EQ(n->newest_minor_version, 3 << 16);
    ASSERT_EQ(n->unrecognized_options.size(), 1u);
    EXPECT_EQ(n->unrecognized_options[0], "_pq_.sluice_test");
    // Then an ordinary trust login at 3.0.
    auto msgs = c.read_until_ready();
    EXPECT_EQ(msgs.front().tag, 'R');
    EXPECT_EQ(msgs.back().tag, 'Z');
}

TEST(Protocol, TerminateClosesTheSession) {
    auto c = BlockingClient::connect(connect_options(pg(), kTrustRole));
    std::string out;
    proto::Terminate{}.encode(out);
    c.send_raw(out);
    EXPECT_TRUE(c.wait_closed(5s));
    EXPECT_FALSE(c.is_open());
}

TEST(Protocol, ReadsHaveADeadline) {
    auto c = BlockingClient::connect(connect_options(pg(), kTrustRole));
    c.set_timeout(200ms);
    auto started = std::chrono::steady_clock::now();
    EXPECT_THROW(c.read_message(), ClientError);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
}

TEST(Protocol, ConnectionRefusedIsAClientError) {
    // The fixture's own port while stopped would disturb other tests; a closed port is enough.
    EXPECT_THROW(BlockingClient::connect_tcp("127.0.0.1", 1, 2s), ClientError);
}

TEST(Protocol, SyncAfterPipelinedQueriesReturnsEachResult) {
    auto c = BlockingClient::connect(connect_options(pg(), kScramRole));
    std::string out;
    for (int i = 0; i < 3; ++i) {
        auto sql = "SELECT " + std::to_string(i);
        proto::Parse{"", sql, {}}.encode(out);
        proto::Bind{}.encode(out);
        proto::Execute{"", 0}.encode(out);
    }
    proto::Sync{}.encode(out);
    c.send_raw(out);
    std::vector<std::string> values;
    for (auto& m : c.read_until_ready())
        if (m.tag == 'D') values.emplace_back(*proto::DataRow::decode(m.body)->values.at(0));
    EXPECT_EQ(values, (std::vector<std::string>{"0", "1", "2"}));
}

}  // namespace
}  // namespace sluice::testing
