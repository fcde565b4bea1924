// Issue 7, part 1, fault cases against an upstream that is not there: clients get 08006 well
// within query_wait, no client hangs, and sluice never has more connection attempts under way
// than the pool's size. Clients queued behind a failed attempt share its failure instead of each
// trying again in turn (before, the 20th client of a pool of 2 waited ten attempts, ~10s, and
// with more clients than query_wait allows, got 53300 instead of 08006).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/integration/limits/limits_support.hpp"
#include "tests/support/free_port.hpp"

namespace sluice::testing::limits {
namespace {

// A TCP listener that accepts and never writes: an upstream host whose PostgreSQL hangs. It
// counts the connections open at once (until the peer, sluice, gives up and closes).
class SilentUpstream {
public:
    SilentUpstream() {
        listen_ = Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
        int one = 1;
        ::setsockopt(listen_.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        auto a = loopback(0);
        if (::bind(listen_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(listen_.get(), 128) != 0)
            throw std::runtime_error("SilentUpstream: cannot listen");
        socklen_t len = sizeof a;
        ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~SilentUpstream() {
        stop_ = true;
        thread_.join();
    }
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] int accepted() const noexcept { return accepted_.load(); }
    [[nodiscard]] int max_open() const noexcept { return max_open_.load(); }

private:
    void run() {
        std::vector<Fd> open;
        while (!stop_) {
            std::vector<pollfd> polls{{listen_.get(), POLLIN, 0}};
            for (auto& fd : open) polls.push_back({fd.get(), POLLIN, 0});
            if (::poll(polls.data(), polls.size(), 50) <= 0) continue;
            // Keep what sluice still holds open (what it sent, its startup packet, is ignored).
            std::vector<Fd> kept;
            for (std::size_t i = 1; i < polls.size(); ++i) {
                bool gone = false;
                if (polls[i].revents & (POLLIN | POLLHUP | POLLERR)) {
                    char buf[512];
                    auto n = ::recv(open[i - 1].get(), buf, sizeof buf, MSG_DONTWAIT);
                    gone = n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
                }
                if (!gone) kept.push_back(std::move(open[i - 1]));
            }
            if (polls[0].revents & POLLIN) {
                Fd fd(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
                if (fd) {
                    kept.push_back(std::move(fd));
                    ++accepted_;
                }
            }
            open = std::move(kept);
            if (static_cast<int>(open.size()) > max_open_) max_open_ = static_cast<int>(open.size());
        }
    }

    Fd listen_;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> accepted_{0};
    std::atomic<int> max_open_{0};
    std::thread thread_;
};

struct LoginAttempt {
    std::optional<ServerError> error;
    double seconds = 0;
};

// `n` clients log in at once; each returns its error (all must fail here) and how long it took.
std::vector<LoginAttempt> concurrent_logins(const SluiceProcess& sluice, int n) {
    std::vector<std::future<LoginAttempt>> futures;
    for (int i = 0; i < n; ++i)
        futures.push_back(std::async(std::launch::async, [&] {
            auto options = sluice_client(sluice, kTrustRole);
            options.timeout = 60s;
            auto started = std::chrono::steady_clock::now();
            LoginAttempt a;
            a.error = login_error(options);
            a.seconds = seconds_since(started);
            return a;
        }));
    std::vector<LoginAttempt> out;
    for (auto& f : futures) out.push_back(f.get());
    return out;
}

SluiceConfig towards(std::uint16_t upstream_port) {
    auto config = SluiceConfig::trust();
    config.pool_size = 2;
    config.query_wait = "30s";
    config.server_connect_timeout = "1s";
    config.upstream_port = upstream_port;
    return config;
}

TEST(UpstreamFaults, UnreachableUpstreamFailsFast) {
    SluiceProcess sluice(towards(free_port()));  // nothing listens there
    double slowest = 0;
    for (const auto& a : concurrent_logins(sluice, 20)) {
        ASSERT_TRUE(a.error) << "a login succeeded with no upstream";
        EXPECT_EQ(a.error->sqlstate(), "08006") << a.error->fields().message();
        slowest = std::max(slowest, a.seconds);
    }
    // One round of attempts (server_connect_timeout 1s, with its retries) answers everyone: no
    // client waits for the attempts of the clients queued before it.
    EXPECT_LT(slowest, 5.0) << "query_wait is 30s, server_connect_timeout 1s";
    EXPECT_TRUE(sluice.wait_for_log("closing because: server unavailable", 5s));
    // Still answering, and as fast.
    auto again = concurrent_logins(sluice, 1);
    ASSERT_TRUE(again[0].error);
    EXPECT_EQ(again[0].error->sqlstate(), "08006");
}

TEST(UpstreamFaults, SilentUpstreamIsBoundedByServerConnectTimeout) {
    SilentUpstream upstream;
    SluiceProcess sluice(towards(upstream.port()));
    double slowest = 0;
    for (const auto& a : concurrent_logins(sluice, 10)) {
        ASSERT_TRUE(a.error) << "a login succeeded against a silent upstream";
        EXPECT_EQ(a.error->sqlstate(), "08006") << a.error->fields().message();
        EXPECT_NE(a.error->fields().message().find("timed out"), std::string_view::npos) << a.error->fields().message();
        // It says where: the TCP connect was accepted, the startup packet never answered.
        EXPECT_NE(a.error->fields().message().find("the server had not answered the startup packet"),
                  std::string_view::npos)
            << a.error->fields().message();
        slowest = std::max(slowest, a.seconds);
    }
    EXPECT_LT(slowest, 5.0) << "server_connect_timeout is 1s, query_wait 30s";
    EXPECT_GE(upstream.accepted(), 1);
    // Never more attempts under way than the pool has places.
    EXPECT_LE(upstream.max_open(), 2);
}

// An upstream named by a host name whose lookup hangs (DNS not answering: the preloaded shim makes
// getaddrinfo of that name take 8 s). server_connect_timeout covers the lookup: each client is
// told within about a second, not when getaddrinfo gives up; and a pool whose upstream is an
// address is not held up behind the lookup meanwhile.
TEST(UpstreamFaults, SlowLookupIsBoundedByServerConnectTimeout) {
    constexpr const char* kSlowName = "slow-lookup.sluice.test";
    auto config = towards(pg().port());
    config.upstream_host = kSlowName;
    config.extra_toml = "\n[[databases]]\nname = \"by_address\"\nurl = \"postgres://127.0.0.1:" +
                        std::to_string(pg().port()) + "/postgres?sslmode=disable\"\n";
    config.env = preload_env(SLUICE_SLOW_LOOKUP_PRELOAD,
                             {{"SLUICE_SLOW_LOOKUP_HOST", kSlowName}, {"SLUICE_SLOW_LOOKUP_MS", "8000"}});
    SluiceProcess sluice(config);

    auto started = std::chrono::steady_clock::now();
    auto slow = std::async(std::launch::async, [&] { return concurrent_logins(sluice, 3); });
    std::this_thread::sleep_for(200ms);  // the lookups are under way
    auto by_address = sluice_client(sluice, kTrustRole, "by_address");
    by_address.timeout = 30s;
    auto fast_started = std::chrono::steady_clock::now();
    auto c = BlockingClient::connect(by_address);
    EXPECT_EQ(c.simple_query("SELECT 'by address'").at(0, 0), "by address");
    EXPECT_LT(seconds_since(fast_started), 2.0) << "a pool with an address waited for another pool's lookup";

    for (const auto& a : slow.get()) {
        ASSERT_TRUE(a.error) << "a login through the slow name succeeded within its lookup";
        EXPECT_EQ(a.error->sqlstate(), "08006") << a.error->fields().message();
        EXPECT_NE(a.error->fields().message().find("timed out"), std::string_view::npos) << a.error->fields().message();
        EXPECT_NE(a.error->fields().message().find("resolving the host name"), std::string_view::npos)
            << a.error->fields().message();
        // server_connect_timeout 1s (one attempt, then the retry budget is spent); the lookup takes 8 s.
        EXPECT_LT(a.seconds, 5.0) << "the client waited for the lookup, not for server_connect_timeout";
    }
    EXPECT_LT(seconds_since(started), 6.0);

    // A lookup still under way does not hold up a shutdown (Asio's resolver thread was joined at
    // exit: SIGTERM then waited for getaddrinfo). The 8 s lookups started ~1 s ago at most.
    auto stopping = std::chrono::steady_clock::now();
    auto status = sluice.stop();
    EXPECT_LT(seconds_since(stopping), 3.0) << "sluice waited for a host name lookup to stop";
    EXPECT_FALSE(unclean_exit(status, sluice.log())) << *unclean_exit(status, sluice.log());
}

}  // namespace
}  // namespace sluice::testing::limits
