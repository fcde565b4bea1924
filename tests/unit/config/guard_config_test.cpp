// [guard] and [[guard.override]]: how they load, what is refused (file, line, key, reason), and
// which guard a client gets.
#include <gtest/gtest.h>

#include "config/load.hpp"
#include "config_test_support.hpp"
#include "protocol/sql/guard.hpp"

namespace sluice::config {
namespace {

using test::expect_config;
using test::expect_one_error;
using test::no_env;

constexpr std::string_view kDatabase = "[[databases]]\nname = \"app\"\nurl = \"postgres://h/app\"\n";

LoadResult load(std::string_view body) { return load_string(std::string(body).append(kDatabase), "t.toml", no_env()); }

GuardRuleSet bit(sql::Rule rule) { return 1u << static_cast<unsigned>(rule); }

TEST(GuardConfig, DefaultsAreOffWithTheDefaultRulesAndFailClosed) {
    Config c = expect_config(load(""));
    EXPECT_EQ(c.guard.mode, GuardMode::Off);
    EXPECT_EQ(c.guard.unparsable, GuardUnparsable::Block);
    EXPECT_EQ(c.guard.audit_log, "stdout");
    for (unsigned r = 0; r <= static_cast<unsigned>(sql::Rule::LockTable); ++r) {
        auto rule = static_cast<sql::Rule>(r);
        if (rule == sql::Rule::Unparsable) continue;  // governed by `unparsable`
        EXPECT_EQ((c.guard.rules & bit(rule)) != 0, sql::is_default(rule)) << sql::to_string(rule);
    }
    EXPECT_EQ(c.guard_for("app", "u", "a").mode, GuardMode::Off);
}

TEST(GuardConfig, EachKeyLoads) {
    Config c = expect_config(load(R"toml([guard]
mode = "enforce"
rules = ["drop", "truncate", "migration_safety"]
unparsable = "allow"
audit_log = "/var/log/sluice/audit.jsonl"
audit_statement_max = 200
hint = "Ask #db-oncall."
)toml"));
    EXPECT_EQ(c.guard.mode, GuardMode::Enforce);
    EXPECT_EQ(c.guard.rules & bit(sql::Rule::Drop), bit(sql::Rule::Drop));
    EXPECT_EQ(c.guard.rules & bit(sql::Rule::DeleteWithoutWhere), 0u);
    EXPECT_NE(c.guard.rules & bit(sql::Rule::Rename), 0u);
    EXPECT_NE(c.guard.rules & bit(sql::Rule::LockTable), 0u);
    EXPECT_EQ(c.guard.unparsable, GuardUnparsable::Allow);
    EXPECT_EQ(c.guard.audit_log, "/var/log/sluice/audit.jsonl");
    EXPECT_EQ(c.guard.audit_statement_max, 200u);
    EXPECT_EQ(c.guard.hint, "Ask #db-oncall.");
}

TEST(GuardConfig, DefaultPackPlusMigrationSafetyIsEveryRule) {
    Config c = expect_config(load("[guard]\nmode = \"audit\"\nrules = [\"default\", \"migration_safety\"]\n"));
    for (unsigned r = 0; r <= static_cast<unsigned>(sql::Rule::LockTable); ++r) {
        auto rule = static_cast<sql::Rule>(r);
        if (rule == sql::Rule::Unparsable) continue;  // governed by `unparsable`
        EXPECT_NE(c.guard.rules & bit(rule), 0u) << sql::to_string(rule);
    }
}

TEST(GuardConfig, BadValuesNameTheKey) {
    expect_one_error(load("[guard]\nmode = \"on\"\n"), "t.toml", 2, "guard.mode", "\"off\", \"audit\" or \"enforce\"");
    expect_one_error(load("[guard]\nrules = [\"drop\", \"delete_without_wher\"]\n"), "t.toml", 2, "guard.rules[1]",
                     "unknown rule \"delete_without_wher\" (did you mean \"delete_without_where\"?)");
    expect_one_error(load("[guard]\nrules = \"drop\"\n"), "t.toml", 2, "guard.rules", "must be an array of rule names");
    expect_one_error(load("[guard]\nrules = [\"unparsable\"]\n"), "t.toml", 2, "guard.rules[0]",
                     "set guard.unparsable");
    expect_one_error(load("[guard]\nunparsable = \"maybe\"\n"), "t.toml", 2, "guard.unparsable", "");
    expect_one_error(load("[guard]\naudit_log = \"\"\n"), "t.toml", 2, "guard.audit_log", "must not be empty");
    expect_one_error(load("[guard]\nmdoe = \"enforce\"\n"), "t.toml", 2, "guard.mdoe", "mode");
}

TEST(GuardConfig, OverridesNeedAMatchAndAChange) {
    expect_one_error(load("[guard]\nmode = \"enforce\"\n[[guard.override]]\nmode = \"off\"\n"), "t.toml", 3,
                     "guard.override[0]", "needs at least one of 'database', 'user' or 'application_name'");
    expect_one_error(load("[guard]\nmode = \"enforce\"\n[[guard.override]]\nuser = \"migrator\"\n"), "t.toml", 3,
                     "guard.override[0]", "changes nothing");
    expect_one_error(load("[[guard.override]]\nuser = \"m\"\nmode = \"off\"\n[[guard.override]]\nuser = \"m\"\n"
                          "allow = [\"drop\"]\n"),
                     "t.toml", 4, "guard.override[1]", "matches the same clients as guard.override[0]; merge them");
    expect_one_error(load("[[guard.override]]\nuser = \"m\"\nallow = [\"dorp\"]\n"), "t.toml", 3,
                     "guard.override[0].allow[0]", "did you mean \"drop\"?");
}

TEST(GuardConfig, TheMostSpecificOverrideWinsPerKey) {
    Config c = expect_config(load(R"toml([guard]
mode = "enforce"

[[guard.override]]
database = "app"
mode = "audit"

[[guard.override]]
user = "migrator"
allow = ["drop", "truncate"]

[[guard.override]]
database = "app"
user = "migrator"
application_name = "flyway"
mode = "enforce"
rules = ["default", "migration_safety"]

[[guard.override]]
user = "reporting"
unparsable = "allow"
)toml"));
    GuardPolicy app_user = c.guard_for("app", "web", "node");
    EXPECT_EQ(app_user.mode, GuardMode::Audit);
    EXPECT_EQ(app_user.rules, kDefaultGuardRules);

    GuardPolicy elsewhere = c.guard_for("other", "web", "node");
    EXPECT_EQ(elsewhere.mode, GuardMode::Enforce);

    // The migrator may drop and truncate, anywhere; its migration tool in app is watched for the rest.
    GuardPolicy migrator = c.guard_for("other", "migrator", "psql");
    EXPECT_EQ(migrator.mode, GuardMode::Enforce);
    EXPECT_EQ(migrator.rules & bit(sql::Rule::Drop), 0u);
    EXPECT_EQ(migrator.rules & bit(sql::Rule::Truncate), 0u);
    EXPECT_NE(migrator.rules & bit(sql::Rule::DeleteWithoutWhere), 0u);

    GuardPolicy flyway = c.guard_for("app", "migrator", "flyway");
    EXPECT_EQ(flyway.mode, GuardMode::Enforce);
    EXPECT_NE(flyway.rules & bit(sql::Rule::Rename), 0u);
    EXPECT_EQ(flyway.rules & bit(sql::Rule::Drop), 0u);  // `allow` still applies: set only by the user override

    EXPECT_EQ(c.guard_for("app", "reporting", "").unparsable, GuardUnparsable::Allow);
    EXPECT_EQ(c.guard_for("app", "reporting", "").mode, GuardMode::Audit);
}

TEST(GuardConfig, CustomRulesLoadAndCanBeAllowedByName) {
    Config c = expect_config(load(R"toml([guard]
mode = "enforce"

[[guard.custom]]
name = "no_backend_kills"
function = ["pg_terminate_backend", "pg_catalog.pg_cancel_backend"]

[[guard.custom]]
name = "payments_read_only"
table = ["Billing.\"Payments\""]
statement = ["DeleteStmt", "update", "TRUNCATE"]
fingerprint = ["5A1378350FAA3E65"]

[[guard.override]]
user = "dba"
allow = ["no_backend_kills", "drop"]
)toml"));
    ASSERT_EQ(c.guard.custom.size(), 2u);
    const GuardCustomRule& kills = c.guard.custom[0];
    EXPECT_EQ(kills.name, "no_backend_kills");
    ASSERT_EQ(kills.functions.size(), 2u);
    EXPECT_EQ(kills.functions[1], (sql::QualifiedName{"pg_catalog", "pg_cancel_backend"}));
    const GuardCustomRule& payments = c.guard.custom[1];
    ASSERT_EQ(payments.tables.size(), 1u);
    EXPECT_EQ(payments.tables[0], (sql::QualifiedName{"billing", "Payments"}));  // quoted keeps its case
    EXPECT_EQ(payments.statements, (std::vector<std::string>{"delete", "update", "truncate"}));
    EXPECT_EQ(payments.fingerprints, (std::vector<std::string>{"5a1378350faa3e65"}));

    EXPECT_EQ(c.guard_for("app", "web", "").custom & 3u, 3u);
    GuardPolicy dba = c.guard_for("app", "dba", "");
    EXPECT_EQ(dba.custom & 3u, 2u);  // no_backend_kills lifted, payments_read_only kept
    EXPECT_EQ(dba.rules & bit(sql::Rule::Drop), 0u);
}

TEST(GuardConfig, BadCustomRulesNameTheKey) {
    expect_one_error(load("[[guard.custom]]\nname = \"x\"\n"), "t.toml", 1, "guard.custom[0]", "finds nothing");
    expect_one_error(load("[[guard.custom]]\nname = \"drop\"\nfunction = [\"f\"]\n"), "t.toml", 2,
                     "guard.custom[0].name", "is a built-in rule's name");
    expect_one_error(load("[[guard.custom]]\nname = \"Bad Name\"\nfunction = [\"f\"]\n"), "t.toml", 2,
                     "guard.custom[0].name", "must be 1 to 63 of a-z, 0-9 and _");
    expect_one_error(load("[[guard.custom]]\nname = \"x\"\nfingerprint = [\"abc\"]\n"), "t.toml", 3,
                     "guard.custom[0].fingerprint[0]", "16 hex digits");
    expect_one_error(load("[[guard.custom]]\nname = \"x\"\nstatement = [\"drop table\"]\n"), "t.toml", 3,
                     "guard.custom[0].statement[0]", "parse node name");
    expect_one_error(load("[[guard.custom]]\nname = \"x\"\ntable = []\n"), "t.toml", 3, "guard.custom[0].table",
                     "non-empty array");
    expect_one_error(load("[[guard.custom]]\nname = \"x\"\ntable = [\"t\"]\n[[guard.custom]]\nname = \"x\"\n"
                          "table = [\"u\"]\n"),
                     "t.toml", 5, "guard.custom[1].name", "comes earlier");
    expect_one_error(load("[[guard.override]]\nuser = \"u\"\nallow = [\"no_such_rule\"]\n"), "t.toml", 3,
                     "guard.override[0].allow[0]", "unknown rule \"no_such_rule\"");
}

}  // namespace
}  // namespace sluice::config
