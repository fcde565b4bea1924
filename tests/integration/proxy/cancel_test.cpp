// Issue #3 acceptance, query cancellation: a CancelRequest with the key sluice handed out
// reaches the server running the client's query; one with a wrong secret does nothing.
#include <gtest/gtest.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <future>
#include <string>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Timed {
    TimedResult result;
    double seconds = 0;
};

// Runs `sql` on another thread; the caller may act while it runs.
std::future<Timed> run_async(PGconn* c, std::string sql) {
    return std::async(std::launch::async, [c, sql = std::move(sql)] {
        auto started = Clock::now();
        Timed t{exec_with_deadline(c, sql, 30s), 0};
        t.seconds = seconds_since(started);
        return t;
    });
}

// A raw CancelRequest: Int32 16, Int32 80877102, Int32 pid, Int32 key.
void send_cancel_request(std::uint16_t port, std::int32_t pid, std::uint32_t key) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << std::strerror(errno);
    std::uint32_t words[4] = {htonl(16), htonl(80877102), htonl(static_cast<std::uint32_t>(pid)), htonl(key)};
    ASSERT_EQ(::send(fd, words, sizeof words, MSG_NOSIGNAL), static_cast<ssize_t>(sizeof words));
    // The receiver closes the connection once it has read the request.
    timeval tv{5, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char byte;
    EXPECT_EQ(::recv(fd, &byte, 1, 0), 0) << "a CancelRequest gets no reply, only a close";
    ::close(fd);
}

class ProxyCancel : public ::testing::Test {
protected:
    void SetUp() override {
        sluice_.emplace(SluiceConfig{});
        conn_ = pq_connect(sluice_->conninfo(kScramRole.user, kScramRole.password));
        ASSERT_TRUE(connected(conn_.get())) << conn_error(conn_.get());
    }
    void TearDown() override {
        conn_.reset();
        sluice_.reset();
    }
    std::optional<SluiceProcess> sluice_;
    PgConn conn_;
};

TEST_F(ProxyCancel, CancelStopsTheQueryAndTheSessionGoesOn) {
    auto running = run_async(conn_.get(), "SELECT pg_sleep(10)");
    // Wait until the query runs on the server (not just until it was sent).
    ASSERT_TRUE(wait_until(
        [] {
            return pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)' "
                                       "AND state = 'active'")
                       .at(0)
                       .at(0) == "1";
        },
        10s));
    std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(conn_.get()), &PQfreeCancel);
    ASSERT_TRUE(cancel);
    char err[256] = {};
    const auto sent = Clock::now();
    ASSERT_EQ(PQcancel(cancel.get(), err, sizeof err), 1) << err;
    ASSERT_EQ(running.wait_for(5s), std::future_status::ready) << "the query did not return after the cancel";
    const double after_cancel = seconds_since(sent);
    auto t = running.get();
    EXPECT_EQ(t.result.state(), "57014") << t.result.describe();
    EXPECT_LT(after_cancel, 1.0) << "the cancel took " << after_cancel << " s to stop the query";
    EXPECT_EQ(query_value(conn_.get(), "SELECT 'usable after cancel'"), "usable after cancel");
    EXPECT_TRUE(sluice_->wait_for_log("forwarding a cancel request", 2s));
}

TEST_F(ProxyCancel, WrongSecretDoesNothing) {
    const int pid = PQbackendPID(conn_.get());
    ASSERT_NE(pid, 0);
    auto running = run_async(conn_.get(), "SELECT pg_sleep(2), 'slept'");
    ASSERT_TRUE(wait_until(
        [] {
            return pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(2)%' "
                                       "AND state = 'active'")
                       .at(0)
                       .at(0) == "1";
        },
        10s));
    // The right process id with a guessed secret, and a made-up process id.
    send_cancel_request(sluice_->port(), pid, 0x12345678u);
    send_cancel_request(sluice_->port(), pid ^ 0x5a5a5a, 0x12345678u);
    ASSERT_EQ(running.wait_for(10s), std::future_status::ready);
    auto t = running.get();
    ASSERT_TRUE(t.result.ok()) << "a CancelRequest with a wrong secret interrupted the query: " << t.result.describe();
    EXPECT_STREQ(PQgetvalue(t.result.result.get(), 0, 1), "slept");
    EXPECT_GE(t.seconds, 1.9);
    EXPECT_FALSE(sluice_->wait_for_log("forwarding a cancel request", 100ms));
}

}  // namespace
}  // namespace sluice::testing
