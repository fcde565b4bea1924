// Issue 7, part 1: what an unauthenticated client can make sluice buffer. The startup packet is
// capped at 10000 bytes (PostgreSQL's MAX_STARTUP_PACKET_LENGTH) and every message before login
// completes (password, SASL) at a length of 65535 (PG_MAX_AUTH_TOKEN_LENGTH), not at the 64 MiB
// a logged-in client may send: a too-long message is refused from its header, before its body
// is read, with 08P01, a log line, and the connection closed.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/limits/limits_support.hpp"

namespace sluice::testing::limits {
namespace {

std::string be32(std::uint32_t v) {
    return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}

// Logs in as the SCRAM role up to the server's AuthenticationSASL, and returns the socket.
Fd until_sasl_request(const SluiceProcess& sluice) {
    Fd fd = tcp_connect(sluice.port());
    EXPECT_TRUE(send_all(fd.get(), startup_packet(kScramRole.user)));
    // AuthenticationSASL is 'R' + length + 10 + "SCRAM-SHA-256\0\0": wait for all of it.
    std::string got;
    auto deadline = std::chrono::steady_clock::now() + 10s;
    auto whole = [&] {
        if (got.size() < 5) return false;
        std::uint32_t len = (std::uint32_t(std::uint8_t(got[1])) << 24) | (std::uint32_t(std::uint8_t(got[2])) << 16) |
                            (std::uint32_t(std::uint8_t(got[3])) << 8) | std::uint8_t(got[4]);
        return got.size() >= 1 + std::size_t(len);
    };
    while (!whole()) {
        if (std::chrono::steady_clock::now() > deadline) break;
        pollfd p{fd.get(), POLLIN, 0};
        if (::poll(&p, 1, 100) <= 0) continue;
        char buf[256];
        auto n = ::recv(fd.get(), buf, sizeof buf, 0);
        if (n <= 0) break;
        got.append(buf, std::size_t(n));
    }
    EXPECT_FALSE(got.empty()) << "no authentication request";
    if (!got.empty()) {
        EXPECT_EQ(got[0], 'R');
    }
    return fd;
}

class PreLogin : public ::testing::Test {
protected:
    static void SetUpTestSuite() { sluice_ = new SluiceProcess(SluiceConfig{}); }
    static void TearDownTestSuite() {
        delete sluice_;
        sluice_ = nullptr;
    }
    static SluiceProcess* sluice_;
};
SluiceProcess* PreLogin::sluice_ = nullptr;

TEST_F(PreLogin, OversizedStartupPacketIsRefused) {
    auto from = sluice_->log_size();
    Fd fd = tcp_connect(sluice_->port());
    // A length of 10001 and only the first bytes: refused from the length alone.
    ASSERT_TRUE(send_all(fd.get(), be32(10001) + be32(196608) + std::string(100, 'x')));
    auto o = read_until_closed(fd.get(), 10s);
    EXPECT_TRUE(o.closed) << "the connection stayed open";
    EXPECT_EQ(o.sqlstate(), "08P01") << o.message();
    EXPECT_NE(o.message().find("10001"), std::string::npos) << o.message();
    EXPECT_TRUE(sluice_->wait_for_log("closing because: client protocol violation: invalid startup packet", 5s, from));
}

TEST_F(PreLogin, OversizedSaslMessageIsRefusedFromItsHeader) {
    auto from = sluice_->log_size();
    Fd fd = until_sasl_request(*sluice_);
    // A SASLInitialResponse that says it is 70000 bytes long; only its first 1000 are sent. Before
    // the cap sluice waited for the rest (up to 64 MiB, for as long as client_login allows).
    ASSERT_TRUE(send_all(fd.get(), "p" + be32(4 + 70000) + std::string(1000, 'x')));
    auto o = read_until_closed(fd.get(), 10s);
    EXPECT_TRUE(o.closed) << "the connection stayed open (sluice waits for the body)";
    EXPECT_EQ(o.sqlstate(), "08P01") << o.message();
    EXPECT_NE(o.message().find("65535"), std::string::npos) << o.message();
    EXPECT_TRUE(sluice_->wait_for_log("closing because: client protocol violation: ", 5s, from));
    EXPECT_TRUE(sluice_->wait_for_log("65535", 5s, from)) << sluice_->log(from);
}

TEST_F(PreLogin, SaslMessageAtTheLimitIsRead) {
    Fd fd = until_sasl_request(*sluice_);
    // A SASLInitialResponse whose length is exactly 65535 (PostgreSQL counts the length word, as
    // pq_getmessage does): read whole, then refused as bad SCRAM (28P01), not for its size.
    const std::string mechanism("SCRAM-SHA-256\0", 14);
    const std::size_t data = 65535 - 4 - mechanism.size() - 4;
    std::string msg = "p" + be32(65535) + mechanism + be32(std::uint32_t(data)) + std::string(data, 'x');
    ASSERT_TRUE(send_all(fd.get(), msg));
    auto o = read_until_closed(fd.get(), 10s);
    EXPECT_TRUE(o.closed);
    EXPECT_EQ(o.sqlstate(), "28P01") << o.message();
}

TEST_F(PreLogin, LoginStillWorksAndBigMessagesAfterLoginStillPass) {
    auto c = BlockingClient::connect(sluice_client(*sluice_, kScramRole));
    // 1 MiB in one Query: the pre-login cap no longer applies once logged in.
    auto r = c.simple_query("SELECT length('" + std::string(1 << 20, 'y') + "')");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r.at(0, 0), std::to_string(1 << 20));
}

}  // namespace
}  // namespace sluice::testing::limits
