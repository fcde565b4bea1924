// Issue 7, part 1, the floods. Suite HeavyLimits: the heaviest cases (a thousand dribbling
// clients, twenty thousand connection attempts), kept apart: they run in the main build only
// (scripts/test.sh leaves the ctest entry integration_limits.HeavyLimits out of the sanitizer
// builds, where they would measure the sanitizer).
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <iostream>
#include <thread>
#include <vector>

#include "tests/integration/limits/limits_support.hpp"
#include "tests/integration/proxy/backend_sampler.hpp"
#include "tests/integration/proxy/pq.hpp"

namespace sluice::testing::limits {
namespace {

// Waits until every socket in `fds` is connected (writable) or failed; returns how many connected.
int wait_connected(std::vector<Fd>& fds, std::chrono::milliseconds timeout) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::vector<bool> done(fds.size(), false);
    int connected_count = 0;
    std::size_t finished = 0;
    while (finished < fds.size() && std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> polls;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (!done[i] && fds[i]) {
                polls.push_back({fds[i].get(), POLLOUT, 0});
                index.push_back(i);
            } else if (!done[i]) {
                done[i] = true;
                ++finished;
            }
        if (polls.empty()) break;
        if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
        for (std::size_t k = 0; k < polls.size(); ++k) {
            if (!polls[k].revents) continue;
            done[index[k]] = true;
            ++finished;
            int err = 0;
            socklen_t len = sizeof err;
            ::getsockopt(polls[k].fd, SOL_SOCKET, SO_ERROR, &err, &len);
            if (err == 0) ++connected_count;
        }
    }
    return connected_count;
}

// Reads every socket until it closes or `timeout` passes; the outcome of each.
std::vector<Outcome> read_all_until_closed(std::vector<Fd>& fds, std::chrono::milliseconds timeout) {
    std::vector<Outcome> out(fds.size());
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::size_t open = 0;
    for (std::size_t i = 0; i < fds.size(); ++i) {
        if (fds[i]) ++open;
        else out[i].closed = true;  // never connected: nothing to wait for
    }
    while (open > 0 && std::chrono::steady_clock::now() < deadline) {
        std::vector<pollfd> polls;
        std::vector<std::size_t> index;
        for (std::size_t i = 0; i < fds.size(); ++i)
            if (!out[i].closed) {
                polls.push_back({fds[i].get(), POLLIN, 0});
                index.push_back(i);
            }
        if (::poll(polls.data(), polls.size(), 100) <= 0) continue;
        for (std::size_t k = 0; k < polls.size(); ++k) {
            if (!polls[k].revents) continue;
            auto& o = out[index[k]];
            char buf[1024];
            auto n = ::recv(polls[k].fd, buf, sizeof buf, MSG_DONTWAIT);
            if (n > 0) {
                o.bytes.append(buf, static_cast<std::size_t>(n));
            } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                o.closed = true;
                --open;
            }
        }
    }
    for (auto& o : out)
        if (!o.closed) o.timed_out = true;
    return out;
}

// Whether sluice let this connection log in (AuthenticationOk: 'R', length 8, code 0).
bool logged_in(const Outcome& o) {
    return o.bytes.find(std::string("R\0\0\0\x08\0\0\0\0", 9)) != std::string::npos;
}

TEST(HeavyLimits, SlowlorisDoesNotStarveNormalClients) {
    constexpr int kSlow = 1000;
    constexpr int kNormal = 50;
    auto config = SluiceConfig::trust();
    config.max_client_connections = 2000;
    config.client_login = "2s";
    config.pool_size = 5;
    config.log_connections = false;  // 2000 lines of connect/disconnect say nothing here
    SluiceProcess sluice(config);
    wait_no_backends(kTrustRole.user);
    BackendSampler sampler(pg(), std::string(kTrustRole.user));

    // The slow clients: each sends its startup packet one byte a second, from two threads.
    const std::string packet = startup_packet(kTrustRole.user);
    std::atomic<int> slow_connected{0}, slow_cut{0}, slow_logged_in{0};
    auto slow_worker = [&](int count) {
        std::vector<Fd> fds;
        for (int i = 0; i < count; ++i) fds.push_back(tcp_connect_nonblocking(sluice.port()));
        slow_connected += wait_connected(fds, 30s);
        std::vector<bool> cut(fds.size(), false);
        std::size_t cut_count = 0;
        for (std::size_t sent = 0; sent < packet.size() && cut_count < fds.size(); ++sent) {
            cut_count = 0;
            for (std::size_t i = 0; i < fds.size(); ++i) cut_count += cut[i] || !fds[i] ? 1 : 0;
            for (std::size_t i = 0; i < fds.size(); ++i) {
                if (cut[i] || !fds[i]) continue;
                char buf[256];
                auto n = ::recv(fds[i].get(), buf, sizeof buf, MSG_DONTWAIT);
                if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                    cut[i] = true;
                    ++slow_cut;
                    continue;
                }
                if (n > 0 && std::string_view(buf, n).find('R') == 0) ++slow_logged_in;
                if (::send(fds[i].get(), &packet[sent], 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
                    cut[i] = true;
                    ++slow_cut;
                }
            }
            std::this_thread::sleep_for(1s);
        }
        // Whatever was not cut yet must be, soon (client_login is 2s).
        auto rest = read_all_until_closed(fds, 20s);
        for (std::size_t i = 0; i < rest.size(); ++i)
            if (!cut[i] && fds[i] && rest[i].closed) ++slow_cut;
    };
    std::thread slow_a(slow_worker, kSlow / 2);
    std::thread slow_b(slow_worker, kSlow / 2);
    ASSERT_TRUE(wait_until([&] { return slow_connected.load() >= kSlow * 9 / 10; }, 60s));

    // Meanwhile the normal clients log in and run queries.
    std::vector<std::future<std::string>> normal;
    for (int i = 0; i < kNormal; ++i)
        normal.push_back(std::async(std::launch::async, [&, i]() -> std::string {
            auto c = pq_connect(sluice.conninfo(kTrustRole.user, {}, "postgres", "connect_timeout=30"));
            if (!connected(c.get())) return "connect: " + conn_error(c.get());
            for (int q = 0; q < 3; ++q) {
                auto r = exec_with_deadline(c.get(), "SELECT " + std::to_string(i), 30s);
                if (!r.ok()) return "query: " + r.describe();
            }
            return {};
        }));
    for (auto& f : normal) EXPECT_EQ(f.get(), "") << "a normal client was not served";

    slow_a.join();
    slow_b.join();
    EXPECT_EQ(slow_logged_in.load(), 0);
    EXPECT_EQ(slow_cut.load(), slow_connected.load()) << "slow clients left open after client_login";
    EXPECT_TRUE(sluice.wait_for_log("client did not complete login within 2000ms", 5s));

    sampler.stop();
    EXPECT_LE(sampler.max(), 5) << "more backends than the pool size";
    auto after = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(after.get())) << conn_error(after.get());
    EXPECT_EQ(query_value(after.get(), "SELECT 'after'"), "after");
}

