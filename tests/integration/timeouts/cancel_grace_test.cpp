// Issue 9: timeouts.cancel_grace. When the statement timeout's CancelRequest never reaches
// PostgreSQL (a FaultLink holds it), sluice gives up on the server after cancel_grace: the client
// gets FATAL 57014 naming cancel_grace and is disconnected, and the pool makes a new server.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/timeouts/timeouts_support.hpp"

namespace sluice::testing::timeouts {
namespace {

TEST(StatementTimeout, IgnoredCancelClosesTheServerAfterTheGrace) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    FaultLink link(pg().host(), pg().port());
    auto config = trust_config(1, "statement = \"300ms\"\ncancel_grace = \"500ms\"\n");
    relay::route_through(config, link);
    SluiceProcess sluice(config);

    auto c = open_client(sluice);
    auto first = try_query(c, "SELECT pg_backend_pid()");
    ASSERT_TRUE(first.ok()) << first.describe();

    // The server connection is up; from now on the CancelRequest's connection goes nowhere.
    const auto before = link.connections();
    link.hold_new_connections(true);
    Stopwatch clock;
    c.send_raw(relay::query_msg("SELECT pg_sleep(5)"));
    auto e = wait_for_error_and_close(c, 5s, clock);
    EXPECT_EQ(e.sqlstate, "57014") << e.describe();
    EXPECT_EQ(e.severity, "FATAL") << e.describe();
    EXPECT_TRUE(contains(e.message, "cancel_grace")) << e.describe();
    EXPECT_TRUE(e.closed) << "the client must be disconnected: " << e.describe();
    EXPECT_GE(e.ms, 700) << "before statement + cancel_grace: " << e.describe();
    EXPECT_LT(e.ms, 3000) << e.describe();
    EXPECT_GT(link.connections(), before) << "sluice never sent the CancelRequest";

    link.hold_new_connections(false);
    link.release_held();
    auto options = sluice_client(sluice, kTrustRole);
    options.timeout = 10s;
    auto next = relay::connect_and_query(options, "SELECT pg_backend_pid()");
    ASSERT_TRUE(next.ok()) << "a new client was not served: " << next.describe();
    EXPECT_NE(next.value(), first.value()) << "the server that ignored the cancel was lent again";
}

}  // namespace
}  // namespace sluice::testing::timeouts
