// analyze(): every Effect in several spellings, and the transaction-local and opaque cases that
// must report nothing.
#include "protocol/sql/session_state.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::sql {
namespace {

struct Expected {
    Effect effect;
    std::string name;
    friend bool operator==(const Expected&, const Expected&) = default;
};

std::ostream& operator<<(std::ostream& out, const Expected& e) { return out << to_string(e.effect) << "(" << e.name << ")"; }

std::vector<Expected> changes(std::string_view sql) {
    const Analysis a = analyze(sql);
    EXPECT_TRUE(a.parsed) << sql << ": " << a.error;
    std::vector<Expected> out;
    for (const auto& c : a.changes) out.push_back({c.effect, c.name});
    return out;
}

using V = std::vector<Expected>;

struct Case {
    const char* sql;
    V expected;
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.sql; }  // failures name the SQL

class Classifies : public ::testing::TestWithParam<Case> {};

TEST_P(Classifies, AsExpected) {
    const Case& c = GetParam();
    EXPECT_EQ(changes(c.sql), c.expected) << c.sql;
    // Whatever analyze() reports, the prefilter must have let through.
    if (!c.expected.empty()) {
        EXPECT_TRUE(may_change_session(c.sql)) << c.sql;
    }
}

const Case kCases[] = {
    // SET / RESET of a setting
    {"SET search_path = app, public", {{Effect::SetGuc, "search_path"}}},
    {"set search_path to app", {{Effect::SetGuc, "search_path"}}},
    {"SET SESSION statement_timeout = '5s'", {{Effect::SetGuc, "statement_timeout"}}},
    {"SET \"TimeZone\" TO 'UTC'", {{Effect::SetGuc, "timezone"}}},
    {"SET app.tenant = '7'", {{Effect::SetGuc, "app.tenant"}}},
    {"SET \"app.Tenant\" = 7", {{Effect::SetGuc, "app.tenant"}}},
    {"SET work_mem TO DEFAULT", {{Effect::SetGuc, "work_mem"}}},
    {"RESET work_mem", {{Effect::SetGuc, "work_mem"}}},
    {"  /* leading comment */ SET application_name = 'x' -- trailing", {{Effect::SetGuc, "application_name"}}},
    {"-- a line comment\nset datestyle = 'ISO, DMY'", {{Effect::SetGuc, "datestyle"}}},
    {"SET TIME ZONE 'Europe/Paris'", {{Effect::SetGuc, "timezone"}}},
    {"set time zone local", {{Effect::SetGuc, "timezone"}}},
    {"SET SCHEMA 'app'", {{Effect::SetGuc, "search_path"}}},
    {"SET NAMES 'UTF8'", {{Effect::SetGuc, "client_encoding"}}},
    {"SET ROLE reporting", {{Effect::SetGuc, "role"}}},
    {"RESET ROLE", {{Effect::SetGuc, "role"}}},
    {"SET SESSION AUTHORIZATION alice", {{Effect::SetGuc, "session_authorization"}}},
    {"SET SESSION AUTHORIZATION DEFAULT", {{Effect::SetGuc, "session_authorization"}}},
    {"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE, READ ONLY",
     {{Effect::SetGuc, "default_transaction_isolation"}, {Effect::SetGuc, "default_transaction_read_only"}}},
    {"RESET ALL", {{Effect::ResetAll, ""}}},
    // set_config
    {"select set_config('app.tenant','7',false)", {{Effect::SetGuc, "app.tenant"}}},
    {"SELECT pg_catalog.set_config('Search_Path', 'app', 'off')", {{Effect::SetGuc, "search_path"}}},
    {"SELECT set_config('app.tenant'::text, $1, false::boolean)", {{Effect::SetGuc, "app.tenant"}}},
    {"SELECT set_config($1, '7', false)", {{Effect::Unreplayable, "set_config"}}},
    {"SELECT set_config('app.x', '7', $1)", {{Effect::Unreplayable, "app.x"}}},
    {"SELECT x, set_config('a.b', x, false) FROM t", {{Effect::SetGuc, "a.b"}}},
    // LISTEN / UNLISTEN
    {"LISTEN jobs", {{Effect::Listen, "jobs"}}},
    {"listen \"Mixed Case\"", {{Effect::Listen, "Mixed Case"}}},
    {"UNLISTEN jobs", {{Effect::Unlisten, "jobs"}}},
    {"UNLISTEN *", {{Effect::Unlisten, ""}}},
    // advisory locks
    {"SELECT pg_advisory_lock(1)", {{Effect::AdvisoryLock, "pg_advisory_lock"}}},
    {"select pg_try_advisory_lock(42, 7)", {{Effect::AdvisoryLock, "pg_try_advisory_lock"}}},
    {"SELECT pg_catalog.pg_advisory_lock_shared(1)", {{Effect::AdvisoryLock, "pg_advisory_lock_shared"}}},
    {"SELECT * FROM jobs WHERE pg_try_advisory_lock_shared(id) LIMIT 1",
     {{Effect::AdvisoryLock, "pg_try_advisory_lock_shared"}}},
    {"SELECT l FROM pg_advisory_lock(5) AS l", {{Effect::AdvisoryLock, "pg_advisory_lock"}}},
    {"WITH x AS (SELECT pg_advisory_lock(1)) SELECT * FROM x", {{Effect::AdvisoryLock, "pg_advisory_lock"}}},
    {"SELECT pg_advisory_unlock_all()", {{Effect::AdvisoryUnlockAll, ""}}},
    // temp objects
    {"CREATE TEMP TABLE t (a int)", {{Effect::TempObject, "t"}}},
    {"create temporary table if not exists t2 (a int) on commit delete rows", {{Effect::TempObject, "t2"}}},
    {"CREATE LOCAL TEMP TABLE t AS SELECT 1", {{Effect::TempObject, "t"}}},
    {"CREATE TEMPORARY VIEW v AS SELECT 1", {{Effect::TempObject, "v"}}},
    {"CREATE TEMP SEQUENCE s", {{Effect::TempObject, "s"}}},
    {"CREATE TABLE pg_temp.x (a int)", {{Effect::TempObject, "x"}}},
    {"SELECT 1 AS a INTO TEMP t", {{Effect::TempObject, "t"}}},
    {"SELECT * INTO TEMPORARY TABLE t FROM src", {{Effect::TempObject, "t"}}},
    // cursors
    {"DECLARE c CURSOR WITH HOLD FOR select 1", {{Effect::HoldCursor, "c"}}},
    {"declare \"C\" no scroll cursor with hold for select * from t", {{Effect::HoldCursor, "C"}}},
    {"CLOSE c", {{Effect::CloseCursor, "c"}}},
    {"CLOSE ALL", {{Effect::CloseCursor, ""}}},
    // SQL prepared statements
    {"PREPARE q(int) AS SELECT $1", {{Effect::Prepare, "q"}}},
    {"prepare \"Q2\" as insert into t values (1)", {{Effect::Prepare, "Q2"}}},
    {"DEALLOCATE q", {{Effect::Deallocate, "q"}}},
    {"DEALLOCATE PREPARE q", {{Effect::Deallocate, "q"}}},
    {"DEALLOCATE ALL", {{Effect::DeallocateAll, ""}}},
    {"deallocate prepare all", {{Effect::DeallocateAll, ""}}},
    // DISCARD, LOAD
    {"DISCARD ALL", {{Effect::DiscardAll, ""}}},
    {"discard temp", {{Effect::DiscardTemp, ""}}},
    {"DISCARD TEMPORARY", {{Effect::DiscardTemp, ""}}},
    {"DISCARD PLANS", {{Effect::DiscardPlans, ""}}},
    {"DISCARD SEQUENCES", {{Effect::DiscardSequences, ""}}},
    {"LOAD 'auto_explain'", {{Effect::LoadLibrary, "auto_explain"}}},
    // several statements, in order
    {"SET a.b = 1; SELECT 1; LISTEN x; RESET ALL",
     {{Effect::SetGuc, "a.b"}, {Effect::Listen, "x"}, {Effect::ResetAll, ""}}},
    {"BEGIN; SET LOCAL a.b = 1; SET a.c = 2; COMMIT", {{Effect::SetGuc, "a.c"}}},
    // nothing: transaction-local, persistent, opaque or plain
    {"SET LOCAL search_path = app", {}},
    {"set local statement_timeout = 0", {}},
    {"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", {}},
    {"SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", {}},
    {"select set_config('app.tenant','7',true)", {}},
    {"SELECT set_config($1, $2, 'on')", {}},
    {"SELECT pg_advisory_xact_lock(1)", {}},
    {"SELECT pg_try_advisory_xact_lock(1, 2)", {}},
    {"SELECT pg_advisory_unlock(1)", {}},
    {"SELECT my_schema.pg_advisory_lock(1)", {}},
    {"DECLARE c CURSOR FOR select 1", {}},
    {"DECLARE c CURSOR WITHOUT HOLD FOR select 1", {}},
    {"CREATE TABLE t (a int)", {}},
    {"CREATE UNLOGGED TABLE t (a int)", {}},
    {"SELECT * FROM pg_temp.x", {}},
    {"SELECT * INTO t FROM src", {}},
    {"UPDATE t SET a = 1", {}},
    {"INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2", {}},
    {"ALTER TABLE t SET SCHEMA other", {}},
    {"ALTER ROLE app SET search_path = app", {}},
    {"ALTER DATABASE app SET work_mem = '64MB'", {}},
    {"ALTER SYSTEM SET work_mem = '64MB'", {}},
    {"CREATE FUNCTION f() RETURNS void LANGUAGE sql SET search_path = app AS 'SELECT pg_advisory_lock(1)'", {}},
    {"CREATE FUNCTION f() RETURNS bigint LANGUAGE sql RETURN pg_advisory_lock(1)::bigint", {}},
    {"DO $$BEGIN PERFORM pg_advisory_lock(1); SET search_path = x; END$$", {}},
    {"SELECT 'SET search_path = x'", {}},
    {"EXECUTE q(1)", {}},
    {"SHOW search_path", {}},
    {"NOTIFY jobs, 'x'", {}},
    {"BEGIN; COMMIT", {}},
};

INSTANTIATE_TEST_SUITE_P(SessionState, Classifies, ::testing::ValuesIn(kCases));

TEST(SessionState, ReportsEachStatementsOwnText) {
    const Analysis a = analyze("SELECT 1;  SET search_path = app ;\n LISTEN jobs");
    ASSERT_TRUE(a.parsed);
    EXPECT_EQ(a.statements, 3u);
    ASSERT_EQ(a.changes.size(), 2u);
    EXPECT_EQ(a.changes[0].statement, "SET search_path = app");
    EXPECT_EQ(a.changes[1].statement, "LISTEN jobs");
}

TEST(SessionState, SeesTransactionControl) {
    EXPECT_TRUE(analyze("BEGIN; SET LOCAL x.y = 1; COMMIT").transaction_control);
    EXPECT_TRUE(analyze("rollback").transaction_control);
    EXPECT_FALSE(analyze("SELECT 1").transaction_control);
}

TEST(SessionState, SyntaxErrorsReportNothing) {
    for (std::string_view sql : {"SET", "SET search_path =", "LISTEN", "SELEC 1; SET a.b = 1", "SET a.b = 1; nonsense here",
                                 "DECLARE c CURSOR WITH HOLD", "'unterminated"}) {
        const Analysis a = analyze(sql);
        EXPECT_FALSE(a.parsed) << sql;
        EXPECT_FALSE(a.error.empty()) << sql;
        EXPECT_TRUE(a.changes.empty()) << sql;
    }
    EXPECT_NE(analyze("SELEC 1").error.find("syntax error"), std::string::npos) << analyze("SELEC 1").error;
}

TEST(SessionState, EmptyAndCommentOnlyTextsAreNoStatements) {
    for (std::string_view sql : {"", "   ", "-- nothing", "/* nothing */", ";"}) {
        const Analysis a = analyze(sql);
        EXPECT_TRUE(a.parsed) << sql;
        EXPECT_EQ(a.statements, 0u) << sql;
        EXPECT_TRUE(a.changes.empty()) << sql;
    }
}

TEST(SessionState, TextEndsAtTheFirstNul) {
    // As on the server: a Query or Parse text is a C string.
    const std::string sql("SELECT 1\0; SET a.b = 1", 22);
    const Analysis a = analyze(sql);
    EXPECT_TRUE(a.parsed);
    EXPECT_EQ(a.statements, 1u);
    EXPECT_TRUE(a.changes.empty());
}

TEST(SessionState, DeepExpressionsDoNotOverflowTheWalk) {
    std::string sql = "SELECT ";
    for (int i = 0; i < 1000; ++i) sql += "coalesce(";
    sql += "pg_advisory_lock(1)";
    for (int i = 0; i < 1000; ++i) sql += ", 0)";
    const Analysis a = analyze(sql);
    if (a.parsed) {  // PostgreSQL's own stack-depth limit may refuse it: then nothing is reported
        ASSERT_EQ(a.changes.size(), 1u);
        EXPECT_EQ(a.changes[0].effect, Effect::AdvisoryLock);
    } else {
        EXPECT_TRUE(a.changes.empty());
    }
}

}  // namespace
}  // namespace sluice::sql
