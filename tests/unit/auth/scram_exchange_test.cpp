#include <gtest/gtest.h>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/scram.hpp"
#include "test_certificate.hpp"

namespace sluice::protocol::auth {
namespace {

// RFC 7677 section 3.
constexpr std::string_view kRfcClientNonce = "rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerNonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
constexpr std::string_view kRfcSalt = "W22ZaJ0SNY7soEsUEjb6gQ==";
constexpr std::string_view kRfcClientFirst = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
constexpr std::string_view kRfcServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
constexpr std::string_view kRfcClientFinal =
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
constexpr std::string_view kRfcServerFinal = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

ScramSecret rfc_secret() { return ScramSecret::from_password("pencil", *base64_decode(kRfcSalt), 4096); }

// Cheap secrets for the many non-vector tests.
constexpr int kFastIterations = 32;
ScramSecret fast_secret(std::string_view password) {
    return ScramSecret::from_password(password, "0123456789abcdef", kFastIterations);
}

TEST(ScramRfc7677, ClientReproducesTheVectorByteExactly) {
    ScramClient client("pencil", std::nullopt, false, std::string(kRfcClientNonce));
    EXPECT_EQ(client.mechanism(), kScramSha256);
    EXPECT_EQ(client.client_first("user"), kRfcClientFirst);
    const auto final_message = client.client_final(kRfcServerFirst);
    ASSERT_TRUE(final_message.has_value()) << final_message.error().message;
    EXPECT_EQ(*final_message, kRfcClientFinal);
    const auto verified = client.verify_server_final(kRfcServerFinal);
    EXPECT_TRUE(verified.has_value()) << verified.error().message;
}

TEST(ScramRfc7677, ServerReproducesTheVectorByteExactly) {
    ScramServer server(rfc_secret(), std::nullopt, std::string(kRfcServerNonce));
    const auto first = server.server_first(kScramSha256, kRfcClientFirst);
    ASSERT_TRUE(first.has_value()) << first.error().message;
    EXPECT_EQ(*first, kRfcServerFirst);
    const auto final_message = server.server_final(kRfcClientFinal);
    ASSERT_TRUE(final_message.has_value()) << final_message.error().message;
    EXPECT_EQ(*final_message, kRfcServerFinal);
    // ClientKey = HMAC(SaltedPassword, "Client Key"), recovered from the proof.
    const std::string salted = pbkdf2_sha256("pencil", *base64_decode(kRfcSalt), 4096);
    EXPECT_EQ(server.client_key(), hmac_sha256(salted, "Client Key"));
}

TEST(ScramRfc7677, ClientRejectsAForgedServerSignature) {
    ScramClient client("pencil", std::nullopt, false, std::string(kRfcClientNonce));
    client.client_first("user");
    ASSERT_TRUE(client.client_final(kRfcServerFirst).has_value());
    EXPECT_FALSE(client.verify_server_final("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=").has_value());
}

TEST(ScramClient, DefaultsMatchPostgres) {
    ScramClient client("pw");
    const std::string first = client.client_first();
    ASSERT_TRUE(first.starts_with("n,,n=,r=")) << first;
    const std::string nonce = first.substr(8);
    EXPECT_EQ(nonce.size(), 24u);  // 18 random bytes, base64
    EXPECT_TRUE(base64_decode(nonce).has_value());
    ScramClient other("pw");
    EXPECT_NE(other.client_first(), first);
}

TEST(ScramClient, Gs2HeaderFollowsTransport) {
    EXPECT_TRUE(ScramClient("pw", std::nullopt, false, "abc").client_first().starts_with("n,,"));
    EXPECT_TRUE(ScramClient("pw", std::nullopt, true, "abc").client_first().starts_with("y,,"));
    ScramClient plus("pw", std::string(32, 'h'), true, "abc");
    EXPECT_EQ(plus.mechanism(), kScramSha256Plus);
    EXPECT_EQ(plus.client_first(), "p=tls-server-end-point,,n=,r=abc");
}

TEST(ScramClient, EscapesTheUserName) {
    EXPECT_EQ(ScramClient("pw", std::nullopt, false, "abc").client_first("a=b,c"), "n,,n=a=3Db=2Cc,r=abc");
}

Result<std::string> client_final_for(std::string_view server_first) {
    // Keys mode: no PBKDF2, so even huge iteration counts are only parsed.
    ScramClient client(ScramClient::Keys{std::string(32, 'c'), std::string(32, 's')}, std::nullopt, false, "abc");
    client.client_first();
    return client.client_final(server_first);
}

TEST(ScramClient, ValidatesServerFirst) {
    EXPECT_TRUE(client_final_for("r=abcXYZ,s=c2FsdA==,i=4096").has_value());
    EXPECT_TRUE(client_final_for("r=abcXYZ,s=c2FsdA==,i=100000").has_value());
    for (const std::string_view bad : {
             "",
             "r=abc,s=c2FsdA==,i=4096",          // nonce not extended
             "r=abXYZ,s=c2FsdA==,i=4096",        // nonce does not start with ours
             "r=xabcXYZ,s=c2FsdA==,i=4096",
             "r=abcX\x01Z,s=c2FsdA==,i=4096",     // unprintable nonce
             "r=abcXYZ,s=c2FsdA=,i=4096",         // bad base64 salt
             "r=abcXYZ,s=,i=4096",                // empty salt
             "r=abcXYZ,s=c2FsdA==,i=0",
             "r=abcXYZ,s=c2FsdA==,i=-1",
             "r=abcXYZ,s=c2FsdA==,i=100001",     // DoS bound: sluice hashes on an event loop
             "r=abcXYZ,s=c2FsdA==,i=10000000",
             "r=abcXYZ,s=c2FsdA==,i=99999999999999",
             "r=abcXYZ,s=c2FsdA==,i=4096x",
             "r=abcXYZ,s=c2FsdA==,i=",
             "r=abcXYZ,s=c2FsdA==",
             "r=abcXYZ,i=4096,s=c2FsdA==",         // wrong order
             "m=ext,r=abcXYZ,s=c2FsdA==,i=4096",  // mandatory extension
             "r=abcXYZ,s=c2FsdA==,i=4096,",
             "r=abcXYZ,s=c2FsdA==,i=4096,x=1",
             "e=other-error",
         }) {
        EXPECT_FALSE(client_final_for(bad).has_value()) << bad;
    }
}

TEST(ScramClient, IterationCapIsExplained) {
    auto refused = client_final_for("r=abcXYZ,s=c2FsdA==,i=1000000");
    ASSERT_FALSE(refused.has_value());
    EXPECT_NE(refused.error().message.find("1000000 iterations"), std::string::npos) << refused.error().message;
}

// The server is authenticated only by a valid server-final-message: not by reaching
// client_final, nor by an error or a forged signature.
TEST(ScramClient, ServerVerifiedOnlyByAValidSignature) {
    ScramClient client("pencil", std::nullopt, false, std::string(kRfcClientNonce));
    client.client_first("user");
    ASSERT_TRUE(client.client_final(kRfcServerFirst).has_value());
    EXPECT_FALSE(client.server_verified());
    ASSERT_TRUE(client.verify_server_final(kRfcServerFinal).has_value());
    EXPECT_TRUE(client.server_verified());

    ScramClient forged("pencil", std::nullopt, false, std::string(kRfcClientNonce));
    forged.client_first("user");
    ASSERT_TRUE(forged.client_final(kRfcServerFirst).has_value());
    EXPECT_FALSE(forged.verify_server_final("v=" + base64_encode(std::string(32, 'x'))).has_value());
    EXPECT_FALSE(forged.server_verified());
}

TEST(ScramClient, KeysMustHaveTheRightSize) {
    ScramClient client(ScramClient::Keys{"short", std::string(32, 's')}, std::nullopt, false, "abc");
    client.client_first();
    EXPECT_FALSE(client.client_final("r=abcXYZ,s=c2FsdA==,i=4096").has_value());
}

TEST(ScramClient, EnforcesMessageOrder) {
    ScramClient client("pw", std::nullopt, false, "abc");
    EXPECT_FALSE(client.client_final("r=abcXYZ,s=c2FsdA==,i=16").has_value());  // before client_first
    EXPECT_FALSE(client.verify_server_final("v=AAAA").has_value());
    client.client_first();
    ASSERT_TRUE(client.client_final("r=abcXYZ,s=c2FsdA==,i=16").has_value());
    EXPECT_FALSE(client.client_final("r=abcXYZ,s=c2FsdA==,i=16").has_value());  // twice
}

TEST(ScramClient, ReportsServerErrors) {
    ScramClient client("pw", std::nullopt, false, "abc");
    client.client_first();
    ASSERT_TRUE(client.client_final("r=abcXYZ,s=c2FsdA==,i=16").has_value());
    const auto result = client.verify_server_final("e=invalid-proof");
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().message.find("invalid-proof"), std::string::npos);
}

TEST(ScramClient, RejectsMalformedServerFinal) {
    for (const std::string_view bad : {"", "v=", "v=!!!!", "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1", "x=1"}) {
        ScramClient client("pw", std::nullopt, false, "abc");
        client.client_first();
        ASSERT_TRUE(client.client_final("r=abcXYZ,s=c2FsdA==,i=16").has_value());
        EXPECT_FALSE(client.verify_server_final(bad).has_value()) << bad;
    }
}

struct Exchange {
    Result<std::string> server_first;
    Result<std::string> client_final;
    Result<std::string> server_final;
    Result<void> verified;
    bool ok() const {
        return server_first.has_value() && client_final.has_value() && server_final.has_value() && verified.has_value();
    }
};

Exchange run_exchange(ScramClient& client, ScramServer& server, std::string_view mechanism = {}) {
    Exchange e{fail("not run"), fail("not run"), fail("not run"), fail("not run")};
    const std::string first = client.client_first();
    e.server_first = server.server_first(mechanism.empty() ? client.mechanism() : mechanism, first);
    if (!e.server_first) return e;
    e.client_final = client.client_final(*e.server_first);
    if (!e.client_final) return e;
    e.server_final = server.server_final(*e.client_final);
    if (!e.server_final) return e;
    e.verified = client.verify_server_final(*e.server_final);
    return e;
}

TEST(ScramExchange, ClientAndServerAgree) {
    ScramClient client("correct horse");
    ScramServer server(fast_secret("correct horse"));
    const Exchange e = run_exchange(client, server);
    EXPECT_TRUE(e.ok());
}

TEST(ScramExchange, NonAsciiPasswordsAreNormalizedOnBothSides) {
    ScramClient client("pa\xcc\x88sswo\xcc\x88rd");  // decomposed umlauts
    ScramServer server(fast_secret("p\xc3\xa4ssw\xc3\xb6rd"));
    EXPECT_TRUE(run_exchange(client, server).ok());
}

TEST(ScramExchange, WrongPasswordFails) {
    ScramClient client("wrong");
    ScramServer server(fast_secret("right"));
    const Exchange e = run_exchange(client, server);
    ASSERT_TRUE(e.client_final.has_value());
    ASSERT_FALSE(e.server_final.has_value());
    EXPECT_NE(e.server_final.error().message.find("wrong password"), std::string::npos);
    EXPECT_TRUE(server.client_key().empty());
}

TEST(ScramExchange, ServerFinalFromAnotherServerIsRejected) {
    // A server that does not know the password cannot produce v=.
    ScramClient client("pw", std::nullopt, false, "abc");
    ScramServer server(fast_secret("pw"), std::nullopt, "XYZ");
    ASSERT_TRUE(server.server_first(kScramSha256, client.client_first()).has_value());
    ScramServer impostor(fast_secret("guess"), std::nullopt, "XYZ");
    ASSERT_TRUE(impostor.server_first(kScramSha256, "n,,n=,r=abc").has_value());
    const auto final_message = client.client_final("r=abcXYZ,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=32");
    ASSERT_TRUE(final_message.has_value());
    EXPECT_TRUE(server.server_final(*final_message).has_value());
    // Signature of a different secret: reuse a fresh client against the impostor's view.
    ScramClient client2("pw", std::nullopt, false, "abc");
    client2.client_first();
    ASSERT_TRUE(client2.client_final("r=abcXYZ,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=32").has_value());
    EXPECT_FALSE(client2.verify_server_final("v=" + base64_encode(std::string(32, 'x'))).has_value());
}

TEST(ScramExchange, TamperedNonceFails) {
    ScramClient client("pw", std::nullopt, false, "clientnonce");
    ScramServer server(fast_secret("pw"), std::nullopt, "servernonce");
    const auto first = server.server_first(kScramSha256, client.client_first());
    ASSERT_TRUE(first.has_value());
    auto final_message = client.client_final(*first);
    ASSERT_TRUE(final_message.has_value());
    const std::size_t at = final_message->find("servernonce");
    ASSERT_NE(at, std::string::npos);
    (*final_message)[at] = 'S';
    const auto result = server.server_final(*final_message);
    ASSERT_FALSE(result.has_value());
    EXPECT_NE(result.error().message.find("nonce"), std::string::npos);
}

TEST(ScramExchange, ServerRejectsASecondAttempt) {
    ScramClient client("wrong", std::nullopt, false, "abc");
    ScramServer server(fast_secret("right"), std::nullopt, "XYZ");
    ASSERT_TRUE(server.server_first(kScramSha256, client.client_first()).has_value());
    const auto final_message = client.client_final("r=abcXYZ,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=32");
    ASSERT_TRUE(final_message.has_value());
    EXPECT_FALSE(server.server_final(*final_message).has_value());
    EXPECT_FALSE(server.server_final(*final_message).has_value());  // no retry on the same state
    EXPECT_FALSE(server.server_first(kScramSha256, "n,,n=,r=abc").has_value());
}

TEST(ScramExchange, KeysRecoveredByTheServerAuthenticateUpstream) {
    // sluice learns ClientKey from a client's proof and reuses it towards a server with the
    // same secret (same salt and iterations), without ever seeing the password.
    const ScramSecret secret = fast_secret("pass-through");
    ScramClient app("pass-through");
    ScramServer sluice_side(secret);
    ASSERT_TRUE(run_exchange(app, sluice_side).ok());
    ASSERT_EQ(sluice_side.client_key().size(), 32u);
    EXPECT_EQ(sha256(sluice_side.client_key()), secret.stored_key);

    ScramClient upstream_client(ScramClient::Keys{sluice_side.client_key(), sluice_side.secret().server_key});
    ScramServer upstream(secret);
    EXPECT_TRUE(run_exchange(upstream_client, upstream).ok());

    // With a wrong ServerKey the client refuses the upstream (cannot authenticate it).
    ScramClient mismatched(ScramClient::Keys{sluice_side.client_key(), std::string(32, 'x')});
    ScramServer upstream2(secret);
    const Exchange e = run_exchange(mismatched, upstream2);
    EXPECT_TRUE(e.server_final.has_value());
    EXPECT_FALSE(e.verified.has_value());
}

Result<std::string> server_first_with(std::string_view mechanism, std::string_view client_first,
                                      std::optional<std::string> channel_binding = std::nullopt) {
    ScramServer server(fast_secret("pw"), std::move(channel_binding), "XYZ");
    return server.server_first(mechanism, client_first);
}

TEST(ScramServer, ParsesClientFirstStrictly) {
    EXPECT_TRUE(server_first_with(kScramSha256, "n,,n=,r=abc").has_value());
    EXPECT_TRUE(server_first_with(kScramSha256, "n,,n=anyone,r=abc").has_value());
    EXPECT_TRUE(server_first_with(kScramSha256, "n,,n=,r=abc,x=ext").has_value());  // extensions skipped
    EXPECT_EQ(*server_first_with(kScramSha256, "n,,n=,r=abc"), "r=abcXYZ,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=32");
    for (const std::string_view bad : {
             "",
             "n",
             "n,",
             "n,,",
             "x,,n=,r=abc",         // unknown flag
             "n,a=admin,n=,r=abc",  // authzid
             "n,,r=abc",            // missing user name
             "n,,n=,r=",            // empty nonce
             "n,,n=,r=a,bc",        // ... "bc" is not an attribute
             "n,,n=,r=ab\x7f",      // unprintable nonce
             "n,,n=,r=ab c",
             "n,,m=ext,n=,r=abc",   // mandatory extension
             "n,,n=,r=abc,",
             "n,,n=,",
             "n,,n=,x=abc",
             "p=tls-unique,,n=,r=abc",
         }) {
        EXPECT_FALSE(server_first_with(kScramSha256, bad).has_value()) << ::testing::PrintToString(bad);
    }
    EXPECT_FALSE(server_first_with("SCRAM-SHA-1", "n,,n=,r=abc").has_value());
    EXPECT_FALSE(server_first_with("", "n,,n=,r=abc").has_value());
}

TEST(ScramServer, ChannelBindingFlagRules) {
    const std::string cb(32, 'h');
    // No TLS: only SCRAM-SHA-256; 'y' is fine (the client could bind, we cannot).
    EXPECT_TRUE(server_first_with(kScramSha256, "y,,n=,r=abc").has_value());
    EXPECT_FALSE(server_first_with(kScramSha256Plus, "p=tls-server-end-point,,n=,r=abc").has_value());
    EXPECT_FALSE(server_first_with(kScramSha256, "p=tls-server-end-point,,n=,r=abc").has_value());
    // TLS, PLUS offered.
    EXPECT_TRUE(server_first_with(kScramSha256Plus, "p=tls-server-end-point,,n=,r=abc", cb).has_value());
    EXPECT_TRUE(server_first_with(kScramSha256, "n,,n=,r=abc", cb).has_value());  // client cannot bind
    const auto downgrade = server_first_with(kScramSha256, "y,,n=,r=abc", cb);
    ASSERT_FALSE(downgrade.has_value());
    EXPECT_NE(downgrade.error().message.find("downgrade"), std::string::npos);
    EXPECT_FALSE(server_first_with(kScramSha256Plus, "n,,n=,r=abc", cb).has_value());
    EXPECT_FALSE(server_first_with(kScramSha256Plus, "y,,n=,r=abc", cb).has_value());
    EXPECT_FALSE(server_first_with(kScramSha256, "p=tls-server-end-point,,n=,r=abc", cb).has_value());
    EXPECT_FALSE(server_first_with(kScramSha256Plus, "p=tls-exporter,,n=,r=abc", cb).has_value());
}

Result<std::string> server_final_with(std::string_view client_final) {
    ScramServer server(fast_secret("pw"), std::nullopt, "XYZ");
    if (!server.server_first(kScramSha256, "n,,n=,r=abc")) return fail("setup");
    return server.server_final(client_final);
}

TEST(ScramServer, ParsesClientFinalStrictly) {
    ScramClient client("pw", std::nullopt, false, "abc");
    client.client_first();
    const auto good = client.client_final("r=abcXYZ,s=MDEyMzQ1Njc4OWFiY2RlZg==,i=32");
    ASSERT_TRUE(good.has_value());
    EXPECT_TRUE(server_final_with(*good).has_value());
    const std::string proof = good->substr(good->find(",p="));
    for (const std::string& bad : std::vector<std::string>{
             "",
             "c=biws,r=abcXYZ",                            // no proof
             "r=abcXYZ" + proof,                           // no channel binding
             "c=biws" + proof,                             // no nonce
             "c=eSws,r=abcXYZ" + proof,                    // 'y' binding, but the client sent 'n'
             "c=biws,r=abcXY" + proof,                     // nonce cut short
             "c=biws,r=abcXYZZ" + proof,
             "c=biws,r=abcXYZ,p=AAAA",                     // short proof
             "c=biws,r=abcXYZ,p=!!!",                      // not base64
             "c=biws,r=abcXYZ" + proof + ",x=1",          // proof not last
             "c=biws,r=abcXYZ" + proof + ",",
             "c=bi ws,r=abcXYZ" + proof,
             "r=abcXYZ,c=biws" + proof,                    // wrong order
         }) {
        EXPECT_FALSE(server_final_with(bad).has_value()) << bad;
    }
    // Extensions before the proof are skipped, but the proof covers them (auth message changes).
    std::string with_extension = *good;
    with_extension.insert(good->find(",p="), ",x=1");
    EXPECT_FALSE(server_final_with(with_extension).has_value());
}

TEST(ScramChannelBinding, PlusExchangeWithSha256Certificate) {
    const std::string der = test_certificates::make_self_signed_certificate(test_certificates::KeyKind::EcP256, EVP_sha256());
    const auto binding = tls_server_end_point(der);
    ASSERT_TRUE(binding.has_value());
    ScramClient client("pw", *binding, true);
    ScramServer server(fast_secret("pw"), *binding);
    const Exchange e = run_exchange(client, server);
    EXPECT_TRUE(e.ok());
    ASSERT_TRUE(e.client_final.has_value());
    // c= carries the GS2 header plus the certificate hash.
    EXPECT_TRUE(e.client_final->starts_with("c=" + base64_encode("p=tls-server-end-point,," + *binding) + ","));
}

TEST(ScramChannelBinding, PlusExchangeWithSha1Certificate) {
    const std::string der = test_certificates::make_self_signed_certificate(test_certificates::KeyKind::Rsa2048, EVP_sha1());
    const auto binding = tls_server_end_point(der);
    ASSERT_TRUE(binding.has_value());
    EXPECT_EQ(binding->size(), 32u);  // upgraded to SHA-256
    ScramClient client("pw", *binding, true);
    ScramServer server(fast_secret("pw"), *binding);
    EXPECT_TRUE(run_exchange(client, server).ok());
}

TEST(ScramChannelBinding, DifferentCertificateFails) {
    // A man in the middle terminates TLS with its own certificate: the hashes differ.
    const auto real = tls_server_end_point(
        test_certificates::make_self_signed_certificate(test_certificates::KeyKind::EcP256, EVP_sha256(), "real"));
    const auto mitm = tls_server_end_point(
        test_certificates::make_self_signed_certificate(test_certificates::KeyKind::EcP256, EVP_sha256(), "mitm"));
    ASSERT_TRUE(real.has_value() && mitm.has_value());
    ScramClient client("pw", *mitm, true);
    ScramServer server(fast_secret("pw"), *real);
    const Exchange e = run_exchange(client, server);
    ASSERT_TRUE(e.client_final.has_value());
    ASSERT_FALSE(e.server_final.has_value());
    EXPECT_NE(e.server_final.error().message.find("channel binding"), std::string::npos);
}

TEST(ScramChannelBinding, DowngradedClientIsRejected) {
    // The client is on TLS and would bind, but an attacker stripped PLUS from the offer.
    const std::string binding(32, 'h');
    ScramClient client("pw", std::nullopt, true);
    ScramServer server(fast_secret("pw"), binding);
    const Exchange e = run_exchange(client, server);
    EXPECT_FALSE(e.server_first.has_value());
}

}  // namespace
}  // namespace sluice::protocol::auth
