// may_break_rule(): the word scan in front of the guard's parse. Soundness over the classifier's
// whole corpus is checked in guard_test.cpp; here, what it must flag however the words are written,
// and what it lets pass unparsed (the hot path: ordinary queries).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <string_view>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/lexical.hpp"

namespace sluice::sql {
namespace {

TEST(GuardPrefilter, OrdinaryQueriesAreNotParsed) {
    for (const char* sql : {"SELECT abalance FROM pgbench_accounts WHERE aid = 48213;",
                            "SELECT abalance FROM pgbench_accounts WHERE aid = $1",
                            "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 2, 3, 4, now())",
                            "BEGIN", "COMMIT", "SELECT 1", "SET application_name = 'x'", "",
                            "select * from updates_log join dropped_items using (id)", "SELECT docs FROM t"})
        EXPECT_FALSE(may_break_rule(sql)) << sql;
}

TEST(GuardPrefilter, FlagsEveryGuardedWordHoweverWritten) {
    for (const char* sql : {"DROP TABLE t", "drop table t", "DrOp TaBlE t", "TRUNCATE t", "DELETE FROM t",
                            "UPDATE t SET a = 1", "ALTER SYSTEM SET x = 1", "COPY t TO PROGRAM 'x'", "CREATE DATABASE d",
                            "DO $$ BEGIN END $$", "VACUUM FULL t", "CLUSTER t", "LOCK t",
                            "/* c */DROP/**/TABLE t", "SELECT 1;DROP TABLE t", "(DELETE FROM t)",
                            "WITH d AS(DELETE FROM t RETURNING 1)SELECT 1", "\tdrop\ntable t", "x;drop",
                            "SELECT 1\n--c\nDELETE FROM t", "1delete", "$1drop", "EXPLAIN ANALYZE DELETE FROM t",
                            "PREPARE p AS DELETE FROM t", "SELECT 'DROP' AS word"})
        EXPECT_TRUE(may_break_rule(sql)) << sql;
}

TEST(GuardPrefilter, WordsMustBeWhole) {
    for (const char* sql : {"SELECT dropped FROM t", "SELECT * FROM t_drop", "SELECT updated_at",
                            "SELECT lockdown", "SELECT creates", "SELECT done"})
        EXPECT_FALSE(may_break_rule(sql)) << sql;
}

TEST(GuardPrefilter, WordsStartAtEveryPositionOfSixteenByteBlocks) {
    // The scan reads sixteen bytes a step: a word at each offset, across block edges, at the end.
    for (std::size_t pad = 0; pad < 40; ++pad) {
        const std::string spaces(pad, ' ');
        EXPECT_TRUE(may_break_rule(spaces + "drop table t")) << pad;
        EXPECT_TRUE(may_break_rule(spaces + "x;Update")) << pad;
        EXPECT_TRUE(may_break_rule(spaces + "1delete")) << pad;
        EXPECT_FALSE(may_break_rule(std::string(pad + 1, 'x') + "drop")) << pad;  // inside a longer word
        EXPECT_FALSE(may_break_rule(std::string(pad, '_') + "_lock")) << pad;
        EXPECT_FALSE(may_break_rule(spaces + "dropped")) << pad;
        EXPECT_FALSE(may_break_rule(spaces + "dro")) << pad;  // cut short by the end of the text
    }
}

// The scan as it was written first, a byte at a time: the block scan must agree with it on any text.
bool may_break_rule_bytewise(std::string_view sql) {
    auto word_byte = [](unsigned char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c >= 0x80;
    };
    for (std::size_t i = 0; i < sql.size(); ++i) {
        if (i > 0 && word_byte(static_cast<unsigned char>(sql[i - 1]))) continue;
        for (std::string_view word : {"alter", "cluster", "copy", "create", "delete", "do", "drop", "lock",
                                      "truncate", "update", "vacuum"}) {
            const std::string_view rest = sql.substr(i);
            if (rest.size() < word.size() || !lexical::equals_ci(rest.substr(0, word.size()), word)) continue;
            if (rest.size() == word.size() || !lexical::is_ident_char(static_cast<unsigned char>(rest[word.size()])))
                return true;
        }
    }
    return false;
}

TEST(GuardPrefilter, AgreesWithTheByteAtATimeScanOnRandomTexts) {
    std::mt19937 rng(20261204);
    const std::vector<std::string> pieces = {"drop", "DELETE", "do", "Update", "lock", "alter", "vacuum", "copy",
                                             "create", "cluster", "truncate", "dro", "dropped", "_", "$", "1", " ",
                                             "\n", ";", "x", "\xc3\xa9", "'", "--", "/*", "a", "t", "v"};
    std::uniform_int_distribution<std::size_t> pick(0, pieces.size() - 1);
    std::uniform_int_distribution<int> count(0, 24);
    int flagged = 0;
    for (int round = 0; round < 20000; ++round) {
        std::string sql;
        for (int k = count(rng); k > 0; --k) sql += pieces[pick(rng)];
        ASSERT_EQ(may_break_rule(sql), may_break_rule_bytewise(sql)) << sql;
        flagged += may_break_rule(sql) ? 1 : 0;
    }
    EXPECT_GT(flagged, 1000);  // both answers are exercised
    EXPECT_LT(flagged, 19000);
}

}  // namespace
}  // namespace sluice::sql
