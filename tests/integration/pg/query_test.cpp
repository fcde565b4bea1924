// Simple and extended queries through BlockingClient against real PostgreSQL: rows, NULLs,
// command tags, errors with SQLSTATE, notices, transaction status.
#include <gtest/gtest.h>

#include <string>

#include "protocol/sqlstate.hpp"
#include "tests/support/cluster_client.hpp"

namespace sluice::testing {
namespace {

using protocol::TxStatus;

class Query : public ::testing::Test {
protected:
    BlockingClient client_ = BlockingClient::connect(connect_options(PgCluster::shared(), kScramRole));
};

TEST_F(Query, SimpleRowsNullsAndTags) {
    auto r = client_.simple_query("SELECT 1 AS one, NULL::text AS nothing, 'x''y' AS quoted, ''::text AS empty");
    ASSERT_TRUE(r.ok()) << r.error->message();
    EXPECT_EQ(r.columns, (std::vector<std::string>{"one", "nothing", "quoted", "empty"}));
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.at(0, 0), "1");
    EXPECT_EQ(r.at(0, 1), std::nullopt);
    EXPECT_EQ(r.at(0, 2), "x'y");
    EXPECT_EQ(r.at(0, 3), std::optional<std::string>(""));  // empty string is not NULL
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"SELECT 1"}));
    EXPECT_EQ(r.tx_status, TxStatus::Idle);
}

TEST_F(Query, SeveralStatementsInOneQuery) {
    auto r = client_.simple_query(
        "CREATE TEMP TABLE t (id int, v text); INSERT INTO t VALUES (1, 'a'), (2, NULL); "
        "UPDATE t SET v = 'b' WHERE id = 2; SELECT id, v FROM t ORDER BY id; DELETE FROM t");
    ASSERT_TRUE(r.ok()) << r.error->message();
    EXPECT_EQ(r.command_tags,
              (std::vector<std::string>{"CREATE TABLE", "INSERT 0 2", "UPDATE 1", "SELECT 2", "DELETE 2"}));
    ASSERT_EQ(r.rows.size(), 2u);
    EXPECT_EQ(r.rows[1], (Row{"2", "b"}));
}

TEST_F(Query, EmptyQuery) {
    auto r = client_.simple_query("");
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.empty_query);
    EXPECT_TRUE(r.command_tags.empty());
}

TEST_F(Query, ErrorCarriesSqlstateAndSessionSurvives) {
    auto r = client_.simple_query("SELECT 1/0");
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.sqlstate(), "22012");
    EXPECT_EQ(r.error->severity(), "ERROR");
    EXPECT_EQ(r.error->message(), "division by zero");

    r = client_.simple_query("SELEC 1");
    EXPECT_EQ(r.sqlstate(), protocol::sqlstate::kSyntaxError);
    EXPECT_TRUE(r.error->get(protocol::ErrorField::Position).has_value());

    EXPECT_EQ(client_.simple_query("SELECT 2").at(0, 0), "2");
}

TEST_F(Query, TransactionStatusFollowsReadyForQuery) {
    EXPECT_EQ(client_.simple_query("BEGIN").tx_status, TxStatus::InTransaction);
    auto r = client_.simple_query("SELECT * FROM no_such_table");
    EXPECT_EQ(r.sqlstate(), "42P01");
    EXPECT_EQ(r.tx_status, TxStatus::InFailedTransaction);
    EXPECT_EQ(client_.simple_query("SELECT 1").sqlstate(), "25P02");
    r = client_.simple_query("ROLLBACK");
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"ROLLBACK"}));
    EXPECT_EQ(r.tx_status, TxStatus::Idle);
    EXPECT_EQ(client_.tx_status(), TxStatus::Idle);
}

TEST_F(Query, NoticesAreCollected) {
    auto r = client_.simple_query("DO $$BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful'; END$$");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.notices.size(), 2u);
    EXPECT_EQ(r.notices[0].severity(), "NOTICE");
    EXPECT_EQ(r.notices[0].code(), "00000");
    EXPECT_EQ(r.notices[0].message(), "hello 42");
    EXPECT_EQ(r.notices[1].severity(), "WARNING");
    EXPECT_EQ(r.notices[1].code(), "01000");
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"DO"}));
}

TEST_F(Query, ParameterStatusUpdatesAreTracked) {
    ASSERT_TRUE(client_.simple_query("SET application_name = 'tracked'").ok());
    EXPECT_EQ(client_.parameter("application_name"), "tracked");
}

TEST_F(Query, ExtendedWithParametersAndNulls) {
    auto r = client_.extended_query("SELECT $1::int + 1 AS n, $2::text IS NULL AS is_null, $3::text AS s",
                                    {"41", std::nullopt, "héllo"});
    ASSERT_TRUE(r.ok()) << r.error->message();
    EXPECT_EQ(r.columns, (std::vector<std::string>{"n", "is_null", "s"}));
    ASSERT_EQ(r.rows.size(), 1u);
    EXPECT_EQ(r.rows[0], (Row{"42", "t", "héllo"}));
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"SELECT 1"}));

    r = client_.extended_query("SELECT NULL::int");
    EXPECT_EQ(r.at(0, 0), std::nullopt);

    r = client_.extended_query("CREATE TEMP TABLE e (x int)");
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"CREATE TABLE"}));
    EXPECT_TRUE(r.columns.empty());  // NoData
    r = client_.extended_query("INSERT INTO e SELECT generate_series(1, $1::int)", {"3"});
    EXPECT_EQ(r.command_tags, (std::vector<std::string>{"INSERT 0 3"}));
}

TEST_F(Query, ExtendedErrorsResyncAtSync) {
    auto r = client_.extended_query("SELECT $1::int", {"not a number"});
    EXPECT_EQ(r.sqlstate(), "22P02");
    r = client_.extended_query("SELEC");
    EXPECT_EQ(r.sqlstate(), protocol::sqlstate::kSyntaxError);
    EXPECT_EQ(client_.extended_query("SELECT 7").at(0, 0), "7");
}

TEST_F(Query, LargeResultsArriveInPieces) {
    auto r = client_.simple_query("SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g");
    ASSERT_TRUE(r.ok());
    ASSERT_EQ(r.rows.size(), 20000u);
    EXPECT_EQ(r.rows.back()[0], "20000");
    EXPECT_EQ(r.command_tags.back(), "SELECT 20000");

    // One DataRow far larger than a socket read.
    r = client_.extended_query("SELECT repeat('ab', $1::int)", {"1000000"});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.at(0, 0)->size(), 2000000u);
}

TEST_F(Query, CopyFromStdinIsRefusedCleanly) {
    ASSERT_TRUE(client_.simple_query("CREATE TEMP TABLE c (x int)").ok());
    auto r = client_.simple_query("COPY c FROM STDIN");
    EXPECT_EQ(r.sqlstate(), "57014");  // CopyFail
    EXPECT_EQ(client_.simple_query("SELECT count(*) FROM c").at(0, 0), "0");
}

}  // namespace
}  // namespace sluice::testing
