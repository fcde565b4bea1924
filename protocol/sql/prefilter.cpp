// may_change_session(): the cheap test run on every client SQL string before any parse. It must
// never say false for a text analyze() reports a change for; anything it is unsure of is true.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/sql/byte_masks.hpp"
#include "protocol/sql/lexical.hpp"
#include "protocol/sql/session_state.hpp"

namespace sluice::sql {
namespace {

using lexical::ascii_lower;
using lexical::equals_ci;
using lexical::is_ident_char;

constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool contains_ci(std::string_view word, std::string_view needle) noexcept {
    if (word.size() < needle.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= word.size(); ++i)
        if (ascii_lower(word[i]) == needle[0] && equals_ci(word.substr(i, needle.size()), needle)) return true;
    return false;
}

bool starts_with_ci(std::string_view word, std::string_view prefix) noexcept {
    return word.size() >= prefix.size() && equals_ci(word.substr(0, prefix.size()), prefix);
}

// Whether one word (a whole run of identifier characters) may belong to a statement with a
// session effect. Dispatched on the length first: this runs for every word of every query, and
// most words are no keyword at all. (DECLARE alone changes nothing: only WITH HOLD outlives the
// transaction, so HOLD is the word.)
bool is_session_word(std::string_view word) noexcept {
    switch (word.size()) {
    case 4:
        return equals_ci(word, "temp") || equals_ci(word, "hold") || equals_ci(word, "load");
    case 5:
        return equals_ci(word, "reset") || equals_ci(word, "close");
    case 6:
        return equals_ci(word, "listen");  // (shorter than any "pg_" name below)
    case 7:
        if (equals_ci(word, "prepare") || equals_ci(word, "discard")) return true;
        break;
    case 8:
        if (equals_ci(word, "unlisten")) return true;
        break;
    case 9:
        if (equals_ci(word, "temporary")) return true;
        break;
    case 10:
        if (equals_ci(word, "deallocate") || equals_ci(word, "set_config")) return true;
        break;
    default:
        break;
    }
    // The functions and the schema the analysis names all start with "pg_": pg_advisory_lock...,
    // pg_try_advisory_lock..., pg_advisory_unlock_all, pg_temp, pg_temp_3.
    return word.size() >= 7 && starts_with_ci(word, "pg_") && (starts_with_ci(word, "pg_temp") || contains_ci(word, "advisory"));
}

// What a byte is to the scan: one table lookup per byte, since this runs on every query.
enum class Byte : unsigned char { Other, Ident, Space, Newline, Marker /* '/', '*', '-' */ };

constexpr std::array<Byte, 256> kBytes = [] {
    std::array<Byte, 256> t{};
    for (unsigned c = 0; c < 256; ++c) {
        if (is_ident_char(static_cast<unsigned char>(c))) t[c] = Byte::Ident;
        else if (c == '\n' || c == '\r') t[c] = Byte::Newline;
        else if (is_space(static_cast<char>(c))) t[c] = Byte::Space;
        else if (c == '/' || c == '*' || c == '-') t[c] = Byte::Marker;
    }
    return t;
}();

Byte byte_class(char c) noexcept { return kBytes[static_cast<unsigned char>(c)]; }

// Whether a word could make the exact scan below say yes: the words it looks at (U, SET and the
// session words), whatever surrounds them. Dispatched on the length and the first letter.
bool is_candidate_word(const char* w, std::size_t size) noexcept {
    const char first = ascii_lower(w[0]);
    const std::string_view word(w, size);
    switch (size) {
    case 1:
        return first == 'u';
    case 3:
        return first == 's' && equals_ci(word, "set");
    default:
        break;
    }
    if (first == 'p' && size >= 7 && (w[1] | 0x20) == 'g' && w[2] == '_') return true;
    return size <= 10 && is_session_word(word);
}

// The first letters is_candidate_word() can say yes for, by word length (bit 0: 'a'): one test
// settles most words. "p" from 7 on also stands for "pg_...", of any length.
constexpr std::array<std::uint32_t, 11> kCandidateFirsts = [] {
    auto bits = [](std::string_view letters) {
        std::uint32_t m = 0;
        for (char c : letters) m |= 1u << (c - 'a');
        return m;
    };
    std::array<std::uint32_t, 11> t{};
    t[1] = bits("u");
    t[3] = bits("s");
    t[4] = bits("thl");    // temp hold load
    t[5] = bits("rc");     // reset close
    t[6] = bits("l");      // listen
    t[7] = bits("pd");     // prepare discard
    t[8] = bits("up");     // unlisten
    t[9] = bits("tp");     // temporary
    t[10] = bits("dsp");   // deallocate set_config
    return t;
}();

// The first letters of the words is_candidate_word() can say yes for, either case.
constexpr std::array<bool, 256> kCandidateFirst = [] {
    std::array<bool, 256> t{};
    for (char c : std::string_view("uthlrcpds")) {
        t[static_cast<unsigned char>(c)] = true;
        t[static_cast<unsigned char>(c - 'a' + 'A')] = true;
    }
    return t;
}();

bool may_be_candidate(const char* w, std::size_t size) noexcept {
    const unsigned letter = static_cast<unsigned char>(w[0] | 0x20) - 'a';
    if (letter >= 26) return false;
    const std::uint32_t firsts = size < kCandidateFirsts.size() ? kCandidateFirsts[size] : 1u << ('p' - 'a');
    return (firsts >> letter & 1u) != 0 && is_candidate_word(w, size);
}

// What a step of the word walk below knows of 64 bytes of text from base: bit i says whether
// text[base + i] is an identifier byte (ident), and whether it may be a candidate's first letter
// (first: all ones when not known, then kCandidateFirst decides). Zero past n.
struct StepMasks {
    std::uint64_t ident;
    std::uint64_t first;
};

// n >= 16: every load reads 16 bytes inside the text, the last one the text's last 16 bytes, shifted.
StepMasks ident_mask64(const char* text, std::size_t n, std::size_t base) noexcept {
    std::uint64_t mask = 0;
    for (std::size_t block = 0; block < 64; block += 16) {
        const std::size_t at = base + block;
        std::uint64_t bits;
        if (at + 16 <= n) bits = bytes::ident_mask16(text + at);
        else if (at < n) bits = bytes::ident_mask16(text + n - 16) >> (at + 16 - n);
        else break;
        mask |= bits << block;
    }
    return {mask, ~std::uint64_t{0}};
}

#if defined(SLUICE_SQL_AVX2)
// The same with AVX2, for n >= 32: two loads a step instead of four, and the first letters too.
// Not inlined (it is compiled for AVX2, its caller is not): one call per 64 bytes.
__attribute__((target("avx2"), noinline)) StepMasks ident_and_first_mask64_avx2(const char* text, std::size_t n,
                                                                                std::size_t base) noexcept {
    StepMasks masks{0, 0};
    for (std::size_t block = 0; block < 64; block += 32) {
        const std::size_t at = base + block;
        bytes::IdentAndFirst bits;
        unsigned shift = 0;
        if (at + 32 <= n) {
            bits = bytes::ident_and_first_mask32(text + at);
        } else if (at < n) {
            bits = bytes::ident_and_first_mask32(text + n - 32);
            shift = static_cast<unsigned>(at + 32 - n);
        } else {
            break;
        }
        masks.ident |= std::uint64_t{bits.ident >> shift} << block;
        masks.first |= std::uint64_t{bits.first >> shift} << block;
    }
    return masks;
}
#endif

// Walks the words of text[0, n), n >= 16 (n >= 32 with AVX2), 64 bytes a step: the identifier
// mask says where words start and end; only a word whose first letter some candidate has is
// looked at.
template <StepMasks (*Masks)(const char*, std::size_t, std::size_t) noexcept>
bool has_candidate_word_in_blocks(const char* text, std::size_t n) noexcept {
    std::uint64_t carry = 0;  // 1: the byte before this step is an identifier byte
    std::size_t open_start = n;  // a word that may be a candidate, still open at the last step's end
    for (std::size_t base = 0; base < n; base += 64) {
        const auto [ident, first] = Masks(text, n, base);
        const std::uint64_t before = ident << 1 | carry;  // a word at the last byte stays open
        std::uint64_t starts = ident & ~before & first;
        const std::uint64_t ends = ~ident & before;  // bit i: byte base + i is the first after a word
        carry = ident >> 63;
        if (open_start != n) {
            if (ends == 0) continue;  // the word runs through this step (no word starts in it either)
            const std::size_t end = base + static_cast<unsigned>(std::countr_zero(ends));
            if (may_be_candidate(text + open_start, end - open_start)) return true;
            open_start = n;
        }
        while (starts != 0) {
            const unsigned at = static_cast<unsigned>(std::countr_zero(starts));
            starts &= starts - 1;
            if (!kCandidateFirst[static_cast<unsigned char>(text[base + at])]) continue;
            const std::uint64_t after = ends >> at;  // (byte `at` is in the word: never an end)
            if (after == 0) {
                open_start = base + at;  // the last word of this step
                break;
            }
            if (may_be_candidate(text + base + at, static_cast<unsigned>(std::countr_zero(after)))) return true;
        }
    }
    return open_start != n && may_be_candidate(text + open_start, n - open_start);
}

// The words as the exact scan sees them (maximal runs of identifier bytes: comment markers and
// whitespace are never part of one), with none it could say yes for. Most queries stop here after
// a few instructions a word; the exact scan costs several a byte.
bool has_candidate_word(std::string_view sql) noexcept {
    const char* const text = sql.data();
    const std::size_t n = sql.size();
    if (n < 16) {
        char block[16] = {};  // zeros past the end: not identifier bytes, so the same words
        for (std::size_t i = 0; i < n; ++i) block[i] = text[i];
        return has_candidate_word_in_blocks<ident_mask64>(block, sizeof block);
    }
#if defined(SLUICE_SQL_AVX2)
    if (n >= 32 && bytes::use_avx2()) return has_candidate_word_in_blocks<ident_and_first_mask64_avx2>(text, n);
#endif
    return has_candidate_word_in_blocks<ident_mask64>(text, n);
}

}  // namespace

bool may_change_session(std::string_view sql) noexcept {
    if (!has_candidate_word(sql)) return false;
    // Block comments nest in PostgreSQL. Strings are not tracked: a comment marker inside a string
    // only makes the scan more conservative (see `in_comment` below).
    std::size_t comment_depth = 0;
    bool line_comment = false;
    char last_significant = '\0';  // last character outside whitespace and comments ('\0': none yet)
    const std::size_t n = sql.size();
    std::size_t i = 0;
    while (i < n) {
        const char c = sql[i];
        switch (byte_class(c)) {
        case Byte::Space:
            ++i;
            continue;
        case Byte::Newline:
            line_comment = false;
            ++i;
            continue;
        case Byte::Marker:
            if (!line_comment && i + 1 < n) {
                const char next = sql[i + 1];
                if (c == '/' && next == '*') {
                    ++comment_depth;
                    i += 2;
                    continue;
                }
                if (comment_depth > 0 && c == '*' && next == '/') {
                    --comment_depth;
                    i += 2;
                    continue;
                }
                if (comment_depth == 0 && c == '-' && next == '-') {
                    line_comment = true;
                    i += 2;
                    continue;
                }
            }
            [[fallthrough]];
        case Byte::Other:
            if (!line_comment && comment_depth == 0) last_significant = c;
            ++i;
            continue;
        case Byte::Ident:
            break;
        }
        // A whole word (PostgreSQL identifier or keyword).
        const bool in_comment = line_comment || comment_depth > 0;
        std::size_t end = i + 1;
        while (end < n && byte_class(sql[end]) == Byte::Ident) ++end;
        const std::string_view word = sql.substr(i, end - i);
        if (word.size() <= 10) {
            // U&"..." spells an identifier (e.g. a function name) in escapes no search can see through.
            if (equals_ci(word, "u") && end < n && sql[end] == '&') return true;
            // SET starts its statement; after a name it is UPDATE t SET / ALTER ... SET / DO UPDATE
            // SET. Inside what looks like a comment it may be a string: counted.
            if (equals_ci(word, "set") &&
                (in_comment || !(is_ident_char(static_cast<unsigned char>(last_significant)) || last_significant == '"')))
                return true;
        }
        if (is_session_word(word)) return true;
        if (!in_comment) last_significant = sql[end - 1];
        i = end;
    }
    return false;
}

}  // namespace sluice::sql
