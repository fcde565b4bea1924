// Issue 7, part 1: [tcp] keepalive is set on the sockets sluice accepts and on the server
// connections it opens. Seen from outside with `ss -o`, which shows each socket's timer: with
// keepalive on, an idle established socket has "timer:(keepalive,<time left>,...)", and with
// keepalive_idle = 1s that time is at most a second or so, not the kernel's 2 hours.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

#include "tests/integration/limits/limits_support.hpp"
#include "tests/integration/proxy/pq.hpp"

namespace sluice::testing::limits {
namespace {

std::string run(const std::string& command) {
    std::string out;
    FILE* p = ::popen(command.c_str(), "r");
    if (!p) return out;
    char buf[4096];
    while (auto n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
    ::pclose(p);
    return out;
}

// ss lines of established TCP sockets owned by `pid` (local or remote port as given).
std::string sockets_of(pid_t pid, const std::string& filter) {
    auto all = run("ss -tnopH state established '( " + filter + " )' 2>/dev/null");
    std::string mine;
    const std::string tag = "pid=" + std::to_string(pid) + ",";
    std::size_t start = 0;
    while (start < all.size()) {
        auto end = all.find('\n', start);
        if (end == std::string::npos) end = all.size();
        auto line = all.substr(start, end - start);
        if (line.find(tag) != std::string::npos) mine += line + "\n";
        start = end + 1;
    }
    return mine;
}

// True when every line has a keepalive timer of at most `max_seconds` left.
bool short_keepalive_timers(const std::string& lines, double max_seconds) {
    if (lines.empty()) return false;
    static const std::regex timer(R"(timer:\(keepalive,(?:(\d+)ms|(\d+(?:\.\d+)?)sec),)");
    std::size_t start = 0;
    while (start < lines.size()) {
        auto end = lines.find('\n', start);
        auto line = lines.substr(start, end - start);
        start = end + 1;
        std::smatch m;
        if (!std::regex_search(line, m, timer)) return false;
        double seconds = m[1].matched ? std::stod(m[1]) / 1000 : std::stod(m[2]);
        if (seconds > max_seconds) return false;
    }
    return true;
}

TEST(TcpKeepalive, ClientAndServerSocketsGetTheConfiguredTimes) {
    auto config = SluiceConfig::trust();
    config.extra_toml = "\n[tcp]\nkeepalive = true\nkeepalive_idle = \"1s\"\nkeepalive_interval = \"1s\"\nkeepalive_count = 3\n";
    SluiceProcess sluice(config);
    auto c = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_EQ(query_value(c.get(), "SELECT 1"), "1");  // a server connection exists now
    const pid_t pid = sluice.process().pid();

    std::string client_side, server_side;
    EXPECT_TRUE(wait_until([&] {
        client_side = sockets_of(pid, "sport = :" + std::to_string(sluice.port()));
        return short_keepalive_timers(client_side, 2.5);
    }, 10s, 100ms)) << "sluice's client socket:\n" << client_side;
    EXPECT_TRUE(wait_until([&] {
        server_side = sockets_of(pid, "dport = :" + std::to_string(pg().port()));
        return short_keepalive_timers(server_side, 2.5);
    }, 10s, 100ms)) << "sluice's server sockets:\n" << server_side;
}

TEST(TcpKeepalive, OffMeansNoKeepaliveTimer) {
    auto config = SluiceConfig::trust();
    config.extra_toml = "\n[tcp]\nkeepalive = false\n";
    SluiceProcess sluice(config);
    auto c = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_EQ(query_value(c.get(), "SELECT 1"), "1");
    const pid_t pid = sluice.process().pid();
    std::string client_side;
    ASSERT_TRUE(wait_until([&] {
        client_side = sockets_of(pid, "sport = :" + std::to_string(sluice.port()));
        return !client_side.empty();
    }, 10s, 100ms));
    EXPECT_EQ(client_side.find("keepalive"), std::string::npos) << client_side;
    auto server_side = sockets_of(pid, "dport = :" + std::to_string(pg().port()));
    EXPECT_FALSE(server_side.empty());
    EXPECT_EQ(server_side.find("keepalive"), std::string::npos) << server_side;
}

}  // namespace
}  // namespace sluice::testing::limits
