// Issue #3 acceptance, real drivers: the shared client suite (shared/clients: psycopg2,
// psycopg 3, asyncpg, pgbench) against sluice in front of the test cluster.
//
// No case is excluded: every one must pass, named prepared statements included, and the TLS cases
// (py.pg3.tls_sslmode_require, py.asyncpg.tls_require, py.auth.scram_user_over_tls) over sluice's
// [client_tls] mode = "prefer" with the tests' localhost certificate, beside the plaintext ones.
// Timeouts: no case needs a sluice-side timeout. py.asyncpg.timeout_cancels_query (client timeout
// -> CancelRequest) and py.pg3.set_local_statement_timeout (PostgreSQL's own statement_timeout)
// exercise what sluice relays.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <regex>
#include <string>

#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/support/tls_certs.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

fs::path clients_dir() { return shared_dir() / "clients"; }

TEST(ProxyRealClients, SharedClientSuitePasses) {
    const fs::path dir = clients_dir();
    ASSERT_TRUE(fs::exists(dir / "run-all.sh"))
        << "the real-client suite is missing: expected " << (dir / "run-all.sh").string()
        << " (shared/ beside the repository, or set SLUICE_SHARED_DIR)";
    SluiceConfig config;
    const TlsCerts& certs = TlsCerts::shared();
    config.extra_toml = "\n[client_tls]\nmode = \"prefer\"\ncert_file = \"" + certs.server_cert.string() +
                        "\"\nkey_file = \"" + certs.server_key.string() + "\"\n";
    SluiceProcess sluice(config);
    ScratchDir tmp("sluice-clients");

    // Python drivers through run-all.sh, which must exit 0.
    ChildOptions py;
    py.argv = {"bash", (dir / "run-all.sh").string(), sluice.host(), std::to_string(sluice.port())};
    py.env = client_suite_env(tmp);
    py.env.emplace_back("HC_RUNNERS", "python");
    py.log_path = tmp.path / "python.log";
    ChildProcess python(py);
    auto st = python.wait_for_exit(15min);
    ASSERT_TRUE(st) << "run-all.sh did not finish:\n" << python.log();
    const std::string out = python.log();
    std::cout << out;
    EXPECT_TRUE(st->success()) << "run-all.sh " << st->describe() << ":\n" << out;
    std::smatch m;
    ASSERT_TRUE(std::regex_search(out, m, std::regex(R"((\d+) passed, (\d+) failed)"))) << out;
    EXPECT_EQ(m[2], "0") << out;
    EXPECT_GE(std::stoi(m[1]), 35) << "suspiciously few cases ran:\n" << out;
    for (const char* tls : {"py.pg3.tls_sslmode_require", "py.asyncpg.tls_require", "py.auth.scram_user_over_tls"})
        EXPECT_NE(out.find(std::string("PASS ") + tls), std::string::npos) << tls << " did not pass over TLS";
    // Named prepared statements reused across transactions (on other servers).
    for (const char* prepared : {"py.asyncpg.prepared_statement_cache", "py.asyncpg.explicit_prepare_reuse",
                                 "py.asyncpg.executemany_default", "py.pg3.prepare_threshold_0",
                                 "py.pg3.execute_prepare_true", "py.pg3.default_prepare_threshold_5"})
        EXPECT_NE(out.find(std::string("PASS ") + prepared), std::string::npos) << prepared << " did not pass";

    // pgbench runner on its own: simple, extended and prepared.
    ChildOptions bench;
    bench.argv = {"bash", (dir / "pgbench" / "cases.sh").string(), sluice.host(), std::to_string(sluice.port())};
    bench.env = client_suite_env(tmp);
    bench.log_path = tmp.path / "pgbench.log";
    ChildProcess pgbench(bench);
    auto bst = pgbench.wait_for_exit(10min);
    ASSERT_TRUE(bst) << "pgbench/cases.sh did not finish:\n" << pgbench.log();
    const std::string bout = pgbench.log();
    std::cout << bout;
    EXPECT_TRUE(bst->success()) << bout;
    EXPECT_NE(bout.find("PASS pgbench.simple_8clients_tx"), std::string::npos) << bout;
    EXPECT_NE(bout.find("PASS pgbench.extended_8clients_tx"), std::string::npos) << bout;
    EXPECT_NE(bout.find("PASS pgbench.prepared_8clients_tx"), std::string::npos) << bout;
}

}  // namespace
}  // namespace sluice::testing
