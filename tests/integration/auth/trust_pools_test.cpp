// Issue 7, part 2: auth.method = trust with no users listed lets a client pick any user name,
// and each name gets a pool. Pools with no clients and no servers are retired, and built again
// when a client needs one.
#include <gtest/gtest.h>

#include "tests/integration/auth/auth_support.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing::auth {
namespace {

TEST(TrustPools, EmptyPoolsAreRetiredAndRebuiltOnDemand) {
    SluiceConfig c;
    c.auth_method = "trust";
    c.users = {};
    c.databases = {"postgres"};
    c.log_connections = false;
    c.query_wait = "1s";  // a login that cannot get a server gives up soon
    auto port = free_port();
    // Idle servers go after 1s, so the pool of a real user empties soon after its client left.
    auto toml = replace_all(c.to_toml(port, pg()), "[pool]\n", "[pool]\nserver_idle_timeout = \"1s\"\n");
    SluiceProcess sluice(toml, port);

    const int names = env_int("SLUICE_TRUST_NAMES", 200);
    for (int i = 0; i < names; ++i) {
        ConnectOptions o;
        o.host = sluice.host();
        o.port = sluice.port();
        o.user = "trust_ghost_" + std::to_string(i);
        o.database = "postgres";
        auto out = try_login(o);
        ASSERT_FALSE(out.logged_in);  // no such role upstream
    }
    EXPECT_TRUE(wait_until([&] { return count_occurrences(sluice.log(), "retired pool postgres/trust_ghost_") >=
                                        static_cast<std::size_t>(names); },
                           20s))
        << "pools retired: " << count_occurrences(sluice.log(), "retired pool postgres/trust_ghost_") << " of "
        << names;

    // A real user: served, its pool retired once idle, then built again for the next client.
    {
        auto client = BlockingClient::connect(sluice_client(sluice, kTrustRole));
        ASSERT_TRUE(client.simple_query("SELECT 1").ok());
    }
    ASSERT_TRUE(sluice.wait_for_log("retired pool postgres/sluice_trust", 20s));
    auto client = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    auto again = client.simple_query("SELECT 2");
    EXPECT_TRUE(again.ok());
}

}  // namespace
}  // namespace sluice::testing::auth
