#include "protocol/auth/md5.hpp"

#include <gtest/gtest.h>

#include <stdexcept>

namespace sluice::protocol::auth {
namespace {

// Stored by PostgreSQL 15.20 for: SET password_encryption='md5'; CREATE ROLE "user" PASSWORD 'pw';
constexpr std::string_view kPostgresSecretForUserPw = "md5871c429757b7a0bf1654fad112b77bd4";
const std::string kSalt("\x01\x02\x03\x04", 4);

TEST(Md5, HexDigest) {
    EXPECT_EQ(md5_hex(""), "d41d8cd98f00b204e9800998ecf8427e");  // RFC 1321
    EXPECT_EQ(md5_hex("The quick brown fox jumps over the lazy dog"), "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Md5, SecretMatchesPostgres) {
    EXPECT_EQ(md5_secret("pw", "user"), kPostgresSecretForUserPw);
    // md5_user / 'pw' from the same cluster: the user name is the salt.
    EXPECT_EQ(md5_secret("pw", "md5_user"), "md5277a6b25477915df34bd74cd39325bbe");
}

TEST(Md5, IsMd5Secret) {
    EXPECT_TRUE(is_md5_secret(kPostgresSecretForUserPw));
    EXPECT_FALSE(is_md5_secret("md5871c429757b7a0bf1654fad112b77bd"));    // short
    EXPECT_FALSE(is_md5_secret("md5871c429757b7a0bf1654fad112b77bd4a"));  // long
    EXPECT_FALSE(is_md5_secret("md5871C429757B7A0BF1654FAD112B77BD4"));   // upper case
    EXPECT_FALSE(is_md5_secret("MD5871c429757b7a0bf1654fad112b77bd4"));
    EXPECT_FALSE(is_md5_secret("md5871c429757b7a0bf1654fad112b77bg4"));
    EXPECT_FALSE(is_md5_secret(""));
    EXPECT_FALSE(is_md5_secret("SCRAM-SHA-256$4096:..."));
}

TEST(Md5, ResponseIsWhatLibpqSends) {
    // "md5" + md5(md5(password + user) + salt), computed independently (Python hashlib).
    EXPECT_EQ(md5_response(kPostgresSecretForUserPw, kSalt), "md546eacb7412409e1444bde22e56e70744");
    EXPECT_THROW(md5_response("plaintext", kSalt), std::invalid_argument);
}

TEST(Md5, Verify) {
    const std::string response = md5_response(kPostgresSecretForUserPw, kSalt);
    EXPECT_TRUE(md5_verify(kPostgresSecretForUserPw, kSalt, response));
    EXPECT_FALSE(md5_verify(kPostgresSecretForUserPw, "\x01\x02\x03\x05", response));  // other salt
    EXPECT_FALSE(md5_verify(md5_secret("other", "user"), kSalt, response));
    EXPECT_FALSE(md5_verify(kPostgresSecretForUserPw, kSalt, response.substr(0, 34)));
    EXPECT_FALSE(md5_verify(kPostgresSecretForUserPw, kSalt, response + "0"));
    EXPECT_FALSE(md5_verify(kPostgresSecretForUserPw, kSalt, ""));
    EXPECT_FALSE(md5_verify("not a secret", kSalt, response));
}

}  // namespace
}  // namespace sluice::protocol::auth
