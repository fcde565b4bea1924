// Issue 11 acceptance, [guard] mode = "enforce" with the default rules, through the real sluice:
//   every blocked statement, by simple and by extended protocol, answers 42501 naming its rule and
//   leaves the fixture's tables and rows as they were (read directly, as the superuser: a statement
//   that slipped through would have done its damage); the connection goes on;
//   allowed statements run (code already in the database included);
//   inside a transaction block a blocked statement fails the transaction as PostgreSQL's own error
//   would, and in a pipeline the messages up to the Sync are skipped;
//   a Parse answered without a server (Parse + Sync) is checked too;
//   exceptions per user and unparsable = "allow" per application_name.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/frontend.hpp"
#include "tests/integration/guard/guard_support.hpp"

namespace sluice::testing::guard {
namespace {

namespace p = sluice::protocol;

struct Blocked {
    std::string sql;
    std::string rule;
};

const std::vector<Blocked> kBlocked = {
    {"DROP TABLE g.accounts", "drop"},
    {"drop table G.ACCOUNTS cascade", "drop"},
    {"/* tidy */ DROP /* up */ TABLE g.scratch", "drop"},
    {"TRUNCATE g.accounts", "truncate"},
    {"DELETE FROM g.accounts", "delete_without_where"},
    {"DELETE FROM g.accounts WHERE true", "delete_without_where"},
    {"DELETE FROM g.accounts WHERE 1 = 1 OR id = 2", "delete_without_where"},
    {"UPDATE g.accounts SET balance = 0", "update_without_where"},
    {"UPDATE g.accounts SET balance = 0 WHERE now() IS NOT NULL", "update_without_where"},
    {"WITH d AS (DELETE FROM g.accounts RETURNING *) SELECT count(*) FROM d", "delete_without_where"},
    {"EXPLAIN (ANALYZE) DELETE FROM g.accounts", "delete_without_where"},
    {"PREPARE wipe AS DELETE FROM g.accounts", "delete_without_where"},
    {"COPY (DELETE FROM g.accounts RETURNING *) TO STDOUT", "delete_without_where"},
    {"MERGE INTO g.accounts a USING g.scratch s ON a.id = s.id WHEN MATCHED THEN DELETE", "delete_without_where"},
    {"ALTER TABLE g.accounts DROP COLUMN balance", "alter_drop_column"},
    {"ALTER SYSTEM SET work_mem = '1MB'", "alter_system"},
    {"COPY g.accounts TO PROGRAM 'cat > /dev/null'", "copy_program"},
    {"CREATE DATABASE guard_should_not_exist", "create_drop_database"},
    {"DO $$ BEGIN EXECUTE 'DROP TABLE g.accounts'; END $$", "opaque_code"},
    {"CREATE FUNCTION g.evil() RETURNS void LANGUAGE sql AS 'DELETE FROM g.accounts'", "opaque_code"},
    {"CREATE RULE r AS ON INSERT TO g.scratch DO ALSO DELETE FROM g.accounts", "delete_without_where"},
    {"SELECT 1; DELETE FROM g.accounts", "delete_without_where"},
    {"DROP TABLE (", "unparsable"},
};

class GuardEnforce : public ::testing::Test {
protected:
    void SetUp() override { reset_fixture(); }
};

TEST_F(GuardEnforce, BlockedStatementsChangeNothingAndTheConnectionGoesOn) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    const std::string before = fixture_state();
    ASSERT_FALSE(before.empty());
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    for (const auto& b : kBlocked) {
        SCOPED_TRACE(b.sql);
        expect_blocked(c.simple_query(b.sql), b.rule, b.sql);
        // A multi-statement string cannot be one Parse: PostgreSQL refuses it (42601) before
        // anything runs, so only the guard's answer is checked there.
        if (b.sql.find("; ") == std::string::npos) expect_blocked(c.extended_query(b.sql), b.rule, b.sql);
        EXPECT_EQ(fixture_state(), before);
        auto after = c.simple_query("SELECT count(*) FROM g.accounts");
        ASSERT_TRUE(after.ok()) << after.error->message();
        EXPECT_EQ(after.at(0, 0), "5");
    }
    EXPECT_TRUE(pg().exec_superuser("SELECT 1 FROM pg_database WHERE datname = 'guard_should_not_exist'").empty());
    EXPECT_TRUE(pg().exec_superuser("SELECT 1 FROM pg_proc WHERE proname = 'evil'").empty());
}

TEST_F(GuardEnforce, AllowedStatementsRun) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    for (const char* sql : {
             "SELECT 'DROP TABLE g.accounts' AS looks_dangerous",
             "SELECT \"delete\" FROM (SELECT 1 AS \"delete\") s",
             "COMMENT ON TABLE g.accounts IS 'do not DROP or TRUNCATE'",
             "UPDATE g.accounts SET balance = balance + 1 WHERE id = 1",
             "DELETE FROM g.scratch WHERE id = 2",
             "EXPLAIN DELETE FROM g.accounts",
             "CREATE TABLE g.fresh (id int)",
             "CREATE INDEX ON g.fresh (id)",
             "ALTER TABLE g.fresh ADD COLUMN v text",
             "SELECT g.wipe_scratch()",  // code already in the database
             "CALL g.wipe_scratch_proc()",
             "BEGIN; UPDATE g.accounts SET name = 'x' WHERE id = 3; COMMIT",
         }) {
        auto r = c.simple_query(sql);
        EXPECT_TRUE(r.ok()) << sql << " -> " << r.sqlstate() << " " << (r.error ? r.error->message() : "");
    }
    EXPECT_EQ(pg().exec_superuser("SELECT balance FROM g.accounts WHERE id = 1")[0][0], "11");
    EXPECT_EQ(pg().exec_superuser("SELECT name FROM g.accounts WHERE id = 3")[0][0], "x");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch")[0][0], "0");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.fresh")[0][0], "0");
    // The same through the extended protocol, with the dangerous words as parameters: data.
    auto r = c.extended_query("UPDATE g.accounts SET name = $1 WHERE id = $2", {"DROP TABLE g.accounts", "2"});
    EXPECT_TRUE(r.ok()) << r.sqlstate();
    EXPECT_EQ(pg().exec_superuser("SELECT name FROM g.accounts WHERE id = 2")[0][0], "DROP TABLE g.accounts");
}

