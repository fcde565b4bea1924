// Issue #8 acceptance, load: `pgbench -M prepared` (TPC-B-like, scale 1) with 50 clients on a
// pool of 5 in transaction mode, so that every client's statements run on servers that never saw
// its Parse. Zero failed transactions, and the values: every processed transaction left exactly
// one pgbench_history row (none rolled back silently), and the balances of accounts, tellers and
// branches agree (each transaction applied whole).
// SLUICE_IT_PGBENCH_SECONDS sets the duration (default 30).
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <string>

#include "tests/integration/prepared/prepared_support.hpp"

namespace sluice::testing::prepared {
namespace {

constexpr int kClients = 50;
constexpr std::uint32_t kPoolSize = 5;

TEST(PreparedPgbench, FiftyClientsOnPoolOfFive) {
    const int seconds = env_int("SLUICE_IT_PGBENCH_SECONDS", 30);
    ChildOptions init;
    init.argv = {"pgbench", "-i", "-q", "-s", "1", "-h", pg().host(), "-p", std::to_string(pg().port()), "-U", "postgres",
                 "postgres"};
    auto st = run_to_completion(init, 120s);
    ASSERT_TRUE(st.success()) << "pgbench -i: " << st.describe();
    pg().exec_superuser("GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pgbench_accounts, pgbench_branches, "
                        "pgbench_tellers, pgbench_history TO " + std::string(kRole.user));
    raise_fd_limit();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    SluiceProcess sluice(pool_config(kPoolSize));

    ChildOptions bench;
    bench.argv = {"pgbench", "-n", "-h", sluice.host(), "-p", std::to_string(sluice.port()), "-U",
                  std::string(kRole.user), "-M", "prepared", "-c", std::to_string(kClients), "-j", "2", "-T",
                  std::to_string(seconds), "postgres"};
    bench.env = {{"PGSSLMODE", "disable"}, {"PGCONNECT_TIMEOUT", "30"}};
    ChildProcess run(bench);
    auto done = run.wait_for_exit(std::chrono::seconds(seconds + 120));
    ASSERT_TRUE(done) << "pgbench did not finish; output:\n" << run.log();
    const std::string out = run.log();
    EXPECT_TRUE(done->success()) << "pgbench " << done->describe() << ":\n" << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(number of failed transactions: (\d+))"))) << out;
    EXPECT_EQ(m[1], "0") << out;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(number of transactions actually processed: (\d+))"))) << out;
    const long long processed = std::stoll(m[1]);
    EXPECT_GT(processed, kClients) << out;
    EXPECT_EQ(out.find("aborted"), std::string::npos) << "pgbench clients aborted:\n" << out;

    const auto history = pg().exec_superuser("SELECT count(*) FROM pgbench_history");
    EXPECT_EQ(std::stoll(history.at(0).at(0)), processed)
        << "pgbench_history rows differ from the transactions pgbench counted as processed";
    const auto sums = pg().exec_superuser(
        "SELECT (SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), "
        "(SELECT sum(bbalance) FROM pgbench_branches), (SELECT coalesce(sum(delta), 0) FROM pgbench_history)");
    EXPECT_EQ(sums.at(0).at(0), sums.at(0).at(1)) << "sum(abalance) != sum(tbalance)";
    EXPECT_EQ(sums.at(0).at(1), sums.at(0).at(2)) << "sum(tbalance) != sum(bbalance)";
    EXPECT_EQ(sums.at(0).at(2), sums.at(0).at(3)) << "sum(bbalance) != sum(history.delta)";
    std::cout << "pgbench -M prepared, " << kClients << " clients, pool " << kPoolSize << ":\n"
              << out.substr(out.find("number of transactions actually processed")) << "history rows "
              << history.at(0).at(0) << ", balances " << sums.at(0).at(0) << "\n";
}

}  // namespace
}  // namespace sluice::testing::prepared
