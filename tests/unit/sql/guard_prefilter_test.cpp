// may_break_rule(): the word scan in front of the guard's parse. Soundness over the classifier's
// whole corpus is checked in guard_test.cpp; here, what it must flag however the words are written,
// and what it lets pass unparsed (the hot path: ordinary queries).
#include <gtest/gtest.h>

#include "protocol/sql/guard.hpp"

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

}  // namespace
}  // namespace sluice::sql
