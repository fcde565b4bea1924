// A client's SET is read back (current_setting) before its server goes back to the pool, so that
// its next server gets the same settings. A SET the client sends while that read is on its way is
// read on the next round: pgjdbc sends two SETs in a row at connect, and before the fix the second
// one's name joined the read in flight, whose answer then had one value too few (08006 "sluice
// could not read the settings this session changed").
//
// Deterministic: the first SET follows a 0.5 s sleep on the server, during which the test freezes
// what sluice sends to the server; the read-back then waits in the link until the second SET is
// in sluice (one worker thread: it reads the client's bytes as they come).
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

TEST(RelayLearnSettings, SetSentWhileTheLastSetIsReadBack) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    FaultLink link(pg().host(), pg().port());
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.workers = 1;
    route_through(config, link);
    SluiceProcess sluice(config);

    auto c = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(try_query(c, "SELECT 1").ok());
    ASSERT_EQ(link.connections(), 1u) << "pool size 1: one server connection";

    const auto sent_before = link.forwarded_client_to_server(0);
    c.send_raw(query_msg("SELECT pg_sleep(0.5); SET extra_float_digits = 3"));
    ASSERT_TRUE(wait_until([&] { return link.forwarded_client_to_server(0) > sent_before; }, 5s))
        << "the SET never reached the link";
    link.freeze_client_to_server(0);  // the server still sleeps: sluice's read-back will wait here
    auto first = read_until_ready_or_end(c);
    ASSERT_EQ(error_codes(first.messages), "") << tags(first.messages);

    c.send_raw(query_msg("SET application_name = 'second_set'"));
    std::this_thread::sleep_for(300ms);  // into sluice, while its read of the first SET waits
    link.thaw_client_to_server(0);
    auto second = read_until_ready_or_end(c);
    EXPECT_EQ(error_codes(second.messages), "") << "the second SET failed: " << tags(second.messages);

    auto digits = try_query(c, "SHOW extra_float_digits");
    ASSERT_TRUE(digits.ok()) << digits.describe();
    EXPECT_EQ(digits.value(), "3");
    auto name = try_query(c, "SHOW application_name");
    ASSERT_TRUE(name.ok()) << name.describe();
    EXPECT_EQ(name.value(), "second_set");
}

}  // namespace
}  // namespace sluice::testing::relay
