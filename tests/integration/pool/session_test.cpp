// README claims about a session's two ends: a client that does not finish logging in within
// timeouts.client_login gets FATAL 08P01 and is closed, and SIGTERM stops sluice gracefully (idle
// clients get FATAL 57P01 at once, a transaction in flight may still commit, then sluice exits 0).
#include <gtest/gtest.h>

#include <csignal>
#include <optional>
#include <string>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/startup.hpp"
#include "tests/integration/pool/pool_support.hpp"

namespace sluice::testing::pool {
namespace {

// The ErrorResponse a client is sent without asking (sluice ending its session).
protocol::ErrorFields expect_error_message(BlockingClient& client) {
    auto m = client.read_message();
    EXPECT_EQ(m.tag, 'E') << "expected an ErrorResponse, got '" << m.tag << "'";
    auto fields = protocol::ErrorFields::decode(m.body);
    if (!fields) {
        ADD_FAILURE() << "undecodable ErrorResponse";
        return {};
    }
    return *fields;
}

TEST(PoolClientLogin, ClientsThatStallLoggingInGetClientLoginTimeout) {
    auto config = SluiceConfig();  // scram-sha-256: a login with a round trip to stall in
    config.timeouts_toml = "client_login = \"2s\"\n";  // a real login (SCRAM) fits well within it, under TSan too
    SluiceProcess sluice(config);
    auto established = BlockingClient::connect(sluice_client(sluice, kScramRole));

    // Connected, and never a startup packet.
    auto silent = BlockingClient::connect_tcp(sluice.host(), sluice.port());
    auto e = expect_error_message(silent);
    EXPECT_EQ(e.code(), "08P01");
    EXPECT_EQ(e.severity(), "FATAL");
    EXPECT_NE(e.message().find("timeouts.client_login"), std::string_view::npos) << e.message();
    EXPECT_TRUE(silent.wait_closed(5s));

    // A startup packet, then no answer to the SCRAM challenge.
    auto stalled = BlockingClient::connect_tcp(sluice.host(), sluice.port());
    protocol::StartupMessage startup;
    startup.parameters = {{"user", std::string(kScramRole.user)}, {"database", "postgres"}};
    std::string out;
    startup.encode(out);
    stalled.send_raw(out);
    EXPECT_EQ(stalled.read_message().tag, 'R') << "expected the SASL challenge";
    e = expect_error_message(stalled);
    EXPECT_EQ(e.code(), "08P01");
    EXPECT_NE(e.message().find("timeouts.client_login"), std::string_view::npos) << e.message();
    EXPECT_TRUE(stalled.wait_closed(5s));
    EXPECT_TRUE(sluice.wait_for_log("closing because: client login timeout", 5s));

    // The timeout is for logging in only: a session idle for longer is not touched.
    auto r = established.simple_query("SELECT 'still here'");
    ASSERT_TRUE(r.ok()) << r.error->message();
    EXPECT_EQ(r.at(0, 0), "still here");
}

class PoolShutdown : public ::testing::TestWithParam<const char*> {};

TEST_P(PoolShutdown, SigtermEndsIdleClientsLetsTransactionsCommitThenExitsZero) {
    create_table("shutdown_commit", "id int");
    auto config = SluiceConfig::trust();
    config.pool_mode = GetParam();
    SluiceProcess sluice(config);
    auto idle = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    auto busy = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(busy.simple_query("BEGIN").ok());
    ASSERT_TRUE(busy.simple_query("INSERT INTO shutdown_commit VALUES (1)").ok());

    const auto from = sluice.log_size();
    sluice.process().send_signal(SIGTERM);
    ASSERT_TRUE(sluice.wait_for_log("received signal", 10s, from));

    // The idle client is told at once, and closed.
    auto e = expect_error_message(idle);
    EXPECT_EQ(e.code(), "57P01");
    EXPECT_EQ(e.severity(), "FATAL");
    EXPECT_NE(e.message().find("shutting down"), std::string_view::npos) << e.message();
    EXPECT_TRUE(idle.wait_closed(5s));

    // No new clients.
    EXPECT_THROW(BlockingClient::connect(sluice_client(sluice, kTrustRole)), std::exception);

    // The transaction in flight goes on and commits; then its session ends the same way.
    auto more = busy.simple_query("INSERT INTO shutdown_commit VALUES (2)");
    EXPECT_TRUE(more.ok()) << more.error->message();
    auto commit = busy.simple_query("COMMIT");
    EXPECT_TRUE(commit.ok()) << commit.error->message();
    e = expect_error_message(busy);
    EXPECT_EQ(e.code(), "57P01");
    EXPECT_TRUE(busy.wait_closed(5s));

    // sluice exits by itself, with status 0 (the destructor checks the log for sanitizer reports).
    auto status = sluice.process().wait_for_exit(20s);
    ASSERT_TRUE(status) << "sluice still runs after its last client left";
    EXPECT_TRUE(status->success()) << status->describe();
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM shutdown_commit").at(0).at(0), "2");
}

// Session mode too: there a client between transactions holds its server, and is idle all the same.
INSTANTIATE_TEST_SUITE_P(Modes, PoolShutdown, ::testing::Values("transaction", "session"),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace sluice::testing::pool
