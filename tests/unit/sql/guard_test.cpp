// classify(): the query guard's default rules on plain statements and on evasion attempts
// (comments, case, quoting, dollar quotes, E''/U&'' strings, multi-statement strings, nesting),
// the Finding details, the migration_safety pack and the rule names.
#include "protocol/sql/guard.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <ostream>
#include <string>
#include <vector>

#include "protocol/sql/parse_tree.hpp"

namespace sluice::sql {
namespace {

constexpr Rule kDrop = Rule::Drop;
constexpr Rule kTruncate = Rule::Truncate;
constexpr Rule kDelete = Rule::DeleteWithoutWhere;
constexpr Rule kUpdate = Rule::UpdateWithoutWhere;
constexpr Rule kDropColumn = Rule::AlterDropColumn;
constexpr Rule kSystem = Rule::AlterSystem;
constexpr Rule kProgram = Rule::CopyProgram;
constexpr Rule kDatabase = Rule::CreateDropDatabase;
constexpr Rule kOpaque = Rule::OpaqueCode;
constexpr Rule kExplain = Rule::ExplainAnalyze;
constexpr Rule kUnparsable = Rule::Unparsable;  // expected: the text does not parse

using Rules = std::vector<Rule>;
const Rules kAllowed{};

struct Case {
    std::string sql;
    Rules expected;  // the distinct rules hit, in order of first finding
};

void PrintTo(const Case& c, std::ostream* out) { *out << c.sql; }  // failures name the SQL

// Compared as text, so that a failure prints the rule names.
std::string names(const Rules& rules) {
    std::string out = "[";
    for (const Rule rule : rules) out.append(" ").append(to_string(rule));
    return out + " ]";
}

// Distinct rules, in order of first finding; {Unparsable} for a parse failure.
Rules rules_of(const std::string& sql, bool default_only) {
    const GuardVerdict verdict = classify(sql);
    if (!verdict.parsed) {
        EXPECT_FALSE(verdict.error.empty()) << sql;
        EXPECT_TRUE(verdict.findings.empty()) << sql;
        return {kUnparsable};
    }
    Rules out;
    for (const Finding& finding : verdict.findings) {
        if (default_only && !is_default(finding.rule)) continue;
        if (std::find(out.begin(), out.end(), finding.rule) == out.end()) out.push_back(finding.rule);
    }
    return out;
}

// Ordinary statements: what applications and migrations send every day.
const Case kPlain[] = {
    {"DROP TABLE t", {kDrop}},
    {"DROP TABLE IF EXISTS t CASCADE", {kDrop}},
    {"DROP TABLE a, b", {kDrop}},
    {"DROP SCHEMA s CASCADE", {kDrop}},
    {"DROP INDEX CONCURRENTLY i", {kDrop}},
    {"DROP VIEW v", {kDrop}},
    {"DROP MATERIALIZED VIEW mv", {kDrop}},
    {"DROP SEQUENCE s", {kDrop}},
    {"DROP FUNCTION f(int)", {kDrop}},
    {"DROP PROCEDURE p", {kDrop}},
    {"DROP TYPE ty", {kDrop}},
    {"DROP DOMAIN dm", {kDrop}},
    {"DROP TRIGGER tr ON t", {kDrop}},
    {"DROP POLICY p ON t", {kDrop}},
    {"DROP EXTENSION e", {kDrop}},
    {"DROP SERVER s", {kDrop}},
    {"DROP PUBLICATION p", {kDrop}},
    {"DROP STATISTICS st", {kDrop}},
    {"DROP CAST (int AS text)", {kDrop}},
    {"DROP EVENT TRIGGER e", {kDrop}},
    {"DROP AGGREGATE a(int)", {kDrop}},
    {"DROP OPERATOR + (int, int)", {kDrop}},
    {"DROP LANGUAGE plperl", {kDrop}},
    {"DROP COLLATION c", {kDrop}},
    {"DROP TEXT SEARCH CONFIGURATION c", {kDrop}},
    {"DROP FOREIGN DATA WRAPPER w", {kDrop}},
    {"DROP ACCESS METHOD am", {kDrop}},
    {"DROP OWNED BY r", {kDrop}},
    {"DROP ROLE r", {kDrop}},
    {"DROP USER IF EXISTS r", {kDrop}},
    {"DROP TABLESPACE ts", {kDrop}},
    {"DROP SUBSCRIPTION s", {kDrop}},
    {"DROP USER MAPPING FOR r SERVER s", {kDrop}},
    {"DROP DATABASE d", {kDrop, kDatabase}},
    {"DROP DATABASE IF EXISTS d WITH (FORCE)", {kDrop, kDatabase}},
    {"CREATE DATABASE d", {kDatabase}},
    {"TRUNCATE t", {kTruncate}},
    {"TRUNCATE TABLE ONLY a, b RESTART IDENTITY CASCADE", {kTruncate}},
    {"DELETE FROM t", {kDelete}},
    {"DELETE FROM ONLY t AS x RETURNING *", {kDelete}},
    {"UPDATE t SET a = 0", {kUpdate}},
    {"ALTER TABLE t DROP COLUMN a", {kDropColumn}},
    {"ALTER TABLE t DROP a", {kDropColumn}},
    {"ALTER TYPE ty DROP ATTRIBUTE a", {kDropColumn}},
    {"ALTER FOREIGN TABLE ft DROP COLUMN a", {kDropColumn}},
    {"ALTER SYSTEM SET work_mem = '1GB'", {kSystem}},
    {"ALTER SYSTEM RESET ALL", {kSystem}},
    {"COPY t TO PROGRAM 'cat'", {kProgram}},
    {"COPY t (a) FROM PROGRAM 'echo 1'", {kProgram}},
    {"DO $$BEGIN NULL; END$$", {kOpaque}},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'", {kOpaque}},
    {"CREATE OR REPLACE PROCEDURE p() LANGUAGE sql AS $$ DELETE FROM t $$", {kOpaque}},
    {"CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END", {kOpaque}},
    {"SELECT * FROM t", kAllowed},
    {"INSERT INTO t VALUES (1)", kAllowed},
    {"INSERT INTO t VALUES (1) ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a", kAllowed},
    {"UPDATE t SET a = 1 WHERE id = $1", kAllowed},
    {"DELETE FROM t WHERE id = $1", kAllowed},
    {"CREATE TABLE t (id int PRIMARY KEY)", kAllowed},
    {"CREATE INDEX i ON t (a)", kAllowed},
    {"ALTER TABLE t ADD COLUMN b int", kAllowed},
    {"ALTER TABLE t DROP CONSTRAINT c", kAllowed},
    {"ALTER TABLE t ALTER COLUMN a DROP DEFAULT", kAllowed},
    {"ALTER TABLE t ALTER a DROP NOT NULL", kAllowed},
    {"ALTER TABLE t RENAME COLUMN a TO dropped", kAllowed},
    {"VACUUM FULL t", kAllowed},
    {"LOCK TABLE t IN SHARE MODE", kAllowed},
    {"CALL p()", kAllowed},
    {"SELECT f()", kAllowed},
    {"SELECT pg_terminate_backend(1)", kAllowed},
    {"BEGIN", kAllowed},
    {"COMMIT", kAllowed},
    {"EXECUTE p", kAllowed},
    {"GRANT SELECT ON t TO r", kAllowed},
    {"REVOKE ALL ON t FROM r", kAllowed},
    {"CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()", kAllowed},
    {"COPY t FROM STDIN", kAllowed},
    {"COPY t TO STDOUT WITH (FORMAT csv)", kAllowed},
    {"REFRESH MATERIALIZED VIEW mv", kAllowed},
    {"", kAllowed},
};

// Attempts to hide a statement from the guard, or to make it block something harmless.
const Case kEvasion[] = {
    // comments
    {"DROP/**/TABLE/**/t", {kDrop}},
    {"/* leading */ DROP TABLE t", {kDrop}},
    {"DROP /* a /* nested */ b */ TABLE t", {kDrop}},
    {"-- line\nDROP TABLE t", {kDrop}},
    {"DROP--x\nTABLE t", {kDrop}},
    {"TRUNCATE/*x*/t", {kTruncate}},
    {"DELETE FROM t -- WHERE id = 1", {kDelete}},
    {"DELETE FROM t /* WHERE id = 1 */", {kDelete}},
    {"UPDATE t SET a = 1 -- WHERE id = 1\n", {kUpdate}},
    {"SELECT 1 /* DROP TABLE t */", kAllowed},
    {"SELECT 1 /* /* nested */ DROP TABLE t; */", kAllowed},
    {"/* /* */ DROP TABLE t */ SELECT 2", kAllowed},
    {"SELECT 1 -- ; DROP TABLE t", kAllowed},
    {"-- DROP TABLE t", kAllowed},
    {"SELECT 1 /* ; TRUNCATE t; */ ; SELECT 2", kAllowed},
    // case and whitespace
    {"drop table t", {kDrop}},
    {"DrOp TaBlE t", {kDrop}},
    {"\tDROP\n\n\tTABLE\r\nt\f", {kDrop}},
    {"TrUnCaTe   TABLE   t", {kTruncate}},
    {"delete\nfrom\nt", {kDelete}},
    {"uPdAtE t sEt a = 1", {kUpdate}},
    {"alter table t drop column if exists a cascade", {kDropColumn}},
    {"AlTeR sYsTeM sEt work_mem = '1GB'", {kSystem}},
    // quoted identifiers
    {R"(DROP TABLE "t")", {kDrop}},
    {R"(DROP TABLE "DROP")", {kDrop}},
    {R"(DROP TABLE U&"\0074")", {kDrop}},
    {R"(DROP TABLE U&"!0074" UESCAPE '!')", {kDrop}},
    {R"(SELECT * FROM "DROP TABLE t")", kAllowed},
    {R"(SELECT 1 AS "TRUNCATE")", kAllowed},
    {R"(CREATE TABLE "delete" ("drop" int))", kAllowed},
    {R"(INSERT INTO "truncate" VALUES (1))", kAllowed},
    {R"(DELETE FROM "drop" WHERE "drop" = 1)", kAllowed},
    {R"(SELECT * FROM U&"\0044ROP")", kAllowed},
    // strings: standard, E'', U&'', dollar-quoted, continued
    {"SELECT 'DROP TABLE t'", kAllowed},
    {"SELECT 'x''; DROP TABLE t; --'", kAllowed},
    {R"(SELECT E'\'; DROP TABLE t; --')", kAllowed},
    {R"(SELECT E'\\'; DROP TABLE t; --')", {kDrop}},  // E'\\' ends at the second quote
    {R"(SELECT U&'\0044ROP TABLE t')", kAllowed},
    {R"(SELECT U&'!0044ROP' UESCAPE '!')", kAllowed},
    {"SELECT $$DROP TABLE t$$", kAllowed},
    {"SELECT $a$ $$ ; DROP TABLE t; $$ $a$", kAllowed},
    {"SELECT $a$x$a$; DROP TABLE t", {kDrop}},
    {"SELECT $_$;TRUNCATE t;$_$", kAllowed},
    {"SELECT B'1010', X'ff'; TRUNCATE t", {kTruncate}},
    {"SELECT 'a'\n'; DROP TABLE t; --'", kAllowed},
    {"UPDATE t SET note = 'DELETE FROM t' WHERE id = 1", kAllowed},
    {"INSERT INTO log VALUES ('TRUNCATE t; DROP TABLE t')", kAllowed},
    {"SET application_name = 'DROP TABLE t'", kAllowed},
    {"COMMENT ON TABLE t IS $$DROP TABLE t$$", kAllowed},
    {"SELECT format('DROP TABLE %I', 't')", kAllowed},
    {"NOTIFY c, 'DROP TABLE t'", kAllowed},
    // the server reads up to the first NUL, and so does the guard
    {std::string("SELECT 1\0DROP TABLE t", 21), kAllowed},
    // multi-statement strings
    {"SELECT 1; DROP TABLE t", {kDrop}},
    {"SELECT 1;DROP TABLE t;", {kDrop}},
    {";;;TRUNCATE t;;;", {kTruncate}},
    {"BEGIN; DELETE FROM t; COMMIT", {kDelete}},
    {"SELECT 1; SELECT 2; UPDATE t SET a = 1", {kUpdate}},
    {"INSERT INTO t VALUES (1); ALTER SYSTEM SET fsync = off", {kSystem}},
    {"DROP TABLE a; TRUNCATE b", {kDrop, kTruncate}},
    {"SELECT 1; SELECT 'DROP TABLE t'; SELECT 3", kAllowed},
    // CTE-wrapped DML
    {"WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", {kDelete}},
    {"WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT 1", {kUpdate}},
    {"WITH a AS (SELECT 1), d AS (DELETE FROM t WHERE true RETURNING 1) SELECT * FROM d", {kDelete}},
    {"WITH d AS (DELETE FROM t RETURNING 1) INSERT INTO log SELECT * FROM d", {kDelete}},
    {"SELECT * FROM (WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d) s", {kDelete}},
    {"WITH d AS (DELETE FROM t WHERE id = 1 RETURNING *) SELECT * FROM d", kAllowed},
    {"WITH x AS (SELECT 1) UPDATE t SET a = 1 FROM x", {kUpdate}},
    {"CREATE TABLE x AS WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", {kDelete}},
    {"SELECT * FROM t WHERE id IN (WITH d AS (DELETE FROM t RETURNING id) SELECT id FROM d)", {kDelete}},
    {"UPDATE t SET a = (SELECT b FROM u WHERE u.id = t.id)", {kUpdate}},  // a correlated SET is no WHERE
    // PREPARE: the body is classified
    {"PREPARE p AS DELETE FROM t", {kDelete}},
    {"PREPARE p(int) AS UPDATE t SET a = $1", {kUpdate}},
    {"prepare p as with d as (delete from t returning 1) select 1", {kDelete}},
    {"PREPARE p(bool) AS DELETE FROM t WHERE $1", {kDelete}},
    {"PREPARE p(int) AS DELETE FROM t WHERE id = $1", kAllowed},
    // EXPLAIN: ANALYZE runs the statement, plain EXPLAIN does not
    {"EXPLAIN ANALYZE DELETE FROM t", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE) UPDATE t SET a = 1", {kUpdate, kExplain}},
    {"EXPLAIN (ANALYZE true, BUFFERS) DELETE FROM t", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE on) DELETE FROM t", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE 1) DELETE FROM t", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE 'TRUE') DELETE FROM t", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE false, ANALYZE) DELETE FROM t", {kDelete, kExplain}},
    {"explain analyze verbose update t set a = 1", {kUpdate, kExplain}},
    {"EXPLAIN ANALYZE WITH d AS (DELETE FROM t RETURNING 1) SELECT 1", {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE, FORMAT JSON) MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
     {kDelete, kExplain}},
    {"EXPLAIN (ANALYZE off) DELETE FROM t", kAllowed},
    {"EXPLAIN (ANALYZE, ANALYZE 'off') DELETE FROM t", kAllowed},
    {"EXPLAIN DELETE FROM t", kAllowed},
    {"EXPLAIN ANALYZE SELECT 1", kAllowed},
    {"EXPLAIN ANALYZE DELETE FROM t WHERE id = 1", kAllowed},
    // rule actions
    {"CREATE RULE r AS ON INSERT TO t DO INSTEAD DELETE FROM u", {kDelete}},
    {"CREATE RULE r AS ON INSERT TO t DO ALSO (SELECT 1; UPDATE u SET a = 1)", {kUpdate}},
    {"CREATE RULE r AS ON INSERT TO t DO ALSO DELETE FROM u WHERE NEW.id = 1", {kDelete}},
    {"CREATE RULE r AS ON DELETE TO t DO ALSO DELETE FROM u WHERE u.id = OLD.id", kAllowed},
    {"CREATE RULE r AS ON INSERT TO t DO INSTEAD NOTHING", kAllowed},
    // COPY: PROGRAM, and a query that writes
    {"copy t to program $$cat$$", {kProgram}},
    {R"(COPY t TO PROGRAM E'cat \x3e /tmp/x')", {kProgram}},
    {"COPY (DELETE FROM t RETURNING *) TO STDOUT", {kDelete}},
    {"COPY (SELECT 1) TO STDOUT", kAllowed},
    // MERGE
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", {kDelete}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET a = s.a", {kUpdate}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND true THEN DELETE", {kDelete}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND 1 = 1 THEN UPDATE SET a = 1", {kUpdate}},
    {"MERGE INTO t a USING s b ON a.id = b.id WHEN MATCHED AND b.gone THEN DELETE WHEN MATCHED THEN UPDATE SET x = 1",
     {kUpdate}},
    {"WITH s AS (SELECT 1 AS id) MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE", {kDelete}},
    {"MERGE INTO t USING s ON true WHEN MATCHED THEN DELETE", {kDelete}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND (SELECT true) THEN DELETE", {kDelete}},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED AND t.a > 0 THEN DELETE", kAllowed},
    {"MERGE INTO t USING s ON t.id = s.id WHEN NOT MATCHED THEN INSERT VALUES (s.id)", kAllowed},
    {"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DO NOTHING", kAllowed},
    // WHEREs that do not restrict
    {"DELETE FROM t WHERE true", {kDelete}},
    {"DELETE FROM t WHERE 1 = 1", {kDelete}},
    {"DELETE FROM t WHERE 'a' = 'a'", {kDelete}},
    {"DELETE FROM t WHERE now() IS NOT NULL", {kDelete}},
    {"DELETE FROM t WHERE EXISTS (SELECT 1)", {kDelete}},
    {"DELETE FROM t WHERE $1", {kDelete}},
    {"DELETE FROM t WHERE id = 1 OR true", {kDelete}},
    {"DELETE FROM t WHERE NOT false", {kDelete}},
    {"DELETE FROM t WHERE (id = 1 OR 1 = 1) AND 2 = 2", {kDelete}},
    {"DELETE FROM t WHERE ((((true))))", {kDelete}},
    {"DELETE FROM t WHERE CASE WHEN true THEN true END", {kDelete}},
    {"DELETE FROM t WHERE coalesce(NULL, true)", {kDelete}},
    {"DELETE FROM t WHERE current_user = 'app'", {kDelete}},
    {"DELETE FROM t WHERE random() < 2", {kDelete}},
    {"UPDATE t SET a = 1 WHERE 1::bool", {kUpdate}},
    {"DELETE FROM t USING u", {kDelete}},
    {"DELETE FROM t USING u WHERE u.flag", {kDelete}},
    {"UPDATE t SET a = u.a FROM u", {kUpdate}},
    {"UPDATE t SET a = 1 FROM u WHERE u.id = 5", {kUpdate}},
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.x = 1)", {kDelete}},
    {"DELETE FROM t WHERE (SELECT count(*) FROM u) > 0", {kDelete}},
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u AS t WHERE t.x = 1)", {kDelete}},  // the inner t hides the target
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM t WHERE t.x = 1)", {kDelete}},
    {"DELETE FROM t x WHERE (SELECT max(x.a) FROM (SELECT 1 AS a) AS x) > 0", {kDelete}},
    {"DELETE FROM t AS x WHERE t.id = 1", {kDelete}},  // t is hidden by its alias (an error on the server)
    // WHEREs that do
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM u WHERE u.tid = t.id)", kAllowed},
    {"DELETE FROM t x WHERE EXISTS (SELECT 1 FROM u WHERE u.tid = x.id)", kAllowed},
    {"DELETE FROM t WHERE EXISTS (SELECT 1 FROM t AS t2 WHERE t2.id = t.parent)", kAllowed},
    {"DELETE FROM t WHERE id IN (SELECT tid FROM u)", kAllowed},
    {"DELETE FROM t USING u WHERE t.uid = u.id", kAllowed},
    {"DELETE FROM t WHERE CURRENT OF c", kAllowed},
    {"UPDATE t SET a = 1 WHERE CURRENT OF c", kAllowed},
    {"DELETE FROM t WHERE id = 1 OR id = 2", kAllowed},
    {"DELETE FROM t WHERE NOT (id = 1)", kAllowed},
    {"DELETE FROM t WHERE id = 1 AND true", kAllowed},
    {"DELETE FROM public.t WHERE public.t.id = 1", kAllowed},
    // unparsable input: blocked or allowed by the caller's `unparsable`
    {"DROP TABLE", {kUnparsable}},
    {"DELETE t", {kUnparsable}},
    {"SELECT 'unterminated", {kUnparsable}},
    {"/* unterminated comment DROP TABLE t", {kUnparsable}},
    {"SELECT $$ unterminated", {kUnparsable}},
    {"DROP TABLE t; SELEC 1", {kUnparsable}},
    {"SELECT 1 /* /* */ DROP TABLE t", {kUnparsable}},  // the nested comment is still open
};

