// The paths every client takes throw no C++ exception. A throw costs microseconds of unwinding,
// and the first one faults in the unwinder and the binary's unwind tables (~0.5 MiB of pages a
// process that never throws does not carry): a server connect's deadline that threw when it was
// cancelled made that part of every sluice's memory. The preloaded shim
// (tests/support/throw_log_preload.c) logs every exception the process raises.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/support/file_text.hpp"

namespace sluice::testing {
namespace {

std::filesystem::path throw_log_path(const std::string& name) {
    auto path = std::filesystem::temp_directory_path() /
                ("sluice-throws-" + name + "-" + std::to_string(::getpid()) + ".log");
    std::filesystem::remove(path);
    return path;
}

std::vector<std::pair<std::string, std::string>> throw_log_env(const std::filesystem::path& log) {
    return preload_env(SLUICE_THROW_LOG_PRELOAD, {{"SLUICE_THROW_LOG", log.string()}});
}

// The shim sees sluice's exceptions: reading a malformed configuration file throws inside the
// TOML parser (and is reported as the file's error).
TEST(NoThrow, TheShimSeesAnExceptionSluiceRaises) {
    const auto log = throw_log_path("control");
    const auto conf = std::filesystem::temp_directory_path() / ("sluice-malformed-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(conf) << "[listen\n";
    ChildOptions options;
    options.argv = {sluice_binary().string(), "--config", conf.string()};
    options.env = throw_log_env(log);
    ChildProcess sluice(std::move(options));
    auto status = sluice.wait_for_exit(std::chrono::seconds(20));
    std::filesystem::remove(conf);
    ASSERT_TRUE(status) << sluice.log();
    EXPECT_EQ(status->code, 1) << sluice.log();
    EXPECT_NE(file_text(log).find("exception raised"), std::string::npos) << sluice.log();
    std::filesystem::remove(log);
}

// md5 and SCRAM logins (the first one connects the pool's server), simple and extended queries,
// a transaction, a client's goodbye and a client that just goes away.
TEST(NoThrow, LoginsServerConnectsQueriesAndGoodbyesThrowNothing) {
    const auto log = throw_log_path("paths");
    auto config = SluiceConfig{};
    config.env = throw_log_env(log);
    {
        SluiceProcess sluice(config);
        for (const auto& role : {kMd5Role, kScramRole}) {
            auto c = BlockingClient::connect(sluice_client(sluice, role));
            EXPECT_EQ(c.simple_query("SELECT 1").at(0, 0), "1");
            EXPECT_EQ(c.extended_query("SELECT $1::int + 1", {"41"}).at(0, 0), "42");
            c.simple_query("BEGIN");
            EXPECT_EQ(c.simple_query("SELECT 2").at(0, 0), "2");
            c.simple_query("COMMIT");
            c.terminate();
        }
        auto gone = BlockingClient::connect(sluice_client(sluice, kMd5Role));
        EXPECT_EQ(gone.simple_query("SELECT 3").at(0, 0), "3");
        gone.close();  // without a Terminate
        auto after = BlockingClient::connect(sluice_client(sluice, kScramRole));
        EXPECT_EQ(after.simple_query("SELECT 4").at(0, 0), "4");
    }
    EXPECT_EQ(file_text(log), "") << "sluice raised exceptions on the common paths";
    std::filesystem::remove(log);
}

}  // namespace
}  // namespace sluice::testing
