// may_change_session(): the property that lets the proxy skip the parse (never false for a text
// analyze() reports a change for), over a corpus of realistic queries in several spellings, and
// that it does say false for the everyday ones.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/sql/session_state.hpp"
#include "protocol/sql/byte_masks.hpp"

namespace sluice::sql {
namespace {

// Each case on both paths the machine may take: SSE2, and AVX2 where it has it (elsewhere the
// second run takes SSE2 again).
class Prefilter : public testing::TestWithParam<bool> {
protected:
    void SetUp() override { sql::bytes::set_use_avx2(GetParam()); }
    void TearDown() override { sql::bytes::set_use_avx2(true); }
};

// tests/unit/sql/data/queries.sql: queries separated by lines holding only "@@".
std::vector<std::string> corpus() {
    std::ifstream in(std::filesystem::path(SLUICE_TEST_DATA_DIR) / "unit/sql/data/queries.sql");
    std::vector<std::string> out;
    std::string current;
    for (std::string line; std::getline(in, line);) {
        if (line == "@@") {
            out.push_back(current);
            current.clear();
        } else {
            if (!current.empty()) current += '\n';
            current += line;
        }
    }
    if (!current.empty()) out.push_back(current);
    return out;
}

std::string upper(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return s;
}
std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

TEST_P(Prefilter, NeverMissesAChangeAnalyzeReports) {
    const std::vector<std::string> queries = corpus();
    ASSERT_GE(queries.size(), 200u);
    std::size_t checked = 0;
    std::size_t with_changes = 0;
    for (const std::string& q : queries) {
        // Every query as written, re-cased (quoted names change meaning, the property must still
        // hold), behind comments, and after another statement.
        for (const std::string& s : {q, upper(q), lower(q), "/* c */" + q, "-- c\n" + q, "SELECT 1;" + q,
                                     "select 1 ;\n\t" + q, q + ";"}) {
            const Analysis a = analyze(s);
            if (!a.changes.empty()) ++with_changes;
            EXPECT_TRUE(may_change_session(s) || a.changes.empty())
                << "prefilter said no, analyze found " << to_string(a.changes.front().effect) << " in: " << s;
            ++checked;
        }
    }
    EXPECT_GE(checked, 1600u);
    EXPECT_GE(with_changes, 300u);  // the corpus exercises the positive side too
}

TEST_P(Prefilter, SaysYesForSessionKeywords) {
    for (std::string_view sql : {"SET a.b = 1", "reset all", "LISTEN x", "unlisten *", "select pg_advisory_lock(1)",
                                 "CREATE TEMP TABLE t()", "create temporary view v as select 1",
                                 "create table pg_temp.t()", "DECLARE c CURSOR WITH HOLD FOR SELECT 1", "CLOSE c",
                                 "PREPARE p AS SELECT 1", "DEALLOCATE p", "DISCARD ALL", "LOAD 'x'",
                                 "select set_config('a','b',false)", "SELECT U&\"\\0073et_config\"('a', 'b', false)",
                                 "SELECT 1;SET a.b = 1", "UPDATE t SET a = 1; SET b.c = 2", "/**/SET a.b = 1",
                                 "SELECT '/*'; SET a.b = 1", "select * from pg_temp_123.t",
                                 "SELECT PG_TRY_ADVISORY_LOCK(1)", "select Set_Config('a', 'b', false)",
                                 "select u&\"x\"", "select 1 from t\nwhere a = 1;\n  RESET x"}) {
        EXPECT_TRUE(may_change_session(sql)) << sql;
    }
}

// The first pass reads the text in blocks (16 bytes, 64 a step): a keyword must be found wherever it
// starts and ends relative to them, including a word that runs across one or ends the text.
TEST_P(Prefilter, FindsKeywordsAtEveryOffset) {
    for (std::string_view sql : {"SET a.b = 1", "reset all", "LISTEN x", "select pg_advisory_lock(1)", "CREATE TEMP TABLE t()",
                                 "DEALLOCATE p", "select * from pg_temp_123.t", "select u&\"x\"",
                                 "select set_config('a','b',false)", "select 1; discard all", "select 1;UNLISTEN"}) {
        for (std::size_t pad = 0; pad < 80; ++pad) {
            for (std::size_t tail = 0; tail < 18; ++tail) {
                for (const std::string& prefix : {std::string(pad, ' '), "select 1;" + std::string(pad, '\n'),
                                                  "/*" + std::string(pad, 'x') + "*/"}) {
                    const std::string text = prefix + std::string(sql) + std::string(tail, ' ');
                    EXPECT_TRUE(may_change_session(text)) << "'" << text << "'";
                }
            }
        }
    }
    for (std::size_t pad = 0; pad < 80; ++pad) {
        for (std::size_t tail = 0; tail < 18; ++tail) {
            const std::string text = std::string(pad, ' ') + "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;" +
                                     std::string(tail, ' ');
            EXPECT_FALSE(may_change_session(text)) << "'" << text << "'";
        }
    }
    // Words longer than a step: one that is a candidate, and one before a candidate.
    for (std::size_t length = 50; length < 140; ++length) {
        const std::string name(length, 'x');
        EXPECT_TRUE(may_change_session("select * from pg_temp_" + name + ".t")) << length;
        EXPECT_TRUE(may_change_session("select " + name + "; set a.b = 1")) << length;
        EXPECT_FALSE(may_change_session("select " + name + " from t")) << length;
    }
}

TEST_P(Prefilter, SaysNoForEverydayQueries) {
    for (std::string_view sql :
         {"SELECT 1", "UPDATE pgbench_accounts SET abalance = abalance + $1 WHERE aid = $2",
          "update \"users\" set \"name\" = $1 where id = $2", "INSERT INTO t VALUES (1) ON CONFLICT (a) DO UPDATE SET a = 2",
          "SELECT * FROM orders ORDER BY id LIMIT 20 OFFSET 40", "SELECT * FROM assets WHERE dataset_id = $1",
          "SELECT setting FROM pg_settings", "ALTER TABLE t ALTER COLUMN a SET NOT NULL", "BEGIN", "COMMIT",
          "SHOW search_path", "SELECT pg_advisory_xact_lock(1)" /* "advisory": a false positive, see below */,
          "SELECT payload, download_url FROM files", "DELETE FROM t WHERE id = $1",
          "SELECT * FROM users WHERE name = 'x' -- a comment"}) {
        if (std::string_view(sql).find("advisory") != std::string_view::npos) {
            EXPECT_TRUE(may_change_session(sql)) << sql;  // the xact variants are left to the parse
        } else {
            EXPECT_FALSE(may_change_session(sql)) << sql;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, Prefilter, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Avx2" : "Sse2"; });

}  // namespace
}  // namespace sluice::sql
