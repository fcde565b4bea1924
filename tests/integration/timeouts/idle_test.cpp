// Issue 9: timeouts.idle_in_transaction, timeouts.transaction and timeouts.client_idle. Each ends
// the client's session with a FATAL naming its key; the first two also roll the server back and
// give it to the pool, so its locks are free at once.
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <thread>

#include "tests/integration/timeouts/timeouts_support.hpp"

namespace sluice::testing::timeouts {
namespace {

const std::string kTable = "timeouts_rows";

void fresh_rows() {
    create_table(kTable, "id int PRIMARY KEY, v int NOT NULL");
    pg().exec_superuser("INSERT INTO " + kTable + " VALUES (1, 0), (2, 0)");
}

// Directly on PostgreSQL, the row's lock becomes free within `within` (each try waits 200 ms at
// most for it); the row's value, or the last error.
std::string update_when_free(int id, std::chrono::milliseconds within) {
    std::string last;
    wait_until([&] { return !(last = update_directly(kTable, id)).starts_with("error"); }, within, 10ms);
    return last;
}

TEST(IdleTimeouts, IdleInTransactionEndsTheSessionAndRollsBack) {
    fresh_rows();
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    SluiceProcess sluice(trust_config(1, "idle_in_transaction = \"1s\"\n"));
    auto a = open_client(sluice);
    auto pid = try_query(a, "SELECT pg_backend_pid()");
    ASSERT_TRUE(pid.ok()) << pid.describe();
    ASSERT_TRUE(try_query(a, "BEGIN").ok());
    auto update = try_query(a, "UPDATE " + kTable + " SET v = v + 1 WHERE id = 1");
    ASSERT_TRUE(update.ok()) << update.describe();

    // A says nothing more; sluice speaks first.
    Stopwatch clock;
    auto e = wait_for_error_and_close(a, 5s, clock);
    EXPECT_EQ(e.sqlstate, "25P03") << e.describe();
    EXPECT_EQ(e.severity, "FATAL") << e.describe();
    EXPECT_TRUE(contains(e.message, "timeouts.idle_in_transaction")) << e.describe();
    EXPECT_TRUE(e.closed) << e.describe();
    EXPECT_GE(e.ms, 900) << e.describe();
    EXPECT_LT(e.ms, 2500) << e.describe();

    // The transaction was rolled back at once: the row is unlocked and unchanged.
    EXPECT_EQ(update_when_free(1, 500ms), "0") << "the idle transaction's lock or update outlived it";
    // With pool size 1 the next client gets the same server: rolled back and given back, not closed.
    auto b = open_client(sluice);
    auto next = try_query(b, "SELECT pg_backend_pid()");
    ASSERT_TRUE(next.ok()) << next.describe();
    EXPECT_EQ(next.value(), pid.value()) << "the server was closed instead of rolled back and reused";
}

TEST(IdleTimeouts, IdleOutsideATransactionIsNotIdleInTransaction) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    SluiceProcess sluice(trust_config(1, "idle_in_transaction = \"1s\"\n"));
    auto a = open_client(sluice);
    ASSERT_TRUE(try_query(a, "SELECT 1").ok());
    EXPECT_TRUE(nothing_arrives(a, 1500ms)) << "sluice spoke to a client idle outside a transaction";
    auto again = try_query(a, "SELECT 'still here'");
    EXPECT_TRUE(again.ok()) << again.describe();
    EXPECT_EQ(again.value(), "still here");
}

TEST(IdleTimeouts, TransactionTimeoutEndsABusyTransaction) {
    fresh_rows();
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    SluiceProcess sluice(trust_config(1, "transaction = \"1s\"\n"));
    auto a = open_client(sluice);
    Stopwatch clock;
    ASSERT_TRUE(try_query(a, "BEGIN").ok());
    ASSERT_TRUE(try_query(a, "UPDATE " + kTable + " SET v = v + 1 WHERE id = 2").ok());

    // Never idle for long: a short query every 200 ms, until sluice ends the transaction.
    SeenError e;
    int queries = 0;
    while (clock.ms() < 4000) {
        if (!nothing_arrives(a, 200ms)) {
            e = wait_for_error_and_close(a, 2s, clock);  // sluice spoke between two queries
            break;
        }
        auto r = try_query(a, "SELECT 1");
        ++queries;
        if (!r.ok()) {
            e = seen(r, clock);
            if (!e.closed) {
                auto rest = wait_for_error_and_close(a, 2s, clock);
                e.closed = rest.closed;
            }
            break;
        }
    }
    EXPECT_EQ(e.sqlstate, "25P04") << e.describe() << " after " << queries << " queries";
    EXPECT_EQ(e.severity, "FATAL") << e.describe();
    EXPECT_TRUE(contains(e.message, "timeouts.transaction")) << e.describe();
    EXPECT_TRUE(e.closed) << e.describe();
    EXPECT_GE(e.ms, 900) << e.describe();
    EXPECT_LT(e.ms, 2500) << e.describe();
    EXPECT_GE(queries, 3) << "the queries every 200 ms did not run";
    EXPECT_EQ(update_when_free(2, 500ms), "0") << "the ended transaction's lock or update outlived it";
}

TEST(IdleTimeouts, AutocommitQueriesAreNeverTransactionTimedOut) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    SluiceProcess sluice(trust_config(1, "transaction = \"1s\"\n"));
    auto a = open_client(sluice);
    Stopwatch clock;
    int queries = 0;
    while (clock.ms() < 2000) {
        auto r = try_query(a, "SELECT " + std::to_string(queries));
        ASSERT_TRUE(r.ok()) << "query " << queries << " at " << clock.ms() << " ms: " << r.describe();
        ++queries;
    }
    EXPECT_GT(queries, 10);
}

TEST(IdleTimeouts, ClientIdleDisconnectsOnlyTheSilentClient) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    SluiceProcess sluice(trust_config(2, "client_idle = \"1s\"\n"));
    auto silent = open_client(sluice);
    auto busy = open_client(sluice);
    ASSERT_TRUE(try_query(silent, "SELECT 1").ok());

    Stopwatch clock;
    // The busy client queries every 300 ms for 1.8 s, meanwhile.
    auto busy_run = std::async(std::launch::async, [&]() -> std::string {
        Stopwatch own;
        for (int i = 0; own.ms() < 1800; ++i) {
            auto r = try_query(busy, "SELECT " + std::to_string(i));
            if (!r.ok())
                return "query " + std::to_string(i) + " at " + std::to_string(own.ms()) + " ms: " + r.describe();
            std::this_thread::sleep_for(300ms);
        }
        return {};
    });
    auto e = wait_for_error_and_close(silent, 4s, clock);
    EXPECT_EQ(e.sqlstate, "57P05") << e.describe();
    EXPECT_EQ(e.severity, "FATAL") << e.describe();
    EXPECT_TRUE(contains(e.message, "timeouts.client_idle")) << e.describe();
    EXPECT_TRUE(e.closed) << e.describe();
    EXPECT_GE(e.ms, 900) << e.describe();
    EXPECT_LT(e.ms, 2500) << e.describe();
    EXPECT_EQ(busy_run.get(), "") << "a client that kept querying was disconnected";
    auto last = try_query(busy, "SELECT 'last'");
    EXPECT_TRUE(last.ok()) << last.describe();
}

}  // namespace
}  // namespace sluice::testing::timeouts
