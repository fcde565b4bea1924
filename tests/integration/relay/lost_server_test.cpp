// Issue 6, defect 3: after a server is lost mid-transaction, nothing the client sent before it
// could see the error may run - in particular not on a new server, in autocommit.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

// The error a client may see when its server dies mid-transaction: the server's own FATAL
// (57P01 for pg_terminate_backend) or sluice's 08006.
bool is_lost_server_error(const std::string& codes) {
    return codes.find("57P01") != std::string::npos || codes.find("08006") != std::string::npos;
}

// Gives a relay that wrongly goes on after the loss the time to do it before the table is read:
// the session's end is logged after everything it sent, and PostgreSQL has run (or not) what it
// got once the user's backends are gone. Neither wait asserts: a correct relay may log otherwise
// or keep an idle server, and then there is nothing to wait for.
void wait_session_over(SluiceProcess& sluice, std::size_t log_from) {
    sluice.wait_for_log("closing because", 5s, log_from);
    wait_until([] { return pg().count_backends(kTrustRole.user) == 0; }, 3s, 20ms);
}

bool has_command_tag(const std::vector<Message>& messages, std::string_view tag) {
    for (const auto& m : messages)
        if (m.tag == 'C' && std::string_view(m.body).starts_with(tag)) return true;
    return false;
}

// The whole pipeline reaches PostgreSQL in one write; the backend is terminated while the middle
// statement runs. What follows it dies with the backend.
TEST(RelayFaults, TerminatedServerMidPipelineRunsNothingMore) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("relay_lost_terminated", "v text");
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    const auto log_from = sluice.log_size();

    const std::string sleep = "SELECT pg_sleep(2)";
    auto c = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    c.send_raw(query_msg("BEGIN") + query_msg("INSERT INTO relay_lost_terminated VALUES ('a')") + query_msg(sleep) +
               query_msg("INSERT INTO relay_lost_terminated VALUES ('b')") + query_msg("COMMIT"));
    auto pid = wait_for_active_query(pg(), sleep);
    ASSERT_TRUE(pid) << "the pipeline's pg_sleep never ran";
    pg().exec_superuser("SELECT pg_terminate_backend(" + std::to_string(*pid) + ")");

    auto seen = read_until_closed(c);
    wait_session_over(sluice, log_from);
    EXPECT_TRUE(is_lost_server_error(error_codes(seen.messages)))
        << "the client must get an error, got tags " << tags(seen.messages) << " errors [" << error_codes(seen.messages)
        << "], ended: " << seen.ended;
    EXPECT_FALSE(has_command_tag(seen.messages, "COMMIT")) << "the client was told its transaction committed";
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_lost_terminated WHERE v = 'b'"), 0)
        << "a statement pipelined after the lost server's statement ran anyway";
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_lost_terminated WHERE v = 'a'"), 0)
        << "the lost transaction's first INSERT survived";
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

// The same with the statements after the loss still in sluice's hands: sluice is blocked writing
// a big CopyData to a server that does not read (the FaultLink froze that direction), the client
// has already sent INSERT 'b' and COMMIT behind it, and then the server connection is cut (an RST,
// no FATAL: a network or host failure). Today the relay finds no server when it reads the
// statements that were waiting, so it takes a new one and runs them there, in autocommit.
// sluice runs with one worker thread: with one thread the order in which sluice sees the failed
// write, the failed read and the client's waiting bytes is fixed, so this is deterministic.
TEST(RelayFaults, CutServerMidPipelineRunsNothingOnANewServer) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("relay_lost_cut", "v text");
    FaultLink link(pg().host(), pg().port());
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.workers = 1;
    config.query_wait = "5s";
    route_through(config, link);
    SluiceProcess sluice(config);
    const auto log_from = sluice.log_size();

    auto options = sluice_client(sluice, kTrustRole);
    options.timeout = 15s;
    auto c = BlockingClient::connect(options);
    ASSERT_TRUE(c.simple_query("BEGIN").ok());
    auto a = c.simple_query("INSERT INTO relay_lost_cut VALUES ('a')");
    ASSERT_TRUE(a.ok()) << a.error->message();
    ASSERT_EQ(link.connections(), 1u) << "pool size 1: one server connection";

    // More than every socket buffer between sluice and the link can hold, under the 64 MiB limit.
    link.freeze_client_to_server(0);
    c.send_raw(big_copy_data_msg(48 * 1024 * 1024));
    ASSERT_TRUE(wait_until([&] { return link.queued_from_client(0) > 0; }, 10s))
        << "sluice never started writing the CopyData to the server";
    // sluice is inside that write now and does not read the client: these wait in its socket.
    c.send_raw(query_msg("INSERT INTO relay_lost_cut VALUES ('b')") + query_msg("COMMIT"));
    link.cut(0);

    auto seen = read_until_closed(c);
    wait_session_over(sluice, log_from);
    EXPECT_TRUE(is_lost_server_error(error_codes(seen.messages)))
        << "the client must get an error, got tags " << tags(seen.messages) << " errors [" << error_codes(seen.messages)
        << "], ended: " << seen.ended;
    EXPECT_FALSE(has_command_tag(seen.messages, "INSERT"))
        << "the client was told an INSERT sent after the loss succeeded";
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_lost_cut WHERE v = 'b'"), 0)
        << "INSERT 'b', sent inside the lost transaction, ran on a new server in autocommit";
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_lost_cut WHERE v = 'a'"), 0)
        << "the lost transaction's first INSERT survived";
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

}  // namespace
}  // namespace sluice::testing::relay
