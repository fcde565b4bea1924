#include "protocol/auth/crypto.hpp"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <set>
#include <stdexcept>

namespace sluice::protocol::auth {
namespace {

std::string unhex(std::string_view hex) {
    std::string out;
    for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
        out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
    }
    return out;
}

TEST(Crypto, Sha256KnownVectors) {
    // FIPS 180-2 appendix B.1 and the empty string.
    EXPECT_EQ(hex_encode(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(hex_encode(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(Crypto, HmacSha256Rfc4231) {
    // RFC 4231 test cases 1 and 2.
    EXPECT_EQ(hex_encode(hmac_sha256(std::string(20, '\x0b'), "Hi There")),
              "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    EXPECT_EQ(hex_encode(hmac_sha256("Jefe", "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    EXPECT_EQ(hmac_sha256("", "").size(), 32u);
    // Test case 6: a key longer than the block is hashed first.
    EXPECT_EQ(hex_encode(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
              "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

TEST(Crypto, HmacSha256AgreesWithOpenSslAtEveryKeyLength) {
    // Around the block size (64) the key is padded, taken as is, or hashed first.
    for (std::size_t key_size = 0; key_size <= 140; ++key_size) {
        std::string key = random_bytes(key_size);
        std::string data = random_bytes(key_size % 7 * 13);
        unsigned char expected[32];
        unsigned int len = 0;
        static const unsigned char kEmpty = 0;
        ASSERT_NE(HMAC(EVP_sha256(), key.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(key.data()),
                       static_cast<int>(key.size()), data.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(data.data()),
                       data.size(), expected, &len),
                  nullptr);
        EXPECT_EQ(hmac_sha256(key, data), std::string(reinterpret_cast<const char*>(expected), len)) << key_size;
    }
}

TEST(Crypto, RandomBytesAreFreshAcrossTheDrawnBlock) {
    // Small requests come out of one drawn block: none repeats, also across a refill.
    std::set<std::string> seen;
    for (int i = 0; i < 3000; ++i) EXPECT_TRUE(seen.insert(random_bytes(8)).second) << i;
    EXPECT_EQ(random_bytes(10000).size(), 10000u);  // more than a block at once
    EXPECT_EQ(random_bytes(0), "");
}

TEST(Crypto, Pbkdf2Sha256KnownVectors) {
    // Widely published PBKDF2-HMAC-SHA256 vectors (RFC 6070 inputs, SHA-256, dkLen 32).
    EXPECT_EQ(hex_encode(pbkdf2_sha256("password", "salt", 1)),
              "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b");
    EXPECT_EQ(hex_encode(pbkdf2_sha256("password", "salt", 4096)),
              "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a");
    EXPECT_THROW(pbkdf2_sha256("password", "salt", 0), std::invalid_argument);
}

TEST(Crypto, Base64Rfc4648Vectors) {
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
    };
    for (const auto& [plain, encoded] : vectors) {
        EXPECT_EQ(base64_encode(plain), encoded);
        EXPECT_EQ(base64_decode(encoded), std::string(plain)) << encoded;
    }
    EXPECT_EQ(base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
    EXPECT_EQ(base64_decode("//4A"), std::string("\xff\xfe\x00", 3));
}

TEST(Crypto, Base64DecodeIsStrict) {
    for (const std::string_view bad : std::initializer_list<std::string_view>{
             "Zg",         // missing padding
             "Zg=",        // short padding
             "Zg===",      // bad length
             "Z===",       // too much padding
             "====",       // padding only
             "Zm9v Yg==",  // whitespace
             "Zm9v\nYg==", // newline
             "Zm=v",       // padding in the middle
             "Zg==Zg==",   // padding before the end
             "Zm9-",       // URL-safe alphabet
             "Zm9_",
             "Zh==",       // non-zero unused bits (non-canonical "f")
             "Zm9=",       // non-zero unused bits
             std::string_view("Zm9v\0\0\0\0", 8),
         }) {
        EXPECT_FALSE(base64_decode(bad).has_value()) << bad;
    }
}

TEST(Crypto, Base64RoundTripsAllByteValues) {
    std::string all;
    for (int i = 0; i < 256; ++i) all += static_cast<char>(i);
    for (std::size_t len = 0; len <= all.size(); len += 37) {
        const std::string data = all.substr(0, len);
        EXPECT_EQ(base64_decode(base64_encode(data)), data);
    }
}

TEST(Crypto, HexEncode) {
    EXPECT_EQ(hex_encode(""), "");
    EXPECT_EQ(hex_encode(std::string("\x00\x01\xab\xff", 4)), "0001abff");
    EXPECT_EQ(unhex("0001abff"), std::string("\x00\x01\xab\xff", 4));
}

TEST(Crypto, RandomBytesHaveTheRightSizeAndDoNotRepeat) {
    EXPECT_TRUE(random_bytes(0).empty());
    std::set<std::string> seen;
    for (int i = 0; i < 1000; ++i) {
        const std::string r = random_bytes(16);
        ASSERT_EQ(r.size(), 16u);
        EXPECT_TRUE(seen.insert(r).second) << "repeated random value";
    }
    // Not all zero, and not constant across a larger draw.
    const std::string big = random_bytes(4096);
    std::set<char> distinct(big.begin(), big.end());
    EXPECT_GT(distinct.size(), 200u);
}

TEST(Crypto, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("", ""));
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "xbc"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_TRUE(constant_time_equal(std::string("a\0b", 3), std::string("a\0b", 3)));
    EXPECT_FALSE(constant_time_equal(std::string("a\0b", 3), std::string("a\0c", 3)));
}

}  // namespace
}  // namespace sluice::protocol::auth
