// Issue #3 acceptance, abandoned transactions: a client that vanishes in the middle of a
// transaction holding a row lock must not leave that lock behind. sluice closes the server
// connection it held, PostgreSQL rolls back, and another client's UPDATE of the row proceeds.
// With a pool of one, the next client would get the abandoned server if sluice reused it: the
// test reads the row first and checks it is outside any transaction.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

enum class Vanish { Reset, Close };

void lock_row_then_vanish(Vanish how) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("killed_client", "id int primary key, v text");
    pg().exec_superuser("INSERT INTO killed_client VALUES (1, 'initial')");
    // One server: if sluice gave the vanished client's server back to the pool without a rollback,
    // the next client would get it, still inside the abandoned transaction.
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    SluiceProcess sluice(config);

    auto doomed = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(doomed.simple_query("BEGIN").ok());
    const std::string doomed_server = doomed.simple_query("SELECT pg_backend_pid()").at(0, 0).value();
    auto locked = doomed.simple_query("SELECT v FROM killed_client WHERE id = 1 FOR UPDATE");
    ASSERT_TRUE(locked.ok()) << locked.error->message();
    ASSERT_EQ(locked.at(0, 0), "initial");
    ASSERT_TRUE(doomed.simple_query("UPDATE killed_client SET v = 'never committed' WHERE id = 1").ok());

    // The lock is real: an UPDATE straight to PostgreSQL waits for it.
    auto direct = pq_connect(pg().conninfo(kSuperuser.user));
    ASSERT_TRUE(connected(direct.get())) << conn_error(direct.get());
    exec_ok(direct.get(), "BEGIN");
    exec_ok(direct.get(), "SET LOCAL lock_timeout = '300ms'");
    auto blocked = exec_with_deadline(direct.get(), "UPDATE killed_client SET v = 'second' WHERE id = 1", 5s);
    EXPECT_EQ(blocked.state(), "55P03") << "expected a lock timeout while the row is locked: " << blocked.describe();
    exec_ok(direct.get(), "ROLLBACK");

    if (how == Vanish::Reset) {
        // SO_LINGER 0: close() sends RST, as when a client host or process dies hard.
        linger hard{1, 0};
        ASSERT_EQ(::setsockopt(doomed.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard), 0);
    }
    doomed.close();  // no Terminate

    // The next client of the only pool slot: a new server, outside any transaction, that sees
    // the row as it was before the abandoned one.
    auto other = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(other.get())) << conn_error(other.get());
    auto seen = exec_with_deadline(other.get(),
                                   "SELECT v, txid_current_if_assigned() IS NULL, pg_backend_pid() "
                                   "FROM killed_client WHERE id = 1",
                                   10s);
    ASSERT_TRUE(seen.ok()) << seen.describe();
    EXPECT_EQ(std::string(PQgetvalue(seen.result.get(), 0, 0)), "initial")
        << "the vanished client's uncommitted UPDATE is visible: its transaction was not rolled back";
    EXPECT_EQ(std::string(PQgetvalue(seen.result.get(), 0, 1)), "t")
        << "the next client runs inside the vanished client's transaction";
    EXPECT_NE(std::string(PQgetvalue(seen.result.get(), 0, 2)), doomed_server)
        << "the vanished client's server (mid-transaction) was lent again";

    // The abandoned server goes away (PostgreSQL rolls it back), and with it the row lock.
    EXPECT_TRUE(wait_until(
        [&] {
            return pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {doomed_server})
                       .at(0)
                       .at(0) == "0";
        },
        10s))
        << "the vanished client's server connection stayed open";
    auto r = exec_with_deadline(other.get(), "UPDATE killed_client SET v = 'second' WHERE id = 1", 10s);
    ASSERT_TRUE(r.ok()) << r.describe();
    EXPECT_STREQ(PQcmdTuples(r.result.get()), "1");
    EXPECT_EQ(query_value(direct.get(), "SELECT v FROM killed_client WHERE id = 1"), "second");
    EXPECT_TRUE(wait_until([] { return pg().count_backends(kTrustRole.user) <= 1; }, 5s));
}

TEST(ProxyKilledClient, ResetMidTransactionReleasesRowLock) { lock_row_then_vanish(Vanish::Reset); }

TEST(ProxyKilledClient, CloseWithoutTerminateMidTransactionReleasesRowLock) { lock_row_then_vanish(Vanish::Close); }

}  // namespace
}  // namespace sluice::testing
