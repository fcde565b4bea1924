// What sluice checks before it listens: an OpenSSL that cannot give it SHA-256 or random bytes
// (every login and cancel key needs them) stops it at start with the reason, instead of failing
// each client's login once it runs; so does a listen.nice the system refuses, and one it grants is
// every thread's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing {
namespace {

TEST(ProxyStartup, AnOpenSslWithoutItsDefaultProviderStopsSluiceAtStartWithTheReason) {
    // Only OpenSSL's null provider: no digests, no random generator.
    const auto dir = std::filesystem::temp_directory_path() / ("sluice-startup-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto conf = dir / "openssl.cnf";
    std::ofstream(conf) << "openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n"
                           "[provider_sect]\nnull = null_sect\n[null_sect]\nactivate = 1\n";
    ChildOptions options;
    options.argv = {sluice_binary().string(), "postgres://u:p@127.0.0.1:1/db", "--port", "1"};
    options.env = {{"OPENSSL_CONF", conf.string()}};
    ChildProcess sluice(std::move(options));
    auto status = sluice.wait_for_exit(std::chrono::seconds(20));
    const std::string log = sluice.log();
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(status) << "still running:\n" << log;
    EXPECT_EQ(status->code, 1) << status->describe() << "\n" << log;
    EXPECT_NE(log.find("OpenSSL cannot do what client and server logins need"), std::string::npos) << log;
    EXPECT_EQ(log.find("listening"), std::string::npos) << log;
}

// A config that starts without an upstream to reach (pools connect on demand).
std::string toml_with_nice(std::uint16_t port, int nice) {
    return "[listen]\naddress = \"127.0.0.1\"\nport = " + std::to_string(port) + "\nworkers = 2\nnice = " +
           std::to_string(nice) + "\n[auth]\nmethod = \"trust\"\n[[databases]]\nname = \"db\"\n" +
           "url = \"postgres://u@127.0.0.1:1/db?sslmode=disable\"\n";
}

// /proc/PID/task/TID/stat's nice field of every thread.
std::vector<int> thread_nice_values(pid_t pid) {
    std::vector<int> values;
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task")) {
        std::ifstream in(task.path() / "stat");
        std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::istringstream fields(stat.substr(stat.rfind(')') + 2));  // after "(comm) "
        std::string field;
        for (int i = 3; i <= 19 && fields >> field; ++i) {}  // field 19 is nice
        values.push_back(std::stoi(field));
    }
    return values;
}

TEST(ProxyStartup, ListenNiceIsEveryThreadsPriority) {
    const std::uint16_t port = free_port();
    SluiceProcess sluice(toml_with_nice(port, 7), port);  // raising nice needs no privilege
    ASSERT_TRUE(sluice.wait_for_log("scheduling priority: nice 7", std::chrono::seconds(5))) << sluice.log();
    const auto values = thread_nice_values(sluice.process().pid());
    ASSERT_GE(values.size(), 2u);  // both workers
    for (int v : values) EXPECT_EQ(v, 7);
}

TEST(ProxyStartup, ANiceTheSystemRefusesStopsSluiceAtStartWithTheReason) {
    // A process without CAP_SYS_NICE and with the default RLIMIT_NICE (0) may not raise its priority:
    // as root the test drops to the servers' OS user, which has neither.
    const auto dir = std::filesystem::temp_directory_path() / ("sluice-nice-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto conf = dir / "sluice.toml";
    std::ofstream(conf) << toml_with_nice(free_port(), -5);
    chown_to(dir, server_identity());
    chown_to(conf, server_identity());
    ChildOptions options;
    options.argv = {sluice_binary().string(), "--config", conf.string()};
    options.run_as = server_identity();
    ChildProcess sluice(std::move(options));
    auto status = sluice.wait_for_exit(std::chrono::seconds(20));
    const std::string log = sluice.log();
    std::filesystem::remove_all(dir);
    ASSERT_TRUE(status) << "still running:\n" << log;
    EXPECT_EQ(status->code, 1) << status->describe() << "\n" << log;
    EXPECT_NE(log.find(conf.string() + ": listen.nice = -5: "), std::string::npos) << log;
    EXPECT_NE(log.find("needs CAP_SYS_NICE or an RLIMIT_NICE of at least 25"), std::string::npos) << log;
    EXPECT_EQ(log.find("listening"), std::string::npos) << log;
}

}  // namespace
}  // namespace sluice::testing
