// What sluice checks before it listens: an OpenSSL that cannot give it SHA-256 or random bytes
// (every login and cancel key needs them) stops it at start with the reason, instead of failing
// each client's login once it runs.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>

#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/child_process.hpp"

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

}  // namespace
}  // namespace sluice::testing
