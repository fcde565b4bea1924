// Self-test of the PgCluster fixture every integration test relies on.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "tests/support/child_process.hpp"
#include "tests/support/cluster_client.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/wait_until.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Alive and not a zombie (an orphaned postmaster may be reparented to a pid 1 that never reaps).
bool process_alive(pid_t pid) {
    if (::kill(pid, 0) != 0) return false;
    std::ifstream status("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(status, line))
        if (line.starts_with("State:")) return line.find('Z') == std::string::npos;
    return false;
}

TEST(PgCluster, SharedClusterAnswersOnSocketAndTcp) {
    auto& pg = PgCluster::shared();
    EXPECT_EQ(pg.host(), "127.0.0.1");
    EXPECT_NE(pg.port(), 0);
    EXPECT_NE(pg.port(), 5432) << "must never be the machine's own cluster";
    EXPECT_TRUE(fs::exists(pg.socket_dir() / (".s.PGSQL." + std::to_string(pg.port()))));
    EXPECT_EQ(pg.exec_superuser("SELECT 40 + 2").at(0).at(0), "42");
    EXPECT_EQ(pg.exec_superuser("SHOW server_version_num").at(0).at(0).substr(0, 2), "15");
    auto settings = pg.exec_superuser(
        "SELECT current_setting('max_connections'), current_setting('fsync'), "
        "current_setting('listen_addresses'), current_setting('synchronous_commit'), "
        "current_setting('full_page_writes')");
    EXPECT_EQ(settings.at(0), (std::vector<std::string>{"300", "off", "127.0.0.1", "off", "off"}));
    EXPECT_NE(pg.read_log().find("database system is ready to accept connections"), std::string::npos);
    // TCP as the trusted superuser.
    auto c = BlockingClient::connect(connect_options(pg, kSuperuser));
    EXPECT_TRUE(c.simple_query("SELECT 1").ok());
}

TEST(PgCluster, RolesHaveTheSecretKindTheirAuthMethodNeeds) {
    auto& pg = PgCluster::shared();
    auto rows = pg.exec_superuser(
        "SELECT rolname, coalesce(substr(rolpassword, 1, 14), '<none>') FROM pg_authid "
        "WHERE rolname IN ('sluice_md5','sluice_scram','sluice_trust','clients','hc_md5','hc_scram') "
        "ORDER BY rolname");
    ASSERT_EQ(rows.size(), 6u);
    for (const auto& row : rows) {
        const auto& name = row.at(0);
        const auto& prefix = row.at(1);
        if (name == "sluice_md5" || name == "hc_md5") EXPECT_TRUE(prefix.starts_with("md5")) << name;
        else if (name == "sluice_trust") EXPECT_EQ(prefix, "<none>");
        else EXPECT_EQ(prefix, "SCRAM-SHA-256$") << name;
    }
    EXPECT_EQ(pg.exec_superuser("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'clients'")
                  .at(0)
                  .at(0),
              "clients");
}

TEST(PgCluster, ExecSuperuserThrowsWithSqlstate) {
    auto& pg = PgCluster::shared();
    try {
        pg.exec_superuser("SELEC 1");
        FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
        EXPECT_NE(std::string(e.what()).find("42601"), std::string::npos) << e.what();
    }
    // Parameters are passed out of band, not spliced into SQL.
    EXPECT_EQ(pg.exec_superuser("SELECT $1::text || $2::text", {"a'b", "c"}).at(0).at(0), "a'bc");
}

TEST(PgCluster, CountBackendsSeesOpenSessions) {
    auto& pg = PgCluster::shared();
    ASSERT_TRUE(wait_until([&] { return pg.count_backends("sluice_trust") == 0; }, 10s));
    {
        std::vector<BlockingClient> clients;
        for (int i = 0; i < 5; ++i) clients.push_back(BlockingClient::connect(connect_options(pg, kTrustRole)));
        EXPECT_EQ(pg.count_backends("sluice_trust"), 5);
        EXPECT_EQ(pg.terminate_backends("sluice_trust"), 5);
        for (auto& c : clients) EXPECT_TRUE(c.wait_closed(10s));
    }
    EXPECT_TRUE(wait_until([&] { return pg.count_backends("sluice_trust") == 0; }, 10s));
}

TEST(PgCluster, RestartFastKeepsTheClusterUsable) {
    auto& pg = PgCluster::shared();
    auto before = pg.postmaster_pid();
    ASSERT_TRUE(before);
    auto client = BlockingClient::connect(connect_options(pg, kScramRole));
    pg.restart_fast();
    auto after = pg.postmaster_pid();
    ASSERT_TRUE(after);
    EXPECT_NE(*before, *after);
    // The old session got "terminating connection due to administrator command" and was closed.
    auto m = client.read_message_or_eof();
    if (m) {
        ASSERT_EQ(m->tag, 'E');
        EXPECT_EQ(protocol::ErrorResponse::decode(m->body)->fields.code(), "57P01");
    }
    // Same port, same roles, same config.
    auto fresh = BlockingClient::connect(connect_options(pg, kScramRole));
    EXPECT_EQ(fresh.simple_query("SELECT current_user").at(0, 0), "sluice_scram");
    EXPECT_EQ(pg.exec_superuser("SHOW max_connections").at(0).at(0), "300");
}

TEST(PgCluster, StopFastThenStart) {
    auto& pg = PgCluster::shared();
    pg.stop_fast();
    EXPECT_FALSE(pg.is_running());
    EXPECT_THROW(BlockingClient::connect(connect_options(pg, kTrustRole)), ClientError);
    pg.start();
    EXPECT_TRUE(pg.is_running());
    auto c = BlockingClient::connect(connect_options(pg, kTrustRole));
    EXPECT_TRUE(c.simple_query("SELECT 1").ok());
}

TEST(PgCluster, PrivateClusterIsDeletedWithTheObject) {
    fs::path data;
    {
        PgCluster::Options o;
        o.max_connections = 20;
        o.extra_conf = {"application_name = 'private_cluster'"};
        PgCluster own(o);
        data = own.data_dir();
        EXPECT_NE(own.port(), PgCluster::shared().port());
        EXPECT_EQ(own.exec_superuser("SHOW max_connections").at(0).at(0), "20");
        auto c = BlockingClient::connect(connect_options(own, kMd5Role));
        EXPECT_TRUE(c.simple_query("SELECT 1").ok());
    }
    EXPECT_FALSE(fs::exists(data));
}

// Helper for the next test, run in a child process: starts a cluster, prints its directory and
// waits to be killed.
TEST(PgCluster, DISABLED_HoldClusterUntilKilled) {
    const char* out = std::getenv("SLUICE_HOLD_CLUSTER_OUT");
    ASSERT_NE(out, nullptr);
    PgCluster own;
    {
        std::ofstream f(std::string(out) + ".tmp");
        f << own.data_dir().parent_path().string() << "\n" << *own.postmaster_pid() << "\n";
    }
    fs::rename(std::string(out) + ".tmp", out);
    std::this_thread::sleep_for(120s);
}

TEST(PgCluster, WatchdogCleansUpAfterAKilledTestProcess) {
    auto out = fs::temp_directory_path() / ("sluice-hold-" + std::to_string(::getpid()));
    fs::remove(out);
    ChildOptions o;
    o.argv = {fs::read_symlink("/proc/self/exe").string(), "--gtest_also_run_disabled_tests",
              "--gtest_filter=PgCluster.DISABLED_HoldClusterUntilKilled"};
    o.env = {{"SLUICE_HOLD_CLUSTER_OUT", out.string()}};
    ChildProcess child(o);
    ASSERT_TRUE(wait_until([&] { return fs::exists(out) || !child.running(); }, 60s)) << child.log();
    ASSERT_TRUE(fs::exists(out)) << child.log();
    std::ifstream in(out);
    std::string root;
    pid_t postmaster = 0;
    in >> root >> postmaster;
    fs::remove(out);
    ASSERT_TRUE(fs::exists(root));
    child.kill9();  // no destructors, no atexit: only the watchdog can clean up
    EXPECT_TRUE(wait_until([&] { return !fs::exists(root); }, 30s)) << root;
    EXPECT_TRUE(wait_until([&] { return !process_alive(postmaster); }, 30s)) << "postmaster " << postmaster;
}

}  // namespace
}  // namespace sluice::testing