class DefaultRules : public ::testing::TestWithParam<Case> {};

// The word scan that spares most texts the parse must flag every text a rule finds something in.
void expect_scan_flags(const Case& c) {
    const GuardVerdict verdict = classify(c.sql);
    if (!verdict.findings.empty()) {
        EXPECT_TRUE(may_break_rule(c.sql)) << "the word scan misses: " << c.sql;
    }
}

TEST_P(DefaultRules, Classifies) {
    const Case& c = GetParam();
    EXPECT_EQ(names(rules_of(c.sql, true)), names(c.expected)) << c.sql;
    expect_scan_flags(c);
}

INSTANTIATE_TEST_SUITE_P(Plain, DefaultRules, ::testing::ValuesIn(kPlain));
INSTANTIATE_TEST_SUITE_P(Evasion, DefaultRules, ::testing::ValuesIn(kEvasion));

TEST(GuardCorpus, IsLargeAndMostlyAdversarial) {
    const std::size_t plain = std::size(kPlain);
    const std::size_t evasion = std::size(kEvasion);
    EXPECT_GE(plain + evasion, 150U);
    EXPECT_GE(evasion, plain);
}

// The optional pack: reported, never in the default set.
const Case kMigration[] = {
    {"ALTER TABLE t RENAME TO u", {Rule::Rename}},
    {"ALTER TABLE t RENAME COLUMN a TO b", {Rule::Rename}},
    {"ALTER TABLE t ALTER COLUMN a TYPE bigint", {Rule::AlterColumnType}},
    {"ALTER TABLE t ALTER COLUMN a TYPE text, DROP COLUMN b", {Rule::AlterColumnType, kDropColumn}},
    {"ALTER TABLE t ALTER COLUMN a SET NOT NULL", {Rule::SetNotNull}},
    {"ALTER TABLE t ADD COLUMN b int NOT NULL", {Rule::AddNotNullColumn}},
    {"ALTER TABLE t ADD COLUMN b int PRIMARY KEY", {Rule::AddNotNullColumn}},  // ADD CONSTRAINT only
    {"ALTER TABLE t ADD COLUMN b int NOT NULL DEFAULT 0", kAllowed},
    {"ALTER TABLE t ADD COLUMN b int GENERATED ALWAYS AS IDENTITY", kAllowed},
    {"ALTER TABLE t ADD COLUMN b int", kAllowed},
    {"CREATE INDEX i ON t (a)", {Rule::IndexNotConcurrently}},
    {"CREATE UNIQUE INDEX i ON t (a)", {Rule::IndexNotConcurrently}},
    {"CREATE INDEX CONCURRENTLY i ON t (a)", kAllowed},
    {"DROP INDEX i", {kDrop, Rule::IndexNotConcurrently}},
    {"DROP INDEX CONCURRENTLY i", {kDrop}},
    {"ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0)", {Rule::ConstraintNotValid}},
    {"ALTER TABLE t ADD CONSTRAINT c CHECK (a > 0) NOT VALID", kAllowed},
    {"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id)", {Rule::ConstraintNotValid}},
    {"ALTER TABLE t ADD CONSTRAINT f FOREIGN KEY (a) REFERENCES u (id) NOT VALID", kAllowed},
    {"ALTER TABLE t ADD CONSTRAINT k UNIQUE (a)", {Rule::ConstraintNotValid}},
    {"ALTER TABLE t ADD CONSTRAINT k UNIQUE USING INDEX i", kAllowed},
    {"ALTER TABLE t VALIDATE CONSTRAINT c", kAllowed},
    {"VACUUM FULL t", {Rule::VacuumFull}},
    {"VACUUM (FULL, ANALYZE) t", {Rule::VacuumFull}},
    {"VACUUM (FULL false) t", kAllowed},
    {"VACUUM t", kAllowed},
    {"CLUSTER t USING i", {Rule::Cluster}},
    {"LOCK TABLE t IN ACCESS EXCLUSIVE MODE", {Rule::LockTable}},
    {"LOCK t", {Rule::LockTable}},
};

