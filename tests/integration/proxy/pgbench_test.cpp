// Issue #3 acceptance, load: pgbench's TPC-B-like script with 200 clients through a pool of 10,
// in both the simple and the extended query protocol. Every transaction must succeed, and
// PostgreSQL must never see more than 10 server connections for the user.
// SLUICE_IT_PGBENCH_SECONDS sets the duration of each run (default 30).
#include <gtest/gtest.h>

#include <iostream>
#include <regex>
#include <string>

#include "tests/integration/proxy/backend_sampler.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kClients = 200;
constexpr std::uint32_t kPoolSize = 10;
// The pool-size bound is only as good as the pg_stat_activity samples behind it: enough of them
// to mean something, spread over the whole run (not all in its first seconds), and none failed.
// No rate: a busy CI machine slows the sampler down without making the check weaker.
constexpr int kMinSamples = 20;
constexpr int kMinSamplesPerThird = 3;

class ProxyPgbench : public ::testing::TestWithParam<std::string> {
protected:
    static void SetUpTestSuite() {
        // The pgbench tables, created once by the superuser straight on PostgreSQL; the pooled
        // role only needs to read and write them.
        ChildOptions init;
        init.argv = {"pgbench", "-i", "-q", "-s", "1", "-h", pg().host(), "-p", std::to_string(pg().port()),
                     "-U", "postgres", "postgres"};
        auto st = run_to_completion(init, 120s);
        init_ok_ = st.success();
        if (!init_ok_) init_error_ = "pgbench -i: " + st.describe();
        else
            pg().exec_superuser(
                "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON pgbench_accounts, pgbench_branches, "
                "pgbench_tellers, pgbench_history TO sluice_trust");
    }
    void SetUp() override { ASSERT_TRUE(init_ok_) << init_error_; }

    static bool init_ok_;
    static std::string init_error_;
};
bool ProxyPgbench::init_ok_ = false;
std::string ProxyPgbench::init_error_;

TEST_P(ProxyPgbench, TwoHundredClientsOnPoolOfTen) {
    const std::string mode = GetParam();
    const int seconds = env_int("SLUICE_IT_PGBENCH_SECONDS", 30);
    raise_fd_limit();
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = kPoolSize;
    config.log_connections = false;  // 200 clients: keep the log about problems
    SluiceProcess sluice(config);
    // PostgreSQL refuses a server connection past the pool size: an overshoot fails pgbench.
    ConnectionLimit limit(ConnectionLimit::On::Role, kTrustRole.user, static_cast<int>(kPoolSize));

    BackendSampler sampler(pg(), std::string(kTrustRole.user));
    ChildOptions bench;
    bench.argv = {"pgbench", "-n", "-h", sluice.host(), "-p", std::to_string(sluice.port()), "-U",
                  std::string(kTrustRole.user), "-M", mode, "-c", std::to_string(kClients), "-j", "2", "-T",
                  std::to_string(seconds), "postgres"};
    bench.env = {{"PGSSLMODE", "disable"}, {"PGCONNECT_TIMEOUT", "30"}};
    const auto started = BackendSampler::Clock::now();
    ChildProcess run(bench);
    auto st = run.wait_for_exit(std::chrono::seconds(seconds + 120));
    const auto finished = BackendSampler::Clock::now();
    sampler.stop();
    ASSERT_TRUE(st) << "pgbench did not finish; output:\n" << run.log();
    const std::string out = run.log();
    EXPECT_TRUE(st->success()) << "pgbench " << st->describe() << ":\n" << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(number of transactions actually processed: (\d+))")))
        << out;
    EXPECT_GT(std::stoll(m[1]), kClients) << out;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"(number of failed transactions: (\d+))"))) << out;
    EXPECT_EQ(m[1], "0") << out;
    EXPECT_EQ(out.find("aborted"), std::string::npos) << out;

    EXPECT_EQ(sampler.failures(), 0) << "pg_stat_activity polls failed; last: " << sampler.last_error();
    const int samples = sampler.samples_between(started, finished);
    EXPECT_GE(samples, kMinSamples) << "pg_stat_activity was hardly sampled during the run";
    const auto third = (finished - started) / 3;
    for (int i = 0; i < 3; ++i) {
        EXPECT_GE(sampler.samples_between(started + i * third, started + (i + 1) * third), kMinSamplesPerThird)
            << "too few pg_stat_activity samples in third " << i + 1 << " of the run (" << samples << " in all)";
    }
    EXPECT_LE(sampler.max(), static_cast<int>(kPoolSize)) << "more server connections than the pool size";
    EXPECT_GE(sampler.max(), 2) << "the pool was never used concurrently: is the load reaching PostgreSQL?";
    std::cout << "pgbench -M " << mode << ":\n"
              << out.substr(out.find("number of transactions actually processed"))
              << "max server connections seen: " << sampler.max() << " (" << samples << " samples)\n";
}

INSTANTIATE_TEST_SUITE_P(Modes, ProxyPgbench, ::testing::Values("simple", "extended"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace sluice::testing
