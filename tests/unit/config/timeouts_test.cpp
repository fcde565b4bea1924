// [timeouts] statement, transaction, idle_in_transaction, client_idle, cancel_grace and
// [[timeouts.override]]: how they load, what is refused, and which limits a client gets.
#include <gtest/gtest.h>

#include "config/load.hpp"
#include "config_test_support.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using test::expect_config;
using test::expect_one_error;
using test::no_env;

constexpr std::string_view kDatabase = "[[databases]]\nname = \"app\"\nurl = \"postgres://h/app\"\n";

LoadResult load(std::string_view body) { return load_string(std::string(body).append(kDatabase), "t.toml", no_env()); }

TEST(Timeouts, EachKeyLoads) {
    Config c = expect_config(load(R"toml([timeouts]
statement = "30s"
transaction = "10m"
idle_in_transaction = "1m"
client_idle = "1h"
cancel_grace = "250ms"
)toml"));
    EXPECT_EQ(c.timeouts.statement, 30s);
    EXPECT_EQ(c.timeouts.transaction, 10min);
    EXPECT_EQ(c.timeouts.idle_in_transaction, 1min);
    EXPECT_EQ(c.timeouts.client_idle, 1h);
    EXPECT_EQ(c.timeouts.cancel_grace, 250ms);
    EXPECT_TRUE(c.timeouts.overrides.empty());
}

TEST(Timeouts, DefaultsAreNoLimitAndFiveSecondsOfGrace) {
    Config c = expect_config(load(""));
    EXPECT_EQ(c.timeouts.statement, 0ms);
    EXPECT_EQ(c.timeouts.transaction, 0ms);
    EXPECT_EQ(c.timeouts.idle_in_transaction, 0ms);
    EXPECT_EQ(c.timeouts.client_idle, 0ms);
    EXPECT_EQ(c.timeouts.cancel_grace, 5s);
}

TEST(Timeouts, ZeroMeansNoLimit) {
    Config c = expect_config(load("[timeouts]\nstatement = \"0\"\ntransaction = \"0s\"\nidle_in_transaction = \"0\"\n"
                                  "client_idle = \"0\"\n"));
    EXPECT_EQ(c.timeouts.statement, 0ms);
    EXPECT_EQ(c.timeouts.transaction, 0ms);
    EXPECT_EQ(c.timeouts.idle_in_transaction, 0ms);
    EXPECT_EQ(c.timeouts.client_idle, 0ms);
}

TEST(TimeoutsErrors, BadValues) {
    expect_one_error(load("[timeouts]\nstatement = 30\n"), "t.toml", 2, "timeouts.statement", "expected a duration string");
    expect_one_error(load("[timeouts]\ntransaction = \"10\"\n"), "t.toml", 2, "timeouts.transaction", "missing unit");
    expect_one_error(load("[timeouts]\nidle_in_transaction = \"-1s\"\n"), "t.toml", 2, "timeouts.idle_in_transaction",
                     "");
    expect_one_error(load("[timeouts]\nclient_idle = \"1.5s\"\n"), "t.toml", 2, "timeouts.client_idle", "");
    expect_one_error(load("[timeouts]\ncancel_grace = \"0\"\n"), "t.toml", 2, "timeouts.cancel_grace",
                     "must be more than 0");
    expect_one_error(load("[timeouts]\ncancel_grace = \"soon\"\n"), "t.toml", 2, "timeouts.cancel_grace", "soon");
    expect_one_error(load("[timeouts]\nstatment = \"5s\"\n"), "t.toml", 2, "timeouts.statment",
                     "did you mean 'statement'?");
}

TEST(Timeouts, OverrideLoads) {
    Config c = expect_config(load(R"toml([timeouts]
statement = "30s"
[[timeouts.override]]
application_name = "worker"
statement = "5m"
[[timeouts.override]]
database = "app"
user = "batch"
transaction = "1h"
idle_in_transaction = "0"
client_idle = "2h"
query_wait = "2m"
)toml"));
    ASSERT_EQ(c.timeouts.overrides.size(), 2u);
    const TimeoutOverride& worker = c.timeouts.overrides[0];
    EXPECT_EQ(worker.application_name, "worker");
    EXPECT_FALSE(worker.database);
    EXPECT_FALSE(worker.user);
    EXPECT_EQ(worker.statement, 5min);
    EXPECT_FALSE(worker.transaction);
    EXPECT_FALSE(worker.query_wait);
    const TimeoutOverride& batch = c.timeouts.overrides[1];
    EXPECT_EQ(batch.database, "app");
    EXPECT_EQ(batch.user, "batch");
    EXPECT_FALSE(batch.application_name);
    EXPECT_FALSE(batch.statement);
    EXPECT_EQ(batch.transaction, 1h);
    EXPECT_EQ(batch.idle_in_transaction, 0ms);  // set, to "no limit": not the same as absent
    EXPECT_EQ(batch.client_idle, 2h);
    EXPECT_EQ(batch.query_wait, 2min);
}

TEST(TimeoutsErrors, OverrideNeedsAMatchKey) {
    expect_one_error(load("[[timeouts.override]]\nstatement = \"5m\"\n"), "t.toml", 1, "timeouts.override[0]",
                     "needs at least one of 'database', 'user' or 'application_name'");
}

TEST(TimeoutsErrors, OverrideNeedsALimit) {
    expect_one_error(load("[[timeouts.override]]\nuser = \"batch\"\n"), "t.toml", 1, "timeouts.override[0]",
                     "sets no limit");
}

TEST(TimeoutsErrors, UnknownKeyInsideAnOverride) {
    auto result = load("[timeouts]\n[[timeouts.override]]\nuser = \"a\"\nstatement = \"1s\"\n"
                       "[[timeouts.override]]\nuser = \"b\"\nstatment = \"5m\"\n");
    ConfigError e = expect_one_error(result, "t.toml", 7, "timeouts.override[1].statment", "unknown key 'statment'");
    EXPECT_NE(e.reason.find("did you mean 'statement'?"), std::string::npos) << e.reason;
    // Keys of [timeouts] that an override cannot set are unknown there too.
    expect_one_error(load("[[timeouts.override]]\nuser = \"a\"\ncancel_grace = \"1s\"\n"), "t.toml", 3,
                     "timeouts.override[0].cancel_grace", "unknown key 'cancel_grace'");
}

TEST(TimeoutsErrors, BadValuesInsideAnOverride) {
    expect_one_error(load("[[timeouts.override]]\nuser = \"a\"\nstatement = \"5 minutes\"\n"), "t.toml", 3,
                     "timeouts.override[0].statement", "5 minutes");
    expect_one_error(load("[[timeouts.override]]\ndatabase = \"\"\nstatement = \"5m\"\n"), "t.toml", 2,
                     "timeouts.override[0].database", "must not be empty");
    expect_one_error(load("[[timeouts.override]]\napplication_name = 7\nstatement = \"5m\"\n"), "t.toml", 2,
                     "timeouts.override[0].application_name", "expected a string");
    expect_one_error(load("[timeouts]\noverride = { user = \"a\" }\n"), "t.toml", 2, "timeouts.override",
                     "expected an array of tables");
}

TEST(TimeoutsErrors, TwoOverridesForTheSameClientsAreRefused) {
    auto result = load(R"toml([[timeouts.override]]
user = "batch"
statement = "5m"
[[timeouts.override]]
application_name = "worker"
statement = "5m"
[[timeouts.override]]
user = "batch"
client_idle = "1h"
)toml");
    expect_one_error(result, "t.toml", 7, "timeouts.override[2]",
                     "timeouts.override[2] matches the same clients as timeouts.override[0]; merge them");
    // The same names for different fields are different clients.
    expect_config(load("[[timeouts.override]]\nuser = \"x\"\nstatement = \"5m\"\n"
                       "[[timeouts.override]]\ndatabase = \"x\"\nstatement = \"5m\"\n"));
}

TEST(TimeoutsFor, WithoutOverridesTheTimeoutsSection) {
    Config c = expect_config(load(R"toml([timeouts]
statement = "30s"
transaction = "10m"
idle_in_transaction = "1m"
client_idle = "1h"
query_wait = "45s"
)toml"));
    SessionTimeouts t = c.timeouts_for("app", "anyone", "psql");
    EXPECT_EQ(t.statement, 30s);
    EXPECT_EQ(t.transaction, 10min);
    EXPECT_EQ(t.idle_in_transaction, 1min);
    EXPECT_EQ(t.client_idle, 1h);
    EXPECT_EQ(t.query_wait, 45s);

    SessionTimeouts d = Config{}.timeouts_for("app", "u", "");
    EXPECT_EQ(d.statement, 0ms);
    EXPECT_EQ(d.query_wait, 30s);
}

TEST(TimeoutsFor, TheWorkerExample) {
    // The README's example: 30s for everyone, 5m for the worker.
    Config c = expect_config(load(R"toml([timeouts]
statement = "30s"
[[timeouts.override]]
application_name = "worker"
statement = "5m"
)toml"));
    EXPECT_EQ(c.timeouts_for("app", "app", "worker").statement, 5min);
    EXPECT_EQ(c.timeouts_for("app", "app", "web").statement, 30s);
    EXPECT_EQ(c.timeouts_for("app", "app", "").statement, 30s);
    EXPECT_EQ(c.timeouts_for("app", "app", "Worker").statement, 30s);  // exact, as sent
}

TEST(TimeoutsFor, EveryGivenFieldMustMatch) {
    Config c = expect_config(load(R"toml([[timeouts.override]]
database = "app"
user = "batch"
statement = "1h"
)toml"));
    EXPECT_EQ(c.timeouts_for("app", "batch", "x").statement, 1h);
    EXPECT_EQ(c.timeouts_for("other", "batch", "x").statement, 0ms);
    EXPECT_EQ(c.timeouts_for("app", "web", "x").statement, 0ms);
}

TEST(TimeoutsFor, MoreFieldsWinThenApplicationOverUserOverDatabase) {
    Config c = expect_config(load(R"toml([timeouts]
statement = "1s"
[[timeouts.override]]
database = "app"
statement = "2s"
[[timeouts.override]]
user = "batch"
statement = "3s"
[[timeouts.override]]
application_name = "worker"
statement = "4s"
[[timeouts.override]]
database = "app"
user = "batch"
statement = "5s"
)toml"));
    EXPECT_EQ(c.timeouts_for("other", "web", "psql").statement, 1s);
    EXPECT_EQ(c.timeouts_for("app", "web", "psql").statement, 2s);
    EXPECT_EQ(c.timeouts_for("other", "batch", "psql").statement, 3s);
    EXPECT_EQ(c.timeouts_for("other", "web", "worker").statement, 4s);
    // Ties in field count: application_name beats user beats database.
    EXPECT_EQ(c.timeouts_for("app", "web", "worker").statement, 4s);
    EXPECT_EQ(c.timeouts_for("other", "batch", "worker").statement, 4s);
    // Two fields beat one, whichever they are.
    EXPECT_EQ(c.timeouts_for("app", "batch", "psql").statement, 5s);
    EXPECT_EQ(c.timeouts_for("app", "batch", "worker").statement, 5s);
}

TEST(TimeoutsFor, EachKeyFromTheMostSpecificOverrideThatSetsIt) {
    Config c = expect_config(load(R"toml([timeouts]
statement = "30s"
transaction = "10m"
idle_in_transaction = "1m"
client_idle = "1h"
query_wait = "20s"
[[timeouts.override]]
database = "app"
statement = "1m"
client_idle = "0"
[[timeouts.override]]
database = "app"
application_name = "worker"
statement = "5m"
[[timeouts.override]]
user = "batch"
idle_in_transaction = "10m"
query_wait = "2m"
)toml"));
    SessionTimeouts t = c.timeouts_for("app", "batch", "worker");
    EXPECT_EQ(t.statement, 5min);             // (database, application_name) sets it
    EXPECT_EQ(t.client_idle, 0ms);            // only (database) sets it: its "0" is no limit
    EXPECT_EQ(t.idle_in_transaction, 10min);  // (user)
    EXPECT_EQ(t.query_wait, 2min);            // (user)
    EXPECT_EQ(t.transaction, 10min);          // no override sets it: [timeouts]

    t = c.timeouts_for("app", "web", "psql");
    EXPECT_EQ(t.statement, 1min);
    EXPECT_EQ(t.client_idle, 0ms);
    EXPECT_EQ(t.idle_in_transaction, 1min);
    EXPECT_EQ(t.query_wait, 20s);
}

TEST(TimeoutsFor, OrderInTheFileDoesNotMatter) {
    constexpr std::string_view kSpecific = "[[timeouts.override]]\nuser = \"batch\"\napplication_name = \"w\"\nstatement = \"9s\"\n";
    constexpr std::string_view kGeneral = "[[timeouts.override]]\nuser = \"batch\"\nstatement = \"1s\"\n";
    Config a = expect_config(load(std::string(kSpecific).append(kGeneral)));
    Config b = expect_config(load(std::string(kGeneral).append(kSpecific)));
    EXPECT_EQ(a.timeouts_for("app", "batch", "w").statement, 9s);
    EXPECT_EQ(b.timeouts_for("app", "batch", "w").statement, 9s);
    EXPECT_EQ(b.timeouts_for("app", "batch", "x").statement, 1s);
}

}  // namespace
}  // namespace sluice::config
