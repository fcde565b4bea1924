// Issue 9: [[timeouts.override]]. An override matches on the startup's database, user and
// application_name; the most specific match wins, per key. Each client below runs pg_sleep(5) and
// must be cancelled after the limit meant for it, naming that limit. The clients run side by side,
// so the whole case takes about the longest limit (2 s). The limits are ones sluice's duration
// format writes as they are written here ("1s", not "1200ms", which it would write "1s200ms").
#include <gtest/gtest.h>

#include <future>
#include <string>
#include <vector>

#include "tests/integration/timeouts/timeouts_support.hpp"

namespace sluice::testing::timeouts {
namespace {

struct Case {
    std::string name;
    PgRole role;
    std::string database;
    std::string application_name;
    std::string sql;
    std::string limit;  // as named in the error; empty: must succeed
    long long min_ms;
    long long max_ms;
};

std::string run(const SluiceProcess& sluice, const Case& k) {
    try {
        auto c = open_client(sluice, k.role, k.database, k.application_name);
        Stopwatch clock;
        auto e = timed_query(c, k.sql, clock);
        std::string why;
        if (k.limit.empty()) {
            if (!e.sqlstate.empty()) why += "should succeed; ";
        } else {
            why += statement_timeout_problems(e, k.limit);
        }
        if (e.ms < k.min_ms || e.ms >= k.max_ms)
            why += "took " + std::to_string(e.ms) + " ms, not in [" + std::to_string(k.min_ms) + ", " +
                   std::to_string(k.max_ms) + "); ";
        return why.empty() ? "" : k.name + ": " + why + e.describe();
    } catch (const std::exception& ex) {
        return k.name + ": " + ex.what();
    }
}

TEST(TimeoutOverrides, MostSpecificMatchSetsTheStatementLimit) {
    SluiceConfig config;  // SCRAM: the users are PgCluster's roles with their passwords
    config.timeouts_toml = "statement = \"2s\"\n";
    config.extra_toml =
        "\n[[timeouts.override]]\napplication_name = \"worker\"\nstatement = \"400ms\"\n"
        "\n[[timeouts.override]]\nuser = \"sluice_md5\"\nstatement = \"700ms\"\n"
        "\n[[timeouts.override]]\ndatabase = \"clients\"\nstatement = \"1s\"\n"
        "\n[[timeouts.override]]\nuser = \"sluice_md5\"\napplication_name = \"worker\"\nstatement = \"250ms\"\n";
    SluiceProcess sluice(config);

    const std::string sleep = "SELECT pg_sleep(5)";
    const std::vector<Case> cases = {
        {"application_name override", kScramRole, "postgres", "worker", sleep, "400ms", 350, 1500},
        {"no override (global)", kScramRole, "postgres", "other", sleep, "2s", 1900, 3500},
        {"user override", kMd5Role, "postgres", "other", sleep, "700ms", 650, 1800},
        {"database override", kClientsRole, "clients", "other", sleep, "1s", 950, 2200},
        {"user + application_name beats either", kMd5Role, "postgres", "worker", sleep, "250ms", 200, 1200},
        // The application's 400 ms is not everyone's: another application may sleep past it.
        {"other application not limited to 400ms", kScramRole, "postgres", "batch", "SELECT pg_sleep(0.8)", "", 750,
         1900},
    };
    std::vector<std::future<std::string>> runs;
    for (const auto& k : cases)
        runs.push_back(std::async(std::launch::async, [&sluice, &k] { return run(sluice, k); }));
    for (auto& r : runs) EXPECT_EQ(r.get(), "");
}

}  // namespace
}  // namespace sluice::testing::timeouts