class MigrationSafety : public ::testing::TestWithParam<Case> {};

TEST_P(MigrationSafety, Classifies) {
    const Case& c = GetParam();
    EXPECT_EQ(names(rules_of(c.sql, false)), names(c.expected)) << c.sql;
    expect_scan_flags(c);
}

INSTANTIATE_TEST_SUITE_P(Pack, MigrationSafety, ::testing::ValuesIn(kMigration));

struct Expected {
    Rule rule;
    std::string statement_type;
    std::string table;
    std::size_t statement_index;
    friend bool operator==(const Expected&, const Expected&) = default;
};

std::ostream& operator<<(std::ostream& out, const Expected& e) {
    return out << to_string(e.rule) << "(" << e.statement_type << ", " << e.table << ", #" << e.statement_index << ")";
}

std::vector<Expected> findings(std::string_view sql) {
    const GuardVerdict verdict = classify(sql);
    EXPECT_TRUE(verdict.parsed) << sql << ": " << verdict.error;
    std::vector<Expected> out;
    for (const Finding& f : verdict.findings) out.push_back({f.rule, f.statement_type, f.table, f.statement_index});
    return out;
}

using E = std::vector<Expected>;

TEST(GuardFindings, NameStatementTypeTableAndIndex) {
    EXPECT_EQ(findings("SELECT 1; DROP TABLE public.a, \"B\""),
              (E{{kDrop, "DROP TABLE", "public.a", 1}, {kDrop, "DROP TABLE", "B", 1}}));
    EXPECT_EQ(findings("TRUNCATE s.t, u"), (E{{kTruncate, "TRUNCATE", "s.t", 0}, {kTruncate, "TRUNCATE", "u", 0}}));
    EXPECT_EQ(findings("SELECT 1; SELECT 2; DELETE FROM ONLY s.t"), (E{{kDelete, "DELETE", "s.t", 2}}));
    EXPECT_EQ(findings("UPDATE t AS x SET a = 1"), (E{{kUpdate, "UPDATE", "t", 0}}));
    EXPECT_EQ(findings("MERGE INTO s.t USING u ON t.id = u.id WHEN MATCHED THEN DELETE"),
              (E{{kDelete, "MERGE", "s.t", 0}}));
    EXPECT_EQ(findings("EXPLAIN ANALYZE DELETE FROM t"),
              (E{{kDelete, "DELETE", "t", 0}, {kExplain, "EXPLAIN ANALYZE", "t", 0}}));
    EXPECT_EQ(findings("DROP TRIGGER tr ON s.t"), (E{{kDrop, "DROP TRIGGER", "s.t", 0}}));
    EXPECT_EQ(findings("DROP SCHEMA s"), (E{{kDrop, "DROP SCHEMA", "", 0}}));
    EXPECT_EQ(findings("DROP OWNED BY r"), (E{{kDrop, "DROP OWNED", "", 0}}));
    EXPECT_EQ(findings("DROP DATABASE d"), (E{{kDrop, "DROP DATABASE", "", 0}, {kDatabase, "DROP DATABASE", "", 0}}));
    EXPECT_EQ(findings("ALTER TYPE ty DROP ATTRIBUTE a"), (E{{kDropColumn, "ALTER TYPE", "ty", 0}}));
    EXPECT_EQ(findings("ALTER TABLE s.t DROP COLUMN a"), (E{{kDropColumn, "ALTER TABLE", "s.t", 0}}));
    EXPECT_EQ(findings("COPY s.t TO PROGRAM 'cat'"), (E{{kProgram, "COPY", "s.t", 0}}));
    EXPECT_EQ(findings("CREATE PROCEDURE p() LANGUAGE sql AS 'SELECT 1'"), (E{{kOpaque, "CREATE PROCEDURE", "", 0}}));
    EXPECT_EQ(findings("DO 'BEGIN END'"), (E{{kOpaque, "DO", "", 0}}));
    EXPECT_EQ(findings("ALTER SYSTEM SET fsync = off"), (E{{kSystem, "ALTER SYSTEM", "", 0}}));
    EXPECT_EQ(findings("CREATE DATABASE d"), (E{{kDatabase, "CREATE DATABASE", "", 0}}));
}

