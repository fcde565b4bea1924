// Issue 7, part 1: listen.max_client_connections counts every socket sluice accepted, from the
// accept on: one that has not sent its startup packet yet, one that only carries a CancelRequest.
// The socket past the limit is answered 53300 when it sends a startup packet, or just closed, and
// in either case promptly (not after client_login). Every way a session ends gives its place back.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/limits/limits_support.hpp"
#include "tests/integration/proxy/pq.hpp"

namespace sluice::testing::limits {
namespace {

// Sessions sluice has started (it logs one "connected from" line each, at accept).
std::size_t connected_lines(const SluiceProcess& sluice) {
    std::size_t n = 0;
    auto log = sluice.log();
    for (auto pos = log.find(" connected from "); pos != std::string::npos; pos = log.find(" connected from ", pos + 1))
        ++n;
    return n;
}

// `n` sockets that connect and say nothing, each seen by sluice.
std::vector<Fd> silent_sockets(SluiceProcess& sluice, int n) {
    auto before = connected_lines(sluice);
    std::vector<Fd> fds;
    for (int i = 0; i < n; ++i) fds.push_back(tcp_connect(sluice.port()));
    EXPECT_TRUE(wait_until([&] { return connected_lines(sluice) >= before + n; }, 10s)) << sluice.log();
    return fds;
}

SluiceConfig limited(std::uint32_t max) {
    auto config = SluiceConfig::trust();
    config.max_client_connections = max;
    config.client_login = "60s";  // the silent sockets stay for the whole test
    return config;
}

TEST(ClientSlots, SocketsBeforeTheirStartupPacketCount) {
    SluiceProcess sluice(limited(3));
    auto silent = silent_sockets(sluice, 3);

    auto e = login_error(sluice_client(sluice, kTrustRole));
    ASSERT_TRUE(e) << "a client logged in while 3 sockets held the 3 places";
    EXPECT_EQ(e->sqlstate(), "53300");
    EXPECT_NE(e->fields().message().find("max_client_connections"), std::string_view::npos) << e->fields().message();

    // A place given back is usable again.
    silent.pop_back();
    EXPECT_TRUE(wait_until([&] { return !login_error(sluice_client(sluice, kTrustRole)); }, 10s, 100ms))
        << "the place of a closed socket was not given back";
}

TEST(ClientSlots, OverTheLimitIsAnsweredPromptly) {
    SluiceProcess sluice(limited(2));
    auto silent = silent_sockets(sluice, 2);

    // A startup packet past the limit: 53300, then closed.
    {
        Fd fd = tcp_connect(sluice.port());
        ASSERT_TRUE(send_all(fd.get(), startup_packet(kTrustRole.user)));
        auto o = read_until_closed(fd.get(), 10s);
        EXPECT_TRUE(o.closed);
        EXPECT_EQ(o.sqlstate(), "53300") << o.message();
    }
    // An SSLRequest past the limit: told 'N' (no TLS), then 53300 for the startup packet.
    {
        Fd fd = tcp_connect(sluice.port());
        std::string ssl;
        protocol::SslRequest{}.encode(ssl);
        ASSERT_TRUE(send_all(fd.get(), ssl));
        char answer = 0;
        pollfd p{fd.get(), POLLIN, 0};
        ASSERT_EQ(::poll(&p, 1, 10000), 1);
        ASSERT_EQ(::recv(fd.get(), &answer, 1, 0), 1);
        EXPECT_EQ(answer, 'N');
        ASSERT_TRUE(send_all(fd.get(), startup_packet(kTrustRole.user)));
        auto o = read_until_closed(fd.get(), 10s);
        EXPECT_TRUE(o.closed);
        EXPECT_EQ(o.sqlstate(), "53300") << o.message();
    }
    // A socket past the limit that says nothing is closed well before client_login (60s).
    {
        Fd fd = tcp_connect(sluice.port());
        auto o = read_until_closed(fd.get(), 20s);
        EXPECT_TRUE(o.closed) << "a socket over the limit was kept open";
    }
    // A CancelRequest past the limit is not acted on: the connection is just closed.
    {
        auto from = sluice.log_size();
        Fd fd = tcp_connect(sluice.port());
        ASSERT_TRUE(send_all(fd.get(), cancel_packet()));
        auto o = read_until_closed(fd.get(), 10s);
        EXPECT_TRUE(o.closed);
        EXPECT_TRUE(sluice.wait_for_log("max_client_connections reached", 5s, from)) << sluice.log(from);
        EXPECT_EQ(sluice.log(from).find("cancel request matches no active query"), std::string::npos)
            << "a cancel request over the limit was handled";
    }
    // The two silent sockets were not disturbed, and the limit holds.
    for (auto& fd : silent) {
        pollfd p{fd.get(), POLLIN, 0};
        EXPECT_EQ(::poll(&p, 1, 0), 0) << "a socket within the limit was closed";
    }
}

TEST(ClientSlots, CancelRequestConnectionsCount) {
    // One place: a logged-in client holds it; a CancelRequest for its own query needs a second.
    auto config = limited(2);
    SluiceProcess sluice(config);
    auto silent = silent_sockets(sluice, 1);
    auto c = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    // Both places taken: a third connection (here a cancel) is refused, not forwarded.
    auto from = sluice.log_size();
    Fd fd = tcp_connect(sluice.port());
    ASSERT_TRUE(send_all(fd.get(), cancel_packet()));
    auto o = read_until_closed(fd.get(), 10s);
    EXPECT_TRUE(o.closed);
    EXPECT_TRUE(sluice.wait_for_log("max_client_connections reached", 5s, from)) << sluice.log(from);
    EXPECT_EQ(query_value(c.get(), "SELECT 'served'"), "served");
}

TEST(ClientSlots, LoginTimeoutGivesThePlaceBack) {
    auto config = SluiceConfig::trust();
    config.max_client_connections = 2;
    config.client_login = "1s";
    SluiceProcess sluice(config);
    auto silent = silent_sockets(sluice, 2);
    for (auto& fd : silent) {
        auto o = read_until_closed(fd.get(), 20s);
        EXPECT_TRUE(o.closed) << "client_login did not cut a silent socket";
        EXPECT_EQ(o.sqlstate(), "08P01") << o.message();
    }
    // Both places are free again (polled: a refused attempt's own place is given back asynchronously).
    PgConn a, b;
    EXPECT_TRUE(wait_until([&] {
        a = pq_connect(sluice.conninfo(kTrustRole.user));
        return connected(a.get());
    }, 10s, 100ms)) << conn_error(a.get());
    EXPECT_TRUE(wait_until([&] {
        b = pq_connect(sluice.conninfo(kTrustRole.user));
        return connected(b.get());
    }, 10s, 100ms)) << conn_error(b.get());
}

}  // namespace
}  // namespace sluice::testing::limits
