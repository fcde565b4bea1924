// Issue #8 acceptance, DDL between two executions of a shared prepared statement: after
// `ALTER TABLE ... ADD COLUMN`, a server-side `SELECT *` statement fails with 0A000 "cached plan
// must not change result type". Through sluice (transaction mode, pool of 2, two clients that
// prepared the same text, so they share one statement per server):
//   - outside an explicit transaction, sluice re-prepares and retries once: the execution
//     succeeds and returns the new column (PostgreSQL itself would answer 0A000 here, so there is
//     no direct run to compare with: this is sluice doing better than a plain session);
//   - inside one, the client gets the 0A000 and its next transaction works.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/prepared/prepared_support.hpp"

namespace sluice::testing::prepared {
namespace {

const std::string kSelectAll = "SELECT * FROM ddl_shape ORDER BY id";

void create_shape_table() {
    create_table("ddl_shape", "id int PRIMARY KEY, name text");
    pg().exec_superuser("INSERT INTO ddl_shape VALUES (1, 'one'), (2, 'two')");
}

// Both servers of the pool hold the shared statement, executed once with the old shape.
void prepare_on_both_servers(Rig& rig) {
    for (int client : {0, 1}) {
        auto a = decode_answer(rig.exchange(client, parse("s" + std::to_string(client), kSelectAll) +
                                                        run_statement("s" + std::to_string(client))));
        ASSERT_FALSE(a.error) << a.transcript;
        ASSERT_EQ(a.columns, (std::vector<std::string>{"id", "name"})) << a.transcript;
        ASSERT_EQ(a.rows.size(), 2u) << a.transcript;
        rig.switch_server();
    }
}

void expect_new_shape(const Answer& a, const std::string& context) {
    if (a.error) {
        ADD_FAILURE() << context << ": " << a.error->code() << " " << a.error->message() << "\n" << a.transcript;
        return;
    }
    EXPECT_EQ(a.columns, (std::vector<std::string>{"id", "name", "extra"})) << context << "\n" << a.transcript;
    ASSERT_EQ(a.rows.size(), 2u) << context << "\n" << a.transcript;
    EXPECT_EQ(a.rows[0], (std::vector<std::optional<std::string>>{"1", "one", "7"})) << context << "\n" << a.transcript;
    EXPECT_EQ(a.rows[1], (std::vector<std::optional<std::string>>{"2", "two", "7"})) << context << "\n" << a.transcript;
}

TEST(PreparedDdl, AddColumnOutsideTransactionIsRetried) {
    create_shape_table();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    SluiceProcess sluice(pool_config(2));
    Rig rig(Target::through(sluice), 2);
    prepare_on_both_servers(rig);
    if (HasFatalFailure()) return;
    pg().exec_superuser("ALTER TABLE ddl_shape ADD COLUMN extra int DEFAULT 7");

    expect_new_shape(decode_answer(rig.exchange(0, run_statement("s0"))), "client 0, first execution after ALTER");
    expect_new_shape(decode_answer(rig.exchange(1, run_statement("s1"))), "client 1, same server");
    rig.switch_server();
    expect_new_shape(decode_answer(rig.exchange(1, run_statement("s1"))), "client 1, the other server");
    expect_new_shape(decode_answer(rig.exchange(0, run_statement("s0"))), "client 0, the other server");
    EXPECT_TRUE(rig.placement_errors().empty()) << join(rig.placement_errors());
}

TEST(PreparedDdl, AddColumnInsideTransactionFailsOnceThenWorks) {
    create_shape_table();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    SluiceProcess sluice(pool_config(2));
    Rig rig(Target::through(sluice), 2);
    prepare_on_both_servers(rig);
    if (HasFatalFailure()) return;
    pg().exec_superuser("ALTER TABLE ddl_shape ADD COLUMN extra int DEFAULT 7");

    ASSERT_EQ(decode_answer(rig.exchange(0, query("BEGIN"))).status, 'T');
    auto failed = decode_answer(rig.exchange(0, run_statement("s0")));
    ASSERT_TRUE(failed.error) << "the execution inside the transaction succeeded:\n" << failed.transcript;
    EXPECT_EQ(failed.error->code(), "0A000") << failed.error->message();
    EXPECT_NE(failed.error->message().find("cached plan must not change result type"), std::string_view::npos)
        << failed.error->message();
    EXPECT_EQ(failed.status, 'E') << failed.transcript;
    EXPECT_EQ(decode_answer(rig.exchange(0, query("ROLLBACK"))).status, 'I');

    // The next transaction, on the same server (the rig keeps the other one busy).
    ASSERT_EQ(decode_answer(rig.exchange(0, query("BEGIN"))).status, 'T');
    auto next = decode_answer(rig.exchange(0, run_statement("s0")));
    expect_new_shape(next, "client 0, next transaction");
    EXPECT_EQ(next.status, 'T') << next.transcript;
    EXPECT_EQ(decode_answer(rig.exchange(0, query("COMMIT"))).status, 'I');
    // Client 1 shares the statement: its transaction on that server works as well.
    ASSERT_EQ(decode_answer(rig.exchange(1, query("BEGIN"))).status, 'T');
    expect_new_shape(decode_answer(rig.exchange(1, run_statement("s1"))), "client 1, next transaction");
    EXPECT_EQ(decode_answer(rig.exchange(1, query("COMMIT"))).status, 'I');
    // Outside a transaction, the other server's stale statement is retried transparently.
    rig.switch_server();
    expect_new_shape(decode_answer(rig.exchange(0, run_statement("s0"))), "client 0, other server, no transaction");
    EXPECT_TRUE(rig.placement_errors().empty()) << join(rig.placement_errors());
}

}  // namespace
}  // namespace sluice::testing::prepared
