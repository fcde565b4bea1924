// Issue 7, part 3: sluice logging in to an upstream that misbehaves. A real PostgreSQL never
// does, so a scripted fake upstream plays it: AuthenticationOk before the server proved itself
// in SCRAM, a wrong ServerSignature, an absurd iteration count, a cleartext password request on
// a plaintext link.
#include <gtest/gtest.h>

#include <atomic>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "tests/integration/auth/auth_support.hpp"
#include "tests/integration/auth/fake_upstream.hpp"

namespace sluice::testing::auth {
namespace {

namespace p = protocol;
namespace pa = protocol::auth;

constexpr std::string_view kFakeUser = "fake_user";
constexpr std::string_view kFakePassword = "fake_pw";

// sluice (trust for clients) in front of the fake upstream; it logs in there as fake_user.
SluiceConfig config_for(const FakeUpstream& upstream) {
    SluiceConfig c;
    c.auth_method = "trust";
    c.users = {{std::string(kFakeUser), std::string(kFakePassword)}};
    c.databases = {};
    c.query_wait = "3s";
    c.extra_toml += "\n[[databases]]\nname = \"fake\"\nurl = \"postgres://127.0.0.1:" +
                    std::to_string(upstream.port()) + "/fake?sslmode=disable\"\n";
    return c;
}

LoginOutcome client_login(const SluiceProcess& sluice) {
    ConnectOptions o;
    o.host = sluice.host();
    o.port = sluice.port();
    o.user = std::string(kFakeUser);
    o.database = "fake";
    o.timeout = 20s;
    return try_login(o);
}

enum class Ending { SkipFinal, WrongSignature };

// A SCRAM server for kFakePassword up to the end chosen; `iterations` goes in server-first.
FakeUpstream::Script scram_script(Ending ending, int iterations, std::atomic<int>* finals_received = nullptr) {
    return [=](FakeUpstreamPeer& peer) {
        peer.read_startup();
        std::string out;
        p::encode_authentication(p::AuthenticationSASL{{pa::kScramSha256}}, out);
        peer.send(out);
        std::string body;
        if (peer.read_message(body) != 'p') return;
        auto initial = p::SASLInitialResponse::decode(body);
        if (!initial || !initial->data) return;
        // client-first: "n,,n=,r=<nonce>"
        std::string client_first(*initial->data);
        auto nonce = client_first.substr(client_first.find("r=") + 2);
        const std::string salt = "0123456789abcdef";
        auto server_first = "r=" + nonce + "fakeserver" + ",s=" + pa::base64_encode(salt) + ",i=" +
                            std::to_string(iterations);
        out.clear();
        p::encode_authentication(p::AuthenticationSASLContinue{server_first}, out);
        peer.send(out);
        if (peer.read_message(body) != 'p') return;
        if (finals_received) finals_received->fetch_add(1);
        out.clear();
        if (ending == Ending::WrongSignature)
            p::encode_authentication(p::AuthenticationSASLFinal{"v=" + pa::base64_encode(std::string(32, 'x'))}, out);
        if (!out.empty()) peer.send(out);
        peer.send_login_ok();  // SkipFinal: AuthenticationOk without any server-final-message
        peer.serve_until_terminate();
    };
}

TEST(UpstreamLogin, AuthenticationOkBeforeServerFinalIsRefused) {
    FakeUpstream upstream(scram_script(Ending::SkipFinal, 4096));
    SluiceProcess sluice(config_for(upstream));
    auto out = client_login(sluice);
    EXPECT_FALSE(out.logged_in) << "sluice accepted an upstream that never proved it knows the password";
    EXPECT_EQ(out.sqlstate, "08006") << out.message << out.client_error;
    EXPECT_NE(out.message.find("failed to authenticate itself"), std::string::npos) << out.message;
    EXPECT_TRUE(sluice.wait_for_log("failed to authenticate itself", 5s));
}

TEST(UpstreamLogin, WrongServerSignatureIsRefused) {
    FakeUpstream upstream(scram_script(Ending::WrongSignature, 4096));
    SluiceProcess sluice(config_for(upstream));
    auto out = client_login(sluice);
    EXPECT_FALSE(out.logged_in);
    EXPECT_EQ(out.sqlstate, "08006") << out.message << out.client_error;
    EXPECT_NE(out.message.find("failed to authenticate itself"), std::string::npos) << out.message;
}

TEST(UpstreamLogin, AbsurdIterationCountIsRefusedBeforeHashing) {
    std::atomic<int> finals{0};
    FakeUpstream upstream(scram_script(Ending::SkipFinal, 1'000'000, &finals));
    SluiceProcess sluice(config_for(upstream));
    auto out = client_login(sluice);
    EXPECT_FALSE(out.logged_in);
    EXPECT_EQ(out.sqlstate, "08006") << out.message << out.client_error;
    EXPECT_NE(out.message.find("iteration"), std::string::npos) << out.message;
    EXPECT_EQ(finals.load(), 0) << "sluice ran 1,000,000 PBKDF2 rounds for the upstream";
}

TEST(UpstreamLogin, CleartextOnPlaintextLinkIsWarnedOnce) {
    std::atomic<int> passwords{0};
    FakeUpstream upstream([&](FakeUpstreamPeer& peer) {
        peer.read_startup();
        std::string out;
        p::encode_authentication(p::AuthenticationCleartextPassword{}, out);
        peer.send(out);
        std::string body;
        if (peer.read_message(body) != 'p') return;
        passwords.fetch_add(1);
        peer.send_login_ok();
        peer.serve_until_terminate();
    });
    SluiceProcess sluice(config_for(upstream));
    auto first = client_login(sluice);
    // Still works: a trusted local upstream may ask for cleartext; sluice says so in the log.
    EXPECT_TRUE(first.logged_in) << first.sqlstate << " " << first.message << first.client_error;
    EXPECT_TRUE(sluice.wait_for_log("cleartext password over an unencrypted connection", 5s));
    EXPECT_EQ(count_occurrences(sluice.log(), "cleartext password over an unencrypted connection"), 1u);
}

}  // namespace
}  // namespace sluice::testing::auth
