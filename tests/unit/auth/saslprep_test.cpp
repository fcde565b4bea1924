#include "protocol/auth/saslprep.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "protocol/auth/unicode_nfkc.hpp"

namespace sluice::protocol::auth {
namespace {

// u8"" literals are char8_t in C++20; passwords travel as bytes.
std::string utf8(std::u8string_view s) { return std::string(s.begin(), s.end()); }

TEST(Saslprep, Rfc4013Section3Examples) {
    EXPECT_EQ(saslprep(utf8(u8"I\u00ADX")), "IX");     // 1: SOFT HYPHEN mapped to nothing
    EXPECT_EQ(saslprep("user"), "user");                // 2: no transformation
    EXPECT_EQ(saslprep("USER"), "USER");                // 3: case preserved
    EXPECT_EQ(saslprep(utf8(u8"\u00AA")), "a");         // 4: output is NFKC
    EXPECT_EQ(saslprep(utf8(u8"\u2168")), "IX");        // 5: output is NFKC
    EXPECT_EQ(saslprep("\x07"), std::nullopt);          // 6: prohibited character
    EXPECT_EQ(saslprep(utf8(u8"\u0627\u0031")), std::nullopt);  // 7: bidi check
}

TEST(Saslprep, AsciiIsUnchanged) {
    EXPECT_EQ(saslprep(""), "");
    EXPECT_EQ(saslprep("p@ss w0rd~!{}"), "p@ss w0rd~!{}");
    // Prohibited by the RFC; PostgreSQL would keep the raw bytes, which is what _or_raw gives.
    EXPECT_EQ(saslprep("a\x7f"), std::nullopt);
    EXPECT_EQ(saslprep_or_raw("a\x7f"), "a\x7f");
    EXPECT_EQ(saslprep_or_raw(std::string("a\0b", 3)), std::string("a\0b", 3));
}

TEST(Saslprep, Mapping) {
    EXPECT_EQ(saslprep(utf8(u8"a\u3000b\u00A0c\u2003d")), "a b c d");  // non-ASCII spaces -> SPACE
    EXPECT_EQ(saslprep(utf8(u8"a\u2060b\uFEFFc\u180Bd\uFE0Fe")), "abcde");  // mapped to nothing
    // U+200B is in both C.1.2 and B.1; PostgreSQL checks the space table first.
    EXPECT_EQ(saslprep(utf8(u8"a\u200Bb")), "a b");
    EXPECT_EQ(saslprep(utf8(u8"\u00AD")), std::nullopt);  // nothing left: PostgreSQL refuses it
    EXPECT_EQ(saslprep(utf8(u8"\u00AD\uFEFF")), std::nullopt);
}

TEST(Saslprep, Normalization) {
    EXPECT_EQ(saslprep(utf8(u8"pa\u0308sswo\u0308rd")), utf8(u8"p\u00E4ssw\u00F6rd"));  // composed
    EXPECT_EQ(saslprep(utf8(u8"p\u00E4ssw\u00F6rd")), utf8(u8"p\u00E4ssw\u00F6rd"));
    EXPECT_EQ(saslprep(utf8(u8"\uFB01")), "fi");
    EXPECT_EQ(saslprep(utf8(u8"\u212B")), utf8(u8"\u00C5"));          // singleton
    EXPECT_EQ(saslprep(utf8(u8"\u1100\u1161\u11A8")), utf8(u8"\uAC01"));  // Hangul
    EXPECT_EQ(saslprep(utf8(u8"\uFF21\uFF22")), "AB");                // fullwidth
}

TEST(Saslprep, Prohibited) {
    EXPECT_EQ(saslprep(utf8(u8"a\uE000")), std::nullopt);        // C.3 private use
    EXPECT_EQ(saslprep(utf8(u8"a\U000F0000")), std::nullopt);    // C.3 plane 15
    EXPECT_EQ(saslprep(utf8(u8"a\uFFFE")), std::nullopt);       // C.4 non-character
    EXPECT_EQ(saslprep(utf8(u8"a\uFFFC")), std::nullopt);       // C.6
    EXPECT_EQ(saslprep(utf8(u8"a\u2FF0")), std::nullopt);       // C.7
    EXPECT_EQ(saslprep(utf8(u8"a\u200E")), std::nullopt);       // C.8 LRM
    EXPECT_EQ(saslprep(utf8(u8"a\U000E0041")), std::nullopt);   // C.9 tag
    EXPECT_EQ(saslprep(utf8(u8"\u00E9\u0085")), std::nullopt);  // C.2.2 NEL
    EXPECT_EQ(saslprep(utf8(u8"\u00E9\x07")), std::nullopt);    // C.2.1 with non-ASCII
    EXPECT_EQ(saslprep(utf8(u8"a\u0221")), std::nullopt);       // A.1: unassigned in Unicode 3.2
}

TEST(Saslprep, Bidi) {
    EXPECT_EQ(saslprep(utf8(u8"\u0627\u0628")), utf8(u8"\u0627\u0628"));
    EXPECT_EQ(saslprep(utf8(u8"\u0627\u0031\u0628")), utf8(u8"\u0627\u0031\u0628"));
    EXPECT_EQ(saslprep(utf8(u8"\u0627a\u0628")), std::nullopt);  // RandALCat with LCat
    EXPECT_EQ(saslprep(utf8(u8"1\u0627")), std::nullopt);        // must start with RandALCat
}

TEST(Saslprep, ChecksRunBeforeNormalizationLikePostgres) {
    // U+2135 ALEF SYMBOL is neither RandALCat nor LCat; its NFKC, U+05D0, is RandALCat. RFC 4013
    // would reject "\u2135x" after normalization, PostgreSQL accepts it (see the SCRAM secret test
    // alef_user, produced by a real server).
    EXPECT_EQ(saslprep(utf8(u8"\u2135x")), utf8(u8"\u05D0x"));
}

TEST(Saslprep, InvalidUtf8) {
    for (const std::string_view bad : {
             "\xC3",              // truncated
             "a\x80",             // lone continuation
             "\xC0\x80",          // overlong NUL
             "\xE0\x80\xAF",      // overlong '/'
             "\xED\xA0\x80",      // surrogate U+D800
             "\xF4\x90\x80\x80",  // above U+10FFFF
             "\xF5\x80\x80\x80",
             "\xFF",
             "\xC3\x28",
         }) {
        EXPECT_EQ(saslprep(bad), std::nullopt) << testing::PrintToString(bad);
        EXPECT_EQ(saslprep_or_raw(bad), std::string(bad));
    }
}

TEST(Saslprep, OrRawKeepsTheBytesOnFailure) {
    EXPECT_EQ(saslprep_or_raw(utf8(u8"\u0627\u0031")), utf8(u8"\u0627\u0031"));
    EXPECT_EQ(saslprep_or_raw(utf8(u8"I\u00ADX")), "IX");
}

TEST(Saslprep, LongRunsOfCombiningMarksStayFast) {
    // Canonical ordering must not be quadratic: 100k alternating marks of two classes.
    std::string text = "a";
    for (int i = 0; i < 50000; ++i) text += utf8(u8"\u0301\u0323");
    const auto out = saslprep(text);
    ASSERT_TRUE(out.has_value());
    EXPECT_TRUE(out->starts_with(utf8(u8"\u1EA1")));  // a + dot below composes first
}

std::u32string parse_code_points(std::string_view hex_list) {
    std::u32string out;
    std::istringstream in{std::string(hex_list)};
    std::string item;
    while (in >> item) out += static_cast<char32_t>(std::stoul(item, nullptr, 16));
    return out;
}

TEST(Nfkc, UnicodeVersionMatchesPostgres15) { EXPECT_EQ(nfkc_unicode_version(), "14.0.0"); }

TEST(Nfkc, MatchesPythonUnicodedataVectors) {
    // Generated by protocol/auth/tools/gen_unicode_tables.py from an independent implementation.
    std::ifstream file(SLUICE_TEST_DATA_DIR "/unit/auth/data/nfkc_vectors.txt");
    ASSERT_TRUE(file) << "missing nfkc_vectors.txt";
    std::string line;
    int checked = 0;
    while (std::getline(file, line)) {
        if (line.empty() || line[0] == '#') continue;
        const auto semi = line.find(';');
        ASSERT_NE(semi, std::string::npos) << line;
        const std::u32string input = parse_code_points(std::string_view(line).substr(0, semi));
        const std::u32string expected = parse_code_points(std::string_view(line).substr(semi + 1));
        EXPECT_EQ(nfkc(input), expected) << "input: " << line.substr(0, semi);
        ++checked;
    }
    EXPECT_GT(checked, 3000);
}

}  // namespace
}  // namespace sluice::protocol::auth
