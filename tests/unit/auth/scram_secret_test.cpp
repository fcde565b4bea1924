#include <gtest/gtest.h>

#include <stdexcept>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/scram.hpp"

namespace sluice::protocol::auth {
namespace {

std::string utf8(std::u8string_view s) { return std::string(s.begin(), s.end()); }

// pg_authid.rolpassword values written by PostgreSQL 15.20 (SET password_encryption =
// 'scram-sha-256'; CREATE ROLE <name> PASSWORD <password>) on a throwaway cluster.
struct PostgresSecret {
    const char* role;
    std::string password;
    const char* secret;
};

std::vector<PostgresSecret> postgres_secrets() {
    return {
        {"ascii_user", "pencil",
         "SCRAM-SHA-256$4096:jU6/AePJ5dIaRJIcxxFOOw==$EwTWaCr+q5ugy/HUYe9DlEmBR21XPZUs0YwqHJrf+lQ=:"
         "M+AAVJGt4COgDByGEPb1f3XSMv1J0CtXuwFsqeVrFMM="},
        {"nonascii_user", utf8(u8"p\u00E4ssw\u00F6rd"),
         "SCRAM-SHA-256$4096:7lRhy7fHs4XtFYgJV/0+kw==$0OloPqnWq4iB94KUAExFXRV0HXR6F0x5c9347eleqNU=:"
         "88U/0itblzpVvEpaGhK3QgmE9xZOwjqcd+oExuH70lI="},
        // Decomposed umlauts: NFKC composes them, so this equals 'pässwörd' after SASLprep.
        {"decomposed_user", utf8(u8"pa\u0308sswo\u0308rd"),
         "SCRAM-SHA-256$4096:3F5+bEI70NpWU8sVYYCGqg==$Y7nY7o+Y1egwNfmrsnEzLdN0MdnGnbWzzeX/r6ouV/w=:"
         "Hi2B1KG2VnJN9UShRz+GxHGfUw6acoVTDUlqwYk4Vik="},
        // Roman numeral nine, soft hyphen, fi ligature, no-break space: "IXxfiy z".
        {"compat_user", utf8(u8"\u2168\u00ADx\uFB01y\u00A0z"),
         "SCRAM-SHA-256$4096:W9J4y0SCaqxpTZ7CmzLgMg==$keRDezlxsfEeF618bCvFGkccN4oVn1rujeAlWoNxHO8=:"
         "ogfMGMS/RjmF9VkhQa3Ruz4uDnFTHuq4tA/ftNMO5JY="},
        // Fails the bidi check: PostgreSQL hashes the raw bytes.
        {"bidi_fail_user", utf8(u8"\u0627\u0031"),
         "SCRAM-SHA-256$4096:sjIRwFKVRIDDjH932VNlYw==$gro4bVcmdbM+UusvVaizWZkTELnUR4mtgxRzI0WYZDE=:"
         "kxeEhMdxRuF0wGeRShrRwRb2Vp6Lgjlstan9OP5AZGQ="},
        // U+200B maps to SPACE (C.1.2 wins over B.1), U+FEFF to nothing: "a bc".
        {"zwsp_user", utf8(u8"a\u200Bb\uFEFFc"),
         "SCRAM-SHA-256$4096:DQKY30fmoSjgosLXrqTdDQ==$ZDs7RH8cmjStvpD3E5dtS8DGlLjRIMQPt/n862bf9VM=:"
         "NmE5lMolCYOqSTSO9FfkINAishwREFiLT71XfwLN4fE="},
        // Bidi checked before NFKC: accepted, normalized to U+05D0 'x'.
        {"alef_user", utf8(u8"\u2135x"),
         "SCRAM-SHA-256$4096:njSucKzwjUdA9t3lNCEZlQ==$X9Mf2miQIThuIthQ0+qdw5He0OJONrCwTLvW63GHPgU=:"
         "ssVbqb/LHO1XPtk6dMj3YciGjIN/DlQg0hQpIatJrOo="},
    };
}

TEST(ScramSecret, FromPasswordMatchesPostgres15) {
    for (const auto& pg : postgres_secrets()) {
        SCOPED_TRACE(pg.role);
        const auto parsed = ScramSecret::parse(pg.secret);
        ASSERT_TRUE(parsed.has_value()) << parsed.error().message;
        const ScramSecret ours = ScramSecret::from_password(pg.password, parsed->salt, parsed->iterations);
        EXPECT_EQ(ours.stored_key, parsed->stored_key);
        EXPECT_EQ(ours.server_key, parsed->server_key);
        EXPECT_EQ(ours.to_string(), pg.secret);
    }
}

TEST(ScramSecret, ParseValid) {
    const auto secret = ScramSecret::parse(postgres_secrets()[0].secret);
    ASSERT_TRUE(secret.has_value());
    EXPECT_EQ(secret->iterations, 4096);
    EXPECT_EQ(secret->salt.size(), 16u);
    EXPECT_EQ(base64_encode(secret->salt), "jU6/AePJ5dIaRJIcxxFOOw==");
    EXPECT_EQ(secret->stored_key.size(), 32u);
    EXPECT_EQ(secret->server_key.size(), 32u);
    EXPECT_EQ(secret->to_string(), postgres_secrets()[0].secret);
}

TEST(ScramSecret, LooksLike) {
    EXPECT_TRUE(ScramSecret::looks_like("SCRAM-SHA-256$4096:abc"));
    EXPECT_FALSE(ScramSecret::looks_like("md5871c429757b7a0bf1654fad112b77bd4"));
    EXPECT_FALSE(ScramSecret::looks_like("SCRAM-SHA-1$4096"));
    EXPECT_FALSE(ScramSecret::looks_like(""));
}

TEST(ScramSecret, ParseRejectsMalformed) {
    const std::string key = "EwTWaCr+q5ugy/HUYe9DlEmBR21XPZUs0YwqHJrf+lQ=";
    const std::string salt = "jU6/AePJ5dIaRJIcxxFOOw==";
    const std::string short_key = base64_encode(std::string(31, 'k'));
    const std::string long_key = base64_encode(std::string(33, 'k'));
    for (const std::string& bad : {
             std::string(""),
             std::string("SCRAM-SHA-256"),
             std::string("SCRAM-SHA-256$"),
             "scram-sha-256$4096:" + salt + "$" + key + ":" + key,     // prefix is case-sensitive
             "SCRAM-SHA-256$4096:" + salt + "$" + key,                 // missing ServerKey
             "SCRAM-SHA-256$4096:" + salt,                             // missing keys
             "SCRAM-SHA-256$" + salt + "$" + key + ":" + key,          // missing iterations
             "SCRAM-SHA-256$0:" + salt + "$" + key + ":" + key,        // iterations 0
             "SCRAM-SHA-256$-1:" + salt + "$" + key + ":" + key,
             "SCRAM-SHA-256$+4096:" + salt + "$" + key + ":" + key,
             "SCRAM-SHA-256$4096x:" + salt + "$" + key + ":" + key,
             "SCRAM-SHA-256$99999999999:" + salt + "$" + key + ":" + key,  // overflows int
             "SCRAM-SHA-256$:" + salt + "$" + key + ":" + key,
             "SCRAM-SHA-256$4096:$" + key + ":" + key,                 // empty salt
             "SCRAM-SHA-256$4096:jU6/AePJ5dIaRJIcxxFOOw=$" + key + ":" + key,  // bad base64
             "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key.substr(1),
             "SCRAM-SHA-256$4096:" + salt + "$" + short_key + ":" + key,  // 31-byte StoredKey
             "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + long_key,   // 33-byte ServerKey
             "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + "$",
             "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + ":" + key,
             "SCRAM-SHA-256$4096:" + salt + ":x$" + key + ":" + key,
             "SCRAM-SHA-256$4096:" + salt + "$" + key + ":" + key + " ",
         }) {
        const auto parsed = ScramSecret::parse(bad);
        EXPECT_FALSE(parsed.has_value()) << bad;
        if (!parsed.has_value()) {
            // Never echo the secret.
            EXPECT_EQ(parsed.error().message.find(key), std::string::npos);
        }
    }
}

TEST(ScramSecret, FromPasswordGeneratesRandomSalt) {
    const auto a = ScramSecret::from_password("secret", {}, 16);
    const auto b = ScramSecret::from_password("secret", {}, 16);
    EXPECT_EQ(a.salt.size(), 16u);
    EXPECT_NE(a.salt, b.salt);
    EXPECT_NE(a.stored_key, b.stored_key);
    EXPECT_EQ(a.iterations, 16);
    const auto reparsed = ScramSecret::parse(a.to_string());
    ASSERT_TRUE(reparsed.has_value());
    EXPECT_EQ(reparsed->salt, a.salt);
    EXPECT_EQ(reparsed->stored_key, a.stored_key);
    EXPECT_EQ(reparsed->server_key, a.server_key);
    EXPECT_THROW(ScramSecret::from_password("secret", "salt", 0), std::invalid_argument);
}

}  // namespace
}  // namespace sluice::protocol::auth
