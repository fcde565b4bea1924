// Protocol version negotiation through sluice: a 3.2 client (PostgreSQL 18's libpq) is served at
// 3.2 with a 32-byte cancel key that works; a client asking for a newer minor version is told
// 3.2 with NegotiateProtocolVersion, in the form libpq reads (the whole version code).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/startup.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/blocking_client.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

ConnectOptions trust_options(const SluiceProcess& sluice, protocol::ProtocolVersion version) {
    ConnectOptions o = sluice_client(sluice, kTrustRole);
    o.version = version;
    return o;
}

TEST(ProxyProtocolVersion, Version32GetsLongCancelKeysThatWork) {
    SluiceProcess sluice(SluiceConfig::trust());
    auto client = BlockingClient::connect(trust_options(sluice, protocol::kProtocol32));
    EXPECT_EQ(client.secret_key().size(), 32u);

    const std::string sql = "SELECT pg_sleep(10) AS v32_cancel_target";
    auto sleeper = std::async(std::launch::async, [&] { return std::string(client.simple_query(sql).sqlstate()); });
    // Cancel once the query runs on the server, not after a guessed delay: a cancel that arrives
    // before the query does is ignored, as PostgreSQL does, and the query would run for 10 s.
    ASSERT_TRUE(wait_until(
        [&] {
            return pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND state = 'active'",
                                       {sql})
                       .at(0)
                       .at(0) == "1";
        },
        10s))
        << "the query never started on the server";
    client.cancel(sluice.host(), sluice.port());
    // Well before the 10 s the query would take uncancelled.
    ASSERT_EQ(sleeper.wait_for(5s), std::future_status::ready) << "the query did not return after the cancel";
    EXPECT_EQ(sleeper.get(), "57014");
    EXPECT_EQ(client.simple_query("SELECT 1").at(0, 0), "1");
}

TEST(ProxyProtocolVersion, NewerMinorVersionIsNegotiatedDown) {
    SluiceProcess sluice(SluiceConfig::trust());
    auto raw = BlockingClient::connect_tcp(sluice.host(), sluice.port());
    protocol::StartupMessage startup;
    startup.version = {3, 7};
    startup.parameters = {{"user", std::string(kTrustRole.user)}, {"database", "postgres"}, {"_pq_.future", "1"}};
    std::string out;
    startup.encode(out);
    raw.send_raw(out);

    auto first = raw.read_message();
    ASSERT_EQ(first.backend_tag(), protocol::BackendTag::NegotiateProtocolVersion);
    protocol::ByteReader r(first.body);
    EXPECT_EQ(r.i32(), protocol::kProtocol32.code());  // 0x00030002, as PostgreSQL writes it
    EXPECT_EQ(r.i32(), 1);                              // one unrecognized option
    EXPECT_EQ(r.cstring(), "_pq_.future");
    EXPECT_TRUE(r.at_end());

    // Then the login goes on at 3.2: a 32-byte key in BackendKeyData.
    bool saw_key = false;
    for (;;) {
        auto m = raw.read_message();
        if (m.backend_tag() == protocol::BackendTag::BackendKeyData) {
            auto key = protocol::BackendKeyData::decode(m.body);
            ASSERT_TRUE(key);
            EXPECT_EQ(key->secret_key.size(), 32u);
            saw_key = true;
        }
        if (m.backend_tag() == protocol::BackendTag::ReadyForQuery) break;
        ASSERT_NE(m.backend_tag(), protocol::BackendTag::ErrorResponse) << m.body;
    }
    EXPECT_TRUE(saw_key);
}

TEST(ProxyProtocolVersion, Version30KeepsFourByteKeys) {
    SluiceProcess sluice(SluiceConfig::trust());
    auto client = BlockingClient::connect(trust_options(sluice, protocol::kProtocol30));
    EXPECT_EQ(client.secret_key().size(), 4u);
    EXPECT_EQ(client.simple_query("SELECT 2").at(0, 0), "2");
}

}  // namespace
}  // namespace sluice::testing
