// Issue 11: [[guard.custom]] rules through the real sluice: by function called, by table and
// statement kind (nested statements and unqualified names included), by fingerprint; lifted per
// user with `allow`.
#include <gtest/gtest.h>

#include <string>

#include "protocol/sql/parse_tree.hpp"
#include "tests/integration/guard/guard_support.hpp"

namespace sluice::testing::guard {
namespace {

class GuardCustom : public ::testing::Test {
protected:
    void SetUp() override { reset_fixture(); }
};

std::string custom_rules() {
    const std::string fingerprint = sql::fingerprint("SELECT 42 AS answer").value_or("?");
    return "[[guard.custom]]\nname = \"no_backend_kills\"\nfunction = [\"pg_terminate_backend\"]\n"
           "[[guard.custom]]\nname = \"accounts_read_only\"\ntable = [\"g.accounts\"]\n"
           "statement = [\"update\", \"delete\", \"truncate\"]\n"
           "[[guard.custom]]\nname = \"no_answers\"\nfingerprint = [\"" + fingerprint + "\"]\n"
           "[[guard.override]]\nuser = \"postgres\"\nallow = [\"accounts_read_only\"]\n";
}

TEST_F(GuardCustom, CustomRulesBlockWhatTheyFind) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n", custom_rules()));
    auto c = BlockingClient::connect(sluice_client(sluice, kTrustRole));

    auto kill = c.simple_query("SELECT pg_terminate_backend(pg_backend_pid() + 1000000)");
    expect_blocked(kill, "no_backend_kills", "pg_terminate_backend");
    EXPECT_NE(field(*kill.error, protocol::ErrorField::Detail).find("function pg_terminate_backend()"), std::string::npos);
    expect_blocked(c.extended_query("SELECT x FROM (SELECT pg_catalog.pg_terminate_backend($1::int) AS x) s", {"0"}),
                   "no_backend_kills", "qualified, nested, extended");

    for (const char* sql : {"UPDATE g.accounts SET balance = 1 WHERE id = 1",
                            "WITH x AS (UPDATE G.ACCOUNTS SET balance = 2 WHERE id = 2 RETURNING 1) SELECT * FROM x",
                            "SET search_path = g, public; DELETE FROM accounts WHERE id = 3"})
        expect_blocked(c.simple_query(sql), "accounts_read_only", sql);
    EXPECT_EQ(pg().exec_superuser("SELECT sum(balance) FROM g.accounts")[0][0], "150");
    EXPECT_TRUE(c.simple_query("SELECT count(*) FROM g.accounts").ok());
    EXPECT_TRUE(c.simple_query("UPDATE g.scratch SET v = 'z' WHERE id = 1").ok());

    expect_blocked(c.simple_query("select 43   as answer"), "no_answers", "same shape, other literal");
    auto other = c.simple_query("SELECT now()");  // another shape
    EXPECT_TRUE(other.ok()) << (other.error ? other.error->message() : "");

    // The exception: postgres may write to g.accounts, and is still refused the others.
    auto admin = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    EXPECT_TRUE(admin.simple_query("UPDATE g.accounts SET balance = 0 WHERE id = 1").ok());
    expect_blocked(admin.simple_query("SELECT pg_terminate_backend(0)"), "no_backend_kills", "as postgres");
}

}  // namespace
}  // namespace sluice::testing::guard