TEST_F(GuardEnforce, InATransactionBlockTheTransactionFailsAsOnPostgres) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    ASSERT_TRUE(c.simple_query("BEGIN").ok());
    ASSERT_TRUE(c.simple_query("INSERT INTO g.scratch VALUES (3, 'in tx')").ok());
    auto blocked = c.simple_query("TRUNCATE g.accounts");
    expect_blocked(blocked, "truncate", "TRUNCATE g.accounts");
    EXPECT_EQ(blocked.tx_status, p::TxStatus::InFailedTransaction);
    auto next = c.simple_query("SELECT 1");
    EXPECT_EQ(next.sqlstate(), "25P02");
    // Blocked again inside the failed block: PostgreSQL's own 25P02 comes first, as it would.
    EXPECT_EQ(c.simple_query("DROP TABLE g.accounts").sqlstate(), "25P02");
    auto commit = c.simple_query("COMMIT");
    ASSERT_TRUE(commit.ok());
    ASSERT_EQ(commit.command_tags.size(), 1u);
    EXPECT_EQ(commit.command_tags[0], "ROLLBACK");
    EXPECT_EQ(commit.tx_status, p::TxStatus::Idle);
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch WHERE id = 3")[0][0], "0");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts")[0][0], "5");
    EXPECT_TRUE(c.simple_query("SELECT 1").ok());
}

TEST_F(GuardEnforce, APipelineSkipsToItsSync) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    std::string out;
    // Harmless, blocked, harmless, Sync: PostgreSQL skips from the error to the Sync.
    p::Parse{"", "INSERT INTO g.scratch VALUES (10, 'before')", {}}.encode(out);
    p::Bind{"", "", {}, {}, {}}.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Parse{"", "DELETE FROM g.accounts", {}}.encode(out);
    p::Bind{"", "", {}, {}, {}}.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Parse{"", "INSERT INTO g.scratch VALUES (11, 'after')", {}}.encode(out);
    p::Bind{"", "", {}, {}, {}}.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Sync{}.encode(out);
    c.send_raw(out);
    std::string tags;
    std::string error;
    for (const auto& m : c.read_until_ready()) {
        tags.push_back(m.tag);
        if (m.tag == 'E') error = std::string(p::ErrorFields::decode(m.body)->code());
    }
    EXPECT_EQ(tags, "12CEZ");  // ParseComplete, BindComplete, CommandComplete, the error, ReadyForQuery
    EXPECT_EQ(error, "42501");
    // The implicit transaction of the pipeline rolled back the first INSERT; the third never ran.
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch WHERE id >= 10")[0][0], "0");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts")[0][0], "5");
    EXPECT_TRUE(c.simple_query("SELECT 1").ok());
}

TEST_F(GuardEnforce, APrepareAnsweredWithoutAServerIsCheckedToo) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    // Parse + Sync alone, outside a transaction: what PQprepare sends, answered by sluice itself.
    std::string out;
    p::Parse{"wipe", "DELETE FROM g.accounts", {}}.encode(out);
    p::Sync{}.encode(out);
    c.send_raw(out);
    auto answer = c.read_until_ready();
    ASSERT_EQ(answer.size(), 2u);
    ASSERT_EQ(answer[0].tag, 'E');
    EXPECT_EQ(p::ErrorFields::decode(answer[0].body)->code(), "42501");
    // The statement does not exist, as after any failed Parse.
    out.clear();
    p::Bind{"", "wipe", {}, {}, {}}.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Sync{}.encode(out);
    c.send_raw(out);
    auto bind = c.read_until_ready();
    ASSERT_FALSE(bind.empty());
    ASSERT_EQ(bind[0].tag, 'E');
    EXPECT_EQ(p::ErrorFields::decode(bind[0].body)->code(), "26000");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts")[0][0], "5");
}

TEST_F(GuardEnforce, ExceptionsPerUserAndUnparsableAllowedPerApplication) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n",
                                      "[[guard.override]]\nuser = \"postgres\"\nallow = [\"drop\"]\n"
                                      "[[guard.override]]\napplication_name = \"lenient\"\nunparsable = \"allow\"\n"));
    auto trust = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    expect_blocked(trust.simple_query("DROP TABLE IF EXISTS g.scratch"), "drop", "as sluice_trust");
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch")[0][0], "2");

    auto migrator = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    auto dropped = migrator.simple_query("DROP TABLE g.scratch");
    EXPECT_TRUE(dropped.ok()) << dropped.sqlstate();
    expect_blocked(migrator.simple_query("TRUNCATE g.accounts"), "truncate", "the migrator may only drop");

    auto o = sluice_client(sluice, kTrustRole);
    o.parameters.emplace_back("application_name", "lenient");
    auto lenient = BlockingClient::connect(o);
    EXPECT_EQ(lenient.simple_query("DROP TABLE (").sqlstate(), "42601");  // PostgreSQL's own syntax error
    expect_blocked(trust.simple_query("DROP TABLE ("), "unparsable", "fail closed");
}

}  // namespace
}  // namespace sluice::testing::guard
