// Issue 6, defect 2: a server must not go back to the pool while the session still writes to it.
// Client A sends, in one write, a query and then a CopyData of 59 MiB (PostgreSQL ignores CopyData
// outside COPY). sluice forwards the query, then the CopyData; PostgreSQL reads the CopyData only
// once the query is done, so the write is still going when the query's ReadyForQuery comes back.
// A batch of only CopyData does not move the transaction tracker, so today that ReadyForQuery
// releases the server mid-write to client B, who waits for it: B's query lands in the middle of
// A's bytes, PostgreSQL misreads the stream and closes with FATAL. (The issue used pg_sleep(1);
// 2 s leaves room for B to be queued in time under the sanitizer builds.)
#include <gtest/gtest.h>

#include <thread>

#include <sstream>
#include <string>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

constexpr std::size_t kCopyBytes = 59 * 1024 * 1024;
const std::string kSleep = "select pg_sleep(2)";

TEST(RelayFaults, ServerNotReleasedWhileClientStillWrites) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "20s";
    SluiceProcess sluice(config);
    const std::string payload = query_msg(kSleep) + big_copy_data_msg(kCopyBytes);

    for (int run = 1; run <= 2; ++run) {
        SCOPED_TRACE("run " + std::to_string(run));
        const auto log_from = pg().log_size();
        auto options = sluice_client(sluice, kTrustRole);
        options.timeout = 30s;
        auto a = BlockingClient::connect(options);
        auto b = BlockingClient::connect(options);

        // sluice reads the whole CopyData (it is under its 64 MiB message limit), so this returns
        // while sluice is still writing it to the server.
        // Sent from a thread: under a sanitizer sluice may take longer to take in 59 MiB than
        // pg_sleep lasts, and the Query at its head runs while the rest is still arriving.
        std::thread sender([&] { a.send_raw(payload); });
        struct Join {
            std::thread& t;
            ~Join() {
                if (t.joinable()) t.join();
            }
        } join{sender};
        ASSERT_TRUE(wait_for_active_query(pg(), kSleep)) << "A's query never ran";
        // B now waits for the only server, held by A.
        auto b_result = try_query(b, "select 42");
        EXPECT_TRUE(b_result.ok()) << "B, waiting while A wrote to the server, got: " << b_result.describe();
        EXPECT_EQ(b_result.value(), "42");

        sender.join();
        auto a_read = read_until_ready_or_end(a);
        EXPECT_EQ(a_read.ended, "") << "A's session ended before its ReadyForQuery";
        EXPECT_EQ(tags(a_read.messages), "TDCZ") << "A's pg_sleep result; errors: " << error_codes(a_read.messages);

        std::string fatal;
        std::istringstream log(pg().read_log(log_from));
        for (std::string line; std::getline(log, line);)
            if (line.find("FATAL:") != std::string::npos) fatal += line + "\n";
        EXPECT_EQ(fatal, "") << "PostgreSQL saw a broken stream";
        expect_pool_sound(pg(), sluice, kTrustRole, 1);
    }
}

}  // namespace
}  // namespace sluice::testing::relay
