// Issue #3 acceptance, abandoned transactions: a client that vanishes in the middle of a
// transaction holding a row lock must not leave that lock behind. sluice closes the server
// connection it held, PostgreSQL rolls back, and another client's UPDATE of the row proceeds.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

enum class Vanish { Reset, Close };

void lock_row_then_vanish(Vanish how) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("killed_client", "id int primary key, v text");
    pg().exec_superuser("INSERT INTO killed_client VALUES (1, 'initial')");
    auto config = SluiceConfig::trust();
    config.pool_size = 4;
    SluiceProcess sluice(config);

    auto doomed = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(doomed.simple_query("BEGIN").ok());
    auto locked = doomed.simple_query("SELECT v FROM killed_client WHERE id = 1 FOR UPDATE");
    ASSERT_TRUE(locked.ok()) << locked.error->message();
    ASSERT_EQ(locked.at(0, 0), "initial");
    ASSERT_TRUE(doomed.simple_query("UPDATE killed_client SET v = 'never committed' WHERE id = 1").ok());

    // The lock is real: a second client's UPDATE waits for it.
    auto other = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(other.get())) << conn_error(other.get());
    exec_ok(other.get(), "BEGIN");
    exec_ok(other.get(), "SET LOCAL lock_timeout = '300ms'");
    auto blocked = exec_with_deadline(other.get(), "UPDATE killed_client SET v = 'second' WHERE id = 1", 5s);
    EXPECT_EQ(blocked.state(), "55P03") << "expected a lock timeout while the row is locked: " << blocked.describe();
    exec_ok(other.get(), "ROLLBACK");

    if (how == Vanish::Reset) {
        // SO_LINGER 0: close() sends RST, as when a client host or process dies hard.
        linger hard{1, 0};
        ASSERT_EQ(::setsockopt(doomed.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
    }
    doomed.close();  // no Terminate
    const auto vanished = Clock::now();

    auto r = exec_with_deadline(other.get(), "UPDATE killed_client SET v = 'second' WHERE id = 1", 10s);
    const double took = seconds_since(vanished);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_STREQ(PQcmdTuples(r.result.get()), "1");
    EXPECT_LT(took, 1.0) << "the abandoned transaction's lock outlived its client by " << took << " s";
    EXPECT_EQ(query_value(other.get(), "SELECT v FROM killed_client WHERE id = 1"), "second")
        << "the vanished client's uncommitted UPDATE must be rolled back";
    // Its server connection was not returned to the pool: only the survivor's may remain.
    EXPECT_TRUE(wait_until([] { return pg().count_backends(kTrustRole.user) <= 1; }, 5s));
}

TEST(ProxyKilledClient, ResetMidTransactionReleasesRowLock) { lock_row_then_vanish(Vanish::Reset); }

TEST(ProxyKilledClient, CloseWithoutTerminateMidTransactionReleasesRowLock) { lock_row_then_vanish(Vanish::Close); }

}  // namespace
}  // namespace sluice::testing
