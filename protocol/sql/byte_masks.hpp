#pragma once
// Sixteen-byte tests for the prefilters that run on every client query (prefilter.cpp,
// may_change_role, guard_prefilter.cpp): one mask of bits per block instead of a branch per byte.
// SSE2 where the machine has it (every x86-64); elsewhere the same bits one byte at a time.
#include <cstdint>
#include <string_view>

#include "protocol/sql/lexical.hpp"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SLUICE_SQL_AVX2 1
#endif

namespace sluice::sql::bytes {

// ASCII letters fold to lower case; no other byte of interest here changes ('&', digits).
constexpr unsigned char fold(unsigned char c) noexcept { return static_cast<unsigned char>(c | 0x20); }

// Bit i: p[i] is an identifier character (lexical::is_ident_char), for i < 16. The reference.
inline std::uint32_t ident_mask16_bytewise(const char* p) noexcept {
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i)
        if (lexical::is_ident_char(static_cast<unsigned char>(p[i]))) m |= 1u << i;
    return m;
}

// Bit i: fold(p[i]) == a and fold(p[i + 1]) == b, or fold(p[i]) == single, for i < 16 (reads 17
// bytes). The reference.
inline std::uint32_t pair_or_byte_mask16_bytewise(const char* p, char a, char b, char single) noexcept {
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned char c = fold(static_cast<unsigned char>(p[i]));
        const unsigned char next = fold(static_cast<unsigned char>(p[i + 1]));
        if ((c == static_cast<unsigned char>(a) && next == static_cast<unsigned char>(b)) ||
            c == static_cast<unsigned char>(single))
            m |= 1u << i;
    }
    return m;
}

// Bit i: p[i] is a letter, '_' or a byte >= 0x80: an identifier character other than a digit or
// '$' (after which a word can start, as "1delete" splits for older lexers), for i < 16. The reference.
inline std::uint32_t word_mask16_bytewise(const char* p) noexcept {
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i) {
        const unsigned char c = static_cast<unsigned char>(p[i]);
        const unsigned char f = fold(c);
        if ((f >= 'a' && f <= 'z') || c == '_' || c >= 0x80) m |= 1u << i;
    }
    return m;
}

// Bit i: fold(p[i]) is one of `letters` (lower case), for i < 16. The reference.
inline std::uint32_t folded_letter_mask16_bytewise(const char* p, std::string_view letters) noexcept {
    std::uint32_t m = 0;
    for (unsigned i = 0; i < 16; ++i)
        if (letters.find(static_cast<char>(fold(static_cast<unsigned char>(p[i])))) != std::string_view::npos)
            m |= 1u << i;
    return m;
}

#if defined(__SSE2__)

namespace detail {
// Bytes of v in [lo, lo + count) as unsigned values: SSE2 compares signed, so shift the range to
// start at -128 first.
inline __m128i in_range(__m128i v, unsigned char lo, unsigned char count) noexcept {
    const __m128i shifted = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(0x80 - lo)));
    return _mm_cmplt_epi8(shifted, _mm_set1_epi8(static_cast<char>(-128 + count)));
}
}  // namespace detail

inline std::uint32_t ident_mask16(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i ident = detail::in_range(folded, 'a', 26);
    ident = _mm_or_si128(ident, detail::in_range(v, '0', 10));
    ident = _mm_or_si128(ident, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    ident = _mm_or_si128(ident, _mm_cmpeq_epi8(v, _mm_set1_epi8('$')));
    ident = _mm_or_si128(ident, _mm_cmplt_epi8(v, _mm_setzero_si128()));  // >= 0x80
    return static_cast<std::uint32_t>(_mm_movemask_epi8(ident));
}

inline std::uint32_t word_mask16(const char* p) noexcept {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    __m128i word = detail::in_range(folded, 'a', 26);
    word = _mm_or_si128(word, _mm_cmpeq_epi8(v, _mm_set1_epi8('_')));
    word = _mm_or_si128(word, _mm_cmplt_epi8(v, _mm_setzero_si128()));  // >= 0x80
    return static_cast<std::uint32_t>(_mm_movemask_epi8(word));
}

// One compare per letter, the letters constants of the code.
template <char... Letters>
std::uint32_t folded_letter_mask16(const char* p) noexcept {
    const __m128i folded = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), _mm_set1_epi8(0x20));
    __m128i hit = _mm_setzero_si128();
    ((hit = _mm_or_si128(hit, _mm_cmpeq_epi8(folded, _mm_set1_epi8(Letters)))), ...);
    return static_cast<std::uint32_t>(_mm_movemask_epi8(hit));
}