TEST(HeavyLimits, ConnectionBurstIsRefusedAndResourcesComeBack) {
    constexpr int kLimit = 1000;
    constexpr int kAttempts = 20000;
    constexpr int kWave = 500;  // sockets of this process open at once, besides the held ones
    auto config = SluiceConfig::trust();
    config.max_client_connections = kLimit;
    config.client_login = "120s";  // the held sockets stay for the whole test
    config.pool_size = 5;
    config.log_connections = false;
    SluiceProcess sluice(config);
    wait_no_backends(kTrustRole.user);
    const pid_t pid = sluice.process().pid();

    // One normal client, served throughout.
    auto normal = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(normal.get())) << conn_error(normal.get());
    EXPECT_EQ(query_value(normal.get(), "SELECT 'first'"), "first");
    const int base_fds = open_fds(pid);
    const long base_rss = rss_kib(pid);

    // The other places taken by sockets that say nothing (counted from their accept).
    std::vector<Fd> held;
    for (int i = 0; i < kLimit - 1; ++i) held.push_back(tcp_connect_nonblocking(sluice.port()));
    ASSERT_EQ(wait_connected(held, 60s), kLimit - 1);
    ASSERT_TRUE(wait_until([&] { return open_fds(pid) >= base_fds + kLimit - 1; }, 30s)) << open_fds(pid);

    const std::string packet = startup_packet(kTrustRole.user);
    int refused_53300 = 0, closed_plain = 0, admitted = 0, hung = 0, not_connected = 0;
    for (int done = 0; done < kAttempts; done += kWave) {
        std::vector<Fd> wave;
        for (int i = 0; i < kWave; ++i) wave.push_back(tcp_connect_nonblocking(sluice.port()));
        wait_connected(wave, 30s);
        for (auto& fd : wave)
            if (fd && !send_all(fd.get(), packet)) fd.reset();
        for (auto& o : read_all_until_closed(wave, 15s)) {
            if (logged_in(o)) ++admitted;
            else if (o.timed_out) ++hung;
            else if (o.sqlstate() == "53300") ++refused_53300;
            else if (o.bytes.empty()) ++closed_plain;
        }
        for (auto& fd : wave) not_connected += fd ? 0 : 1;
        // Stop at the first wave that goes wrong rather than wait out all of them.
        ASSERT_EQ(admitted, 0) << "connections past max_client_connections logged in (wave at " << done << ")";
        ASSERT_EQ(hung, 0) << "connections past the limit were left open (wave at " << done << ")";
        auto r = exec_with_deadline(normal.get(), "SELECT " + std::to_string(done), 10s);
        ASSERT_TRUE(r.ok()) << "the normal client was not served during the burst: " << r.describe();
    }
    std::cerr << "burst: " << refused_53300 << " refused with 53300, " << closed_plain << " closed, " << hung
              << " hung, " << admitted << " admitted, " << not_connected << " not sent\n";
    EXPECT_GT(refused_53300, 0);

    held.clear();
    EXPECT_TRUE(wait_until([&] { return open_fds(pid) == base_fds; }, 30s, 100ms))
        << "sluice holds " << open_fds(pid) << " descriptors, " << base_fds << " before the burst";
    const long rss = rss_kib(pid);
    std::cerr << "sluice VmRSS: " << base_rss << " KiB before, " << rss << " KiB after\n";
    EXPECT_LE(rss, base_rss + 16 * 1024) << "RSS grew by " << (rss - base_rss) << " KiB";

    EXPECT_EQ(query_value(normal.get(), "SELECT 'last'"), "last");
    auto fresh = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(fresh.get())) << conn_error(fresh.get());
    EXPECT_LE(pg().count_backends(kTrustRole.user), 5);
}

}  // namespace
}  // namespace sluice::testing::limits
