// The sixteen-byte masks of the prefilters give the bits their byte-at-a-time references give: every
// byte value at every position, and random blocks drawn from the bytes that matter.
#include <gtest/gtest.h>

#include <array>
#include <random>
#include <string>

#include "protocol/sql/byte_masks.hpp"

namespace sluice::sql::bytes {
namespace {

TEST(ByteMasks, IdentMaskMatchesTheReferenceForEveryByteAtEveryPosition) {
    std::array<char, 16> block{};
    for (unsigned filler : {0u, 'a' + 0u, ' ' + 0u, 0xffu}) {
        block.fill(static_cast<char>(filler));
        for (unsigned pos = 0; pos < 16; ++pos) {
            for (unsigned c = 0; c < 256; ++c) {
                block[pos] = static_cast<char>(c);
                ASSERT_EQ(ident_mask16(block.data()), ident_mask16_bytewise(block.data()))
                    << "byte " << c << " at " << pos << " among " << filler;
            }
            block[pos] = static_cast<char>(filler);
        }
    }
}

TEST(ByteMasks, PairOrByteMaskMatchesTheReferenceForEveryByteAtEveryPosition) {
    std::array<char, 17> block{};
    for (unsigned filler : {0u, 'o' + 0u, 'L' + 0u, ' ' + 0u, 0xccu}) {
        block.fill(static_cast<char>(filler));
        for (unsigned pos = 0; pos < 17; ++pos) {
            for (unsigned c = 0; c < 256; ++c) {
                block[pos] = static_cast<char>(c);
                ASSERT_EQ(pair_or_byte_mask16(block.data(), 'o', 'l', 'z'),
                          pair_or_byte_mask16_bytewise(block.data(), 'o', 'l', 'z'))
                    << "byte " << c << " at " << pos << " among " << filler;
            }
            block[pos] = static_cast<char>(filler);
        }
    }
}

TEST(ByteMasks, WordAndLetterMasksMatchTheReferenceForEveryByteAtEveryPosition) {
    std::array<char, 16> block{};
    for (unsigned filler : {0u, 'a' + 0u, 'D' + 0u, '_' + 0u, '1' + 0u, ' ' + 0u, 0xe1u}) {
        block.fill(static_cast<char>(filler));
        for (unsigned pos = 0; pos < 16; ++pos) {
            for (unsigned c = 0; c < 256; ++c) {
                block[pos] = static_cast<char>(c);
                ASSERT_EQ(word_mask16(block.data()), word_mask16_bytewise(block.data()))
                    << "byte " << c << " at " << pos << " among " << filler;
                ASSERT_EQ((folded_letter_mask16<'a', 'c', 'd', 'l', 't', 'u', 'v'>(block.data())),
                          folded_letter_mask16_bytewise(block.data(), "acdltuv"))
                    << "byte " << c << " at " << pos << " among " << filler;
            }
            block[pos] = static_cast<char>(filler);
        }
    }
}

TEST(ByteMasks, RandomBlocksMatchTheReference) {
    std::mt19937 rng(12345);
    const std::string alphabet = "oOlLzZaA_$09 \t\n;'\"/*-&\x80\xff";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    std::array<char, 17> block{};
    for (int round = 0; round < 20000; ++round) {
        for (char& c : block) c = alphabet[pick(rng)];
        ASSERT_EQ(ident_mask16(block.data()), ident_mask16_bytewise(block.data()));
        ASSERT_EQ(pair_or_byte_mask16(block.data(), 'o', 'l', 'z'), pair_or_byte_mask16_bytewise(block.data(), 'o', 'l', 'z'));
        ASSERT_EQ(word_mask16(block.data()), word_mask16_bytewise(block.data()));
        ASSERT_EQ((folded_letter_mask16<'o', 'z', 'l'>(block.data())), folded_letter_mask16_bytewise(block.data(), "ozl"));
    }
}

#if defined(SLUICE_SQL_AVX2)
// The 32-byte masks against two 16-byte references, where the machine has AVX2.
TEST(ByteMasks, Avx2MasksMatchTheReference) {
    if (!use_avx2()) GTEST_SKIP() << "this machine has no AVX2: the 32-byte masks are never used here";
    std::array<char, 33> block{};
    auto ident32 = [&] { return ident_mask16_bytewise(block.data()) | ident_mask16_bytewise(block.data() + 16) << 16; };
    auto pair32 = [&] {
        return pair_or_byte_mask16_bytewise(block.data(), 'o', 'l', 'z') |
               pair_or_byte_mask16_bytewise(block.data() + 16, 'o', 'l', 'z') << 16;
    };
    for (unsigned filler : {0u, 'a' + 0u, 'o' + 0u, 'L' + 0u, ' ' + 0u, 0xffu}) {
        block.fill(static_cast<char>(filler));
        for (unsigned pos = 0; pos < 33; ++pos) {
            for (unsigned c = 0; c < 256; ++c) {
                block[pos] = static_cast<char>(c);
                ASSERT_EQ(ident_mask32(block.data()), ident32()) << "byte " << c << " at " << pos << " among " << filler;
                ASSERT_EQ(ol_or_z_mask32(block.data()), pair32())
                    << "byte " << c << " at " << pos << " among " << filler;
            }
            block[pos] = static_cast<char>(filler);
        }
    }
    std::mt19937 rng(54321);
    const std::string alphabet = "oOlLzZaA_$09 \t\n;'\"/*-&\x80\xff";
    std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
    for (int round = 0; round < 20000; ++round) {
        for (char& c : block) c = alphabet[pick(rng)];
        ASSERT_EQ(ident_mask32(block.data()), ident32());
        ASSERT_EQ(ol_or_z_mask32(block.data()), pair32());
    }
}
#endif

}  // namespace
}  // namespace sluice::sql::bytes