inline std::uint32_t pair_or_byte_mask16(const char* p, char a, char b, char single) noexcept {
    const __m128i fold_bits = _mm_set1_epi8(0x20);
    const __m128i here = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), fold_bits);
    const __m128i next = _mm_or_si128(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1)), fold_bits);
    const __m128i pair = _mm_and_si128(_mm_cmpeq_epi8(here, _mm_set1_epi8(a)), _mm_cmpeq_epi8(next, _mm_set1_epi8(b)));
    const __m128i hit = _mm_or_si128(pair, _mm_cmpeq_epi8(here, _mm_set1_epi8(single)));
    return static_cast<std::uint32_t>(_mm_movemask_epi8(hit));
}

#if defined(SLUICE_SQL_AVX2)

// The same masks 32 bytes at a time where the machine has AVX2 (use_avx2()): each function that
// uses them is compiled for AVX2 on its own (the target attribute), and called only then. The
// build stays for any x86-64.
namespace detail {
inline bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") != 0;
}();

// The constants of the 32-byte masks, loaded from memory (one instruction each, where a
// broadcast of an immediate takes three). Identifier bytes by nibble lookup: a byte is one when
// the classes its high nibble allows meet the classes its low nibble allows. Classes: bit 0 digits
// (high 3, low 0-9), bit 1 '$' (2, 4), bit 2 letters A-O / a-o (4 / 6, 1-15), bit 3 letters P-Z /
// p-z (5 / 7, 0-10), bit 4 '_' (5, 15), bit 5 bytes >= 0x80 (8-15, any).
struct alignas(32) Avx2Constants {
    unsigned char ident_high[32];
    unsigned char ident_low[32];
    unsigned char first_high[32];
    unsigned char first_low[32];
    unsigned char low_nibble[32];
    unsigned char fold[32];
    unsigned char o[32];
    unsigned char l[32];
    unsigned char z[32];
};
inline constexpr Avx2Constants kAvx2 = [] {
    Avx2Constants c{};
    for (unsigned i = 0; i < 32; ++i) {
        const unsigned nibble = i % 16;  // vpshufb looks up within each 16-byte lane
        unsigned char high = 0;
        if (nibble == 2) high = 1u << 1;
        if (nibble == 3) high = 1u << 0;
        if (nibble == 4 || nibble == 6) high = 1u << 2;
        if (nibble == 5) high = (1u << 3) | (1u << 4);
        if (nibble == 7) high = 1u << 3;
        if (nibble >= 8) high = 1u << 5;
        unsigned char low = 1u << 5;
        if (nibble <= 9) low |= 1u << 0;
        if (nibble == 4) low |= 1u << 1;
        if (nibble >= 1) low |= 1u << 2;
        if (nibble <= 10) low |= 1u << 3;
        if (nibble == 15) low |= 1u << 4;
        c.ident_high[i] = high;
        c.ident_low[i] = low;
        // The first letters of prefilter.cpp's candidate words, either case: c d h l (high 4 / 6,
        // low 3 4 8 12: bit 0) and p r s t u (5 / 7, 0 2 3 4 5: bit 1).
        c.first_high[i] = (nibble == 4 || nibble == 6) ? 1 : (nibble == 5 || nibble == 7) ? 2 : 0;
        c.first_low[i] = static_cast<unsigned char>(
            ((nibble == 3 || nibble == 4 || nibble == 8 || nibble == 12) ? 1 : 0) |
            ((nibble == 0 || (nibble >= 2 && nibble <= 5)) ? 2 : 0));
        c.low_nibble[i] = 0x0f;
        c.fold[i] = 0x20;
        c.o[i] = 'o';
        c.l[i] = 'l';
        c.z[i] = 'z';
    }
    return c;
}();

