// SipHash-2-4 against the reference implementation's vectors (key 00 01 .. 0f, message 00 01 ..
// n-1): every length up to two whole blocks and one byte, so each tail length is covered.
#include "protocol/auth/siphash.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sluice::protocol::auth {
namespace {

TEST(SipHash24, MatchesTheReferenceVectors) {
    constexpr std::uint64_t kExpected[] = {
        0x726fdb47dd0e0e31, 0x74f839c593dc67fd, 0x0d6c8009d9a94f5a, 0x85676696d7fb7e2d, 0xcf2794e0277187b7,
        0x18765564cd99a68d, 0xcbc9466e58fee3ce, 0xab0200f58b01d137, 0x93f5f5799a932462, 0x9e0082df0ba9e4b0,
        0x7a5dbbc594ddb9f3, 0xf4b32f46226bada7, 0x751e8fbc860ee5fb, 0x14ea5627c0843d90, 0xf723ca908e7af2ee,
        0xa129ca6149be45e5, 0x3f2acc7f57c29bdb, 0x699ae9f52cbe4794,
    };
    SipKey key;
    for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
    std::string message;
    for (std::uint64_t expected : kExpected) {
        EXPECT_EQ(siphash24(key, message), expected) << "message of " << message.size() << " bytes";
        message.push_back(static_cast<char>(message.size()));
    }
}

TEST(SipHash24, DependsOnEveryKeyByte) {
    SipKey key{};
    const std::string message = "process 42, generation 7";
    const auto base = siphash24(key, message);
    for (std::size_t i = 0; i < key.size(); ++i) {
        SipKey changed = key;
        changed[i] ^= 1;
        EXPECT_NE(siphash24(changed, message), base) << "key byte " << i;
    }
}

}  // namespace
}  // namespace sluice::protocol::auth
