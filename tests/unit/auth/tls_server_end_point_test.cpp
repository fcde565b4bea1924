#include <gtest/gtest.h>

#include "protocol/auth/scram.hpp"
#include "test_certificate.hpp"

namespace sluice::protocol::auth {
namespace {

using test_certificates::KeyKind;
using test_certificates::make_self_signed_certificate;
using test_certificates::x509_digest;

TEST(TlsServerEndPoint, Sha256SignedUsesSha256) {
    const std::string der = make_self_signed_certificate(KeyKind::EcP256, EVP_sha256());
    const auto hash = tls_server_end_point(der);
    ASSERT_TRUE(hash.has_value()) << hash.error().message;
    EXPECT_EQ(*hash, x509_digest(der, EVP_sha256()));
    EXPECT_EQ(hash->size(), 32u);
}

TEST(TlsServerEndPoint, Sha1SignedIsUpgradedToSha256) {
    // RFC 5929 section 4.1: MD5 and SHA-1 are replaced by SHA-256.
    for (const KeyKind kind : {KeyKind::Rsa2048, KeyKind::EcP256}) {
        const std::string der = make_self_signed_certificate(kind, EVP_sha1());
        const auto hash = tls_server_end_point(der);
        ASSERT_TRUE(hash.has_value()) << hash.error().message;
        EXPECT_EQ(*hash, x509_digest(der, EVP_sha256()));
        EXPECT_NE(*hash, x509_digest(der, EVP_sha1()).append(12, '\0'));
    }
}

TEST(TlsServerEndPoint, Sha384SignedUsesSha384) {
    const std::string der = make_self_signed_certificate(KeyKind::EcP256, EVP_sha384());
    const auto hash = tls_server_end_point(der);
    ASSERT_TRUE(hash.has_value()) << hash.error().message;
    EXPECT_EQ(*hash, x509_digest(der, EVP_sha384()));
    EXPECT_EQ(hash->size(), 48u);
}

TEST(TlsServerEndPoint, Ed25519HasNoDigestAndIsRefused) {
    const std::string der = make_self_signed_certificate(KeyKind::Ed25519, nullptr);
    EXPECT_FALSE(tls_server_end_point(der).has_value());
}

TEST(TlsServerEndPoint, RejectsGarbage) {
    const std::string der = make_self_signed_certificate(KeyKind::EcP256, EVP_sha256());
    EXPECT_FALSE(tls_server_end_point("").has_value());
    EXPECT_FALSE(tls_server_end_point("not a certificate").has_value());
    EXPECT_FALSE(tls_server_end_point(der.substr(0, der.size() - 1)).has_value());
    EXPECT_FALSE(tls_server_end_point(der + "x").has_value());  // trailing bytes
}

}  // namespace
}  // namespace sluice::protocol::auth
