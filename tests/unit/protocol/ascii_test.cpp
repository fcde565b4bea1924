#include "protocol/ascii.hpp"

#include <gtest/gtest.h>

#include <random>
#include <string>

namespace sluice::protocol {
namespace {

TEST(Ascii, LowerChangesOnlyAToZ) {
    for (int b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const char expected = b >= 'A' && b <= 'Z' ? static_cast<char>(b + 32) : c;
        EXPECT_EQ(ascii_lower(c), expected) << b;
    }
    EXPECT_EQ(ascii_lowered("DateStyle_Ä"), "datestyle_Ä");  // UTF-8 bytes unchanged, as PostgreSQL
}

TEST(Ascii, CompareAsFoldedUnsignedBytes) {
    // The reference: fold each byte, then compare as std::string compares (unsigned bytes).
    std::mt19937 rng(7);
    const std::string alphabet = "aAbBzZ_09\x7f\x80\xff";
    auto random_text = [&] {
        std::string s(rng() % 5, ' ');
        for (char& c : s) c = alphabet[rng() % alphabet.size()];
        return s;
    };
    for (int i = 0; i < 20000; ++i) {
        std::string a = random_text(), b = random_text();
        std::string fa = ascii_lowered(a), fb = ascii_lowered(b);
        EXPECT_EQ(ascii_iless(a, b), fa < fb) << a << " " << b;
        EXPECT_EQ(ascii_iequals(a, b), fa == fb) << a << " " << b;
    }
    EXPECT_TRUE(ascii_iequals("TimeZone", "timezone"));
    EXPECT_FALSE(ascii_iequals("TimeZone", "timezones"));
    EXPECT_TRUE(ascii_iless("DateStyle", "timezone"));
    EXPECT_FALSE(ascii_iless("TIMEZONE", "timezone"));
}

}  // namespace
}  // namespace sluice::protocol