TEST(GuardFindings, UnparsableCarriesTheParserMessage) {
    const GuardVerdict verdict = classify("DROP TABLE");
    EXPECT_FALSE(verdict.parsed);
    EXPECT_NE(verdict.error.find("syntax error"), std::string::npos) << verdict.error;
    EXPECT_TRUE(verdict.findings.empty());
}

TEST(GuardFindings, ClassifiesAnExistingParseTree) {
    const ParseTree tree = ParseTree::parse("SELECT 1; TRUNCATE t");
    const GuardVerdict verdict = classify(tree);
    ASSERT_TRUE(verdict.parsed);
    ASSERT_EQ(verdict.findings.size(), 1U);
    EXPECT_EQ(verdict.findings[0].rule, kTruncate);
    EXPECT_EQ(verdict.findings[0].statement_index, 1U);
    EXPECT_FALSE(classify(ParseTree::parse("SELEC 1")).parsed);
}

// Deep expressions and long chains must not exhaust the stack, and fail closed past the limit.
TEST(GuardFindings, DeepConditionsDoNotCrash) {
    std::string nots = "DELETE FROM t WHERE ";
    for (int i = 0; i < 2000; ++i) nots += "NOT ";
    nots += "id = 1";
    const GuardVerdict deep = classify(nots);
    if (deep.parsed) {  // the parser may refuse the depth itself
        ASSERT_EQ(deep.findings.size(), 1U);
        EXPECT_EQ(deep.findings[0].rule, kDelete);
    }
    std::string ors = "DELETE FROM t WHERE id = 0";
    for (int i = 1; i < 5000; ++i) ors += " OR id = " + std::to_string(i);
    EXPECT_TRUE(classify(ors).findings.empty());
}

TEST(GuardRules, NamesRoundTrip) {
    const std::vector<std::string_view> names{
        "drop", "truncate", "delete_without_where", "update_without_where", "alter_drop_column", "alter_system",
        "copy_program", "create_drop_database", "opaque_code", "explain_analyze", "unparsable", "rename",
        "alter_column_type", "set_not_null", "add_not_null_column", "index_not_concurrently", "constraint_not_valid",
        "vacuum_full", "cluster", "lock_table"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        const auto rule = static_cast<Rule>(i);
        EXPECT_EQ(to_string(rule), names[i]);
        EXPECT_EQ(rule_from_string(names[i]), rule) << names[i];
        EXPECT_EQ(is_default(rule), i <= static_cast<std::size_t>(Rule::Unparsable)) << names[i];
    }
    EXPECT_EQ(rule_from_string("DROP"), std::nullopt);  // names are exact
    EXPECT_EQ(rule_from_string("delete_no_where"), std::nullopt);
    EXPECT_EQ(rule_from_string(""), std::nullopt);
}

}  // namespace
}  // namespace sluice::sql
