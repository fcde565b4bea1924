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

#endif

}  // namespace sluice::sql::bytes
