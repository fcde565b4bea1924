// Issue 6, defect 1: a login cancelled while it waits for a pool slot must not leak the slot.
// A startup setting sluice has not seen before ("-c work_mem=4096kB") makes the login check it on
// a server; with the only server held by a transaction, that login waits in Pool::acquire until
// timeouts.client_login cancels it. The cancelled waiter must leave the pool as it found it.
#include <gtest/gtest.h>

#include <future>
#include <vector>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

TEST(RelayFaults, LoginTimeoutDoesNotLeakPoolSlot) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    // query_wait stays empty: both timeouts go in one [timeouts] table.
    config.extra_toml += "\n[timeouts]\nclient_login = \"1s\"\nquery_wait = \"3s\"\n";
    SluiceProcess sluice(config);

    // The holder's login fills the pool's defaults; its transaction holds the only server.
    auto holder = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(holder.simple_query("BEGIN").ok());
    ASSERT_TRUE(holder.simple_query("SELECT 1").ok());

    // Three logins that need a server to check their setting: each times out while waiting.
    std::vector<std::future<std::string>> logins;
    for (int i = 0; i < 3; ++i) {
        logins.push_back(std::async(std::launch::async, [&] {
            auto o = sluice_client(sluice, kTrustRole);
            o.parameters.emplace_back("options", "-c work_mem=4096kB");
            o.timeout = 10s;
            try {
                BlockingClient::connect(o);
                return std::string("logged in");
            } catch (const ServerError& e) {
                return std::string(e.sqlstate());
            } catch (const ClientError& e) {
                return std::string("client error: ") + e.what();
            }
        }));
    }
    for (auto& l : logins) {
        ASSERT_EQ(l.wait_for(15s), std::future_status::ready) << "a login hung";
        EXPECT_EQ(l.get(), "08P01") << "expected the login timeout (client_login = 1s)";
    }

    // The holder ends its transaction: the server goes back to the pool.
    auto commit = holder.simple_query("COMMIT");
    ASSERT_TRUE(commit.ok()) << commit.error->message();

    // A plain client (no setting to check) must now get that server, well within query_wait.
    auto options = sluice_client(sluice, kTrustRole);
    options.timeout = 10s;
    auto served = connect_and_query(options, "SELECT 'served'");
    EXPECT_TRUE(served.ok()) << "after three cancelled logins the pool no longer serves: " << served.describe()
                             << " (53300 = the slot leaked by a cancelled Pool::acquire)";
    EXPECT_EQ(served.value(), "served");

    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

}  // namespace
}  // namespace sluice::testing::relay
