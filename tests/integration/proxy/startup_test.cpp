// What sluice checks before it listens: an OpenSSL that cannot give it SHA-256 or random bytes
// (every login and cancel key needs them) stops it at start with the reason, instead of failing
// each client's login once it runs; so does a listen.nice the system refuses, and one it grants is
// every thread's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/child_process.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing {
namespace {

// sluice run until it exits, with what it logged.
struct Exit {
    std::optional<ExitStatus> status;  // nullopt: still running after 20 s
    std::string log;
};
Exit run_to_exit(ChildOptions options) {
    ChildProcess sluice(std::move(options));
    auto status = sluice.wait_for_exit(std::chrono::seconds(20));
    return {status, sluice.log()};
}
// Stopped before it listened, with status 1.
void expect_stopped_at_start(const Exit& ended) {
    ASSERT_TRUE(ended.status) << "still running:\n" << ended.log;
    EXPECT_EQ(ended.status->code, 1) << ended.status->describe() << "\n" << ended.log;
    EXPECT_EQ(ended.log.find("listening"), std::string::npos) << ended.log;
}

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
    const Exit ended = run_to_exit(std::move(options));
    std::filesystem::remove_all(dir);
    expect_stopped_at_start(ended);
    EXPECT_NE(ended.log.find("OpenSSL cannot do what client and server logins need"), std::string::npos) << ended.log;
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
    const Exit ended = run_to_exit(std::move(options));
    std::filesystem::remove_all(dir);
    expect_stopped_at_start(ended);
    EXPECT_NE(ended.log.find(conf.string() + ": listen.nice = -5: "), std::string::npos) << ended.log;
    EXPECT_NE(ended.log.find("needs CAP_SYS_NICE or an RLIMIT_NICE of at least 25"), std::string::npos) << ended.log;
}

}  // namespace
}  // namespace sluice::testing