__attribute__((target("avx2"))) inline __m256i load32(const unsigned char (&constant)[32]) noexcept {
    return _mm256_load_si256(reinterpret_cast<const __m256i*>(constant));
}
}  // namespace detail

[[nodiscard]] inline bool use_avx2() noexcept { return detail::avx2; }
// For tests: the SSE2 path on a machine with AVX2 (false), and back (true: only if it has it).
inline void set_use_avx2(bool on) noexcept { detail::avx2 = on && __builtin_cpu_supports("avx2") != 0; }

// Bits where either nibble table says no class: the complement of a class mask.
__attribute__((target("avx2"))) inline std::uint32_t nibble_class_mask32(__m256i high, __m256i low,
                                                                          const unsigned char (&high_table)[32],
                                                                          const unsigned char (&low_table)[32]) noexcept {
    const __m256i classes = _mm256_and_si256(_mm256_shuffle_epi8(detail::load32(high_table), high),
                                             _mm256_shuffle_epi8(detail::load32(low_table), low));
    return ~static_cast<std::uint32_t>(_mm256_movemask_epi8(_mm256_cmpeq_epi8(classes, _mm256_setzero_si256())));
}

__attribute__((target("avx2"))) inline std::uint32_t ident_mask32(const char* p) noexcept {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i nibbles = detail::load32(detail::kAvx2.low_nibble);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibbles);
    return nibble_class_mask32(high, _mm256_and_si256(v, nibbles), detail::kAvx2.ident_high, detail::kAvx2.ident_low);
}

// Bit i: p[i] is an identifier byte (ident), and one of the letters c d h l p r s t u in either
// case (first), for i < 32.
struct IdentAndFirst {
    std::uint32_t ident;
    std::uint32_t first;
};
__attribute__((target("avx2"))) inline IdentAndFirst ident_and_first_mask32(const char* p) noexcept {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    const __m256i nibbles = detail::load32(detail::kAvx2.low_nibble);
    const __m256i high = _mm256_and_si256(_mm256_srli_epi16(v, 4), nibbles);
    const __m256i low = _mm256_and_si256(v, nibbles);
    return {nibble_class_mask32(high, low, detail::kAvx2.ident_high, detail::kAvx2.ident_low),
            nibble_class_mask32(high, low, detail::kAvx2.first_high, detail::kAvx2.first_low)};
}

// pair_or_byte_mask16(p, 'o', 'l', 'z') for 32 bytes (reads 33): the one use there is.
__attribute__((target("avx2"))) inline std::uint32_t ol_or_z_mask32(const char* p) noexcept {
    const __m256i fold = detail::load32(detail::kAvx2.fold);
    const __m256i here = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)), fold);
    const __m256i next = _mm256_or_si256(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1)), fold);
    const __m256i pair = _mm256_and_si256(_mm256_cmpeq_epi8(here, detail::load32(detail::kAvx2.o)),
                                          _mm256_cmpeq_epi8(next, detail::load32(detail::kAvx2.l)));
    const __m256i hit = _mm256_or_si256(pair, _mm256_cmpeq_epi8(here, detail::load32(detail::kAvx2.z)));
    return static_cast<std::uint32_t>(_mm256_movemask_epi8(hit));
}

#else

[[nodiscard]] inline bool use_avx2() noexcept { return false; }
inline void set_use_avx2(bool) noexcept {}

#endif

#else

inline std::uint32_t ident_mask16(const char* p) noexcept { return ident_mask16_bytewise(p); }
inline std::uint32_t word_mask16(const char* p) noexcept { return word_mask16_bytewise(p); }
template <char... Letters>
std::uint32_t folded_letter_mask16(const char* p) noexcept {
    constexpr char letters[] = {Letters...};
    return folded_letter_mask16_bytewise(p, std::string_view(letters, sizeof letters));
}
inline std::uint32_t pair_or_byte_mask16(const char* p, char a, char b, char single) noexcept {
    return pair_or_byte_mask16_bytewise(p, a, b, single);
}
[[nodiscard]] inline bool use_avx2() noexcept { return false; }
inline void set_use_avx2(bool) noexcept {}

#endif

}  // namespace sluice::sql::bytes
