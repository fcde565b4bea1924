// may_break_rule(): the cheap test the guard runs on every client SQL string before any parse. It
// must never say false for a text classify() reports a finding for (or fails to parse while one
// might hide in it); anything it is unsure of is true.
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <utility>

#include "protocol/sql/byte_masks.hpp"
#include "protocol/sql/guard.hpp"
#include "protocol/sql/lexical.hpp"

namespace sluice::sql {
namespace {

using lexical::ascii_lower;
using lexical::is_ident_char;

// The first keyword of every statement a rule can find, wherever it nests (DELETE in a CTE, a
// MERGE's WHEN MATCHED THEN DELETE, PREPARE ... AS UPDATE, CREATE RULE ... DO ALSO DELETE, EXPLAIN
// ANALYZE DROP ...): no rule finds anything in a text without one.
constexpr std::array<std::string_view, 11> kGuardedWords = {"alter", "cluster", "copy", "create", "delete", "do",
                                                            "drop", "lock", "truncate", "update", "vacuum"};

// Where the words of each first letter are in kGuardedWords (sorted): [from, to), empty for none.
struct Range {
    unsigned char from = 0, to = 0;
};
constexpr std::array<Range, 26> kByInitial = [] {
    std::array<Range, 26> t{};
    for (std::size_t i = 0; i < kGuardedWords.size(); ++i) {
        auto& r = t[static_cast<std::size_t>(kGuardedWords[i][0] - 'a')];
        if (r.from == r.to) r.from = static_cast<unsigned char>(i);
        r.to = static_cast<unsigned char>(i + 1);
    }
    return t;
}();

// The first letters of kGuardedWords, each once (checked below): the only letters the scan looks at.
constexpr std::string_view kInitials = "acdltuv";
static_assert([] {
    for (std::size_t c = 0; c < 26; ++c)
        if ((kByInitial[c].from != kByInitial[c].to) != (kInitials.find(static_cast<char>('a' + c)) != kInitials.npos))
            return false;
    return true;
}(), "kInitials must be exactly the first letters of kGuardedWords");

// Bit i: block[i] is one of kInitials, in either case.
std::uint32_t initials_mask16(const char* block) noexcept {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
        return bytes::folded_letter_mask16<kInitials[I]...>(block);
    }(std::make_index_sequence<kInitials.size()>{});
}

// `keyword` (lower case, its first letter already matched) at the start of `rest`, as a whole word.
bool word_at(std::string_view rest, std::string_view keyword) noexcept {
    if (rest.size() < keyword.size()) return false;
    const char* p = rest.data();
    for (std::size_t i = 1; i < keyword.size(); ++i)
        if (ascii_lower(p[i]) != keyword[i]) return false;
    return rest.size() == keyword.size() || !is_ident_char(static_cast<unsigned char>(p[keyword.size()]));
}

// A guarded word at the start of `rest`, whose first byte is a letter.
bool guarded_word_at(std::string_view rest) noexcept {
    const auto range = kByInitial[static_cast<std::size_t>(ascii_lower(rest[0]) - 'a')];
    for (std::size_t i = range.from; i < range.to; ++i)
        if (word_at(rest, kGuardedWords[i])) return true;
    return false;
}

// Bits for text[base, base + 64), 0 past n (n >= 16: every load reads sixteen bytes inside the
// text, the last one the text's last sixteen bytes, shifted down).
struct Masks {
    std::uint64_t word_bytes = 0;  // letters, '_', bytes >= 0x80
    std::uint64_t initials = 0;    // first letters of guarded words
};
Masks masks64(const char* text, std::size_t n, std::size_t base) noexcept {
    Masks m;
    for (std::size_t block = 0; block < 64; block += 16) {
        const std::size_t at = base + block;
        if (at >= n) break;
        const bool whole = at + 16 <= n;
        const char* p = whole ? text + at : text + n - 16;
        const unsigned shift = whole ? 0 : static_cast<unsigned>(at + 16 - n);
        m.word_bytes |= std::uint64_t{bytes::word_mask16(p) >> shift} << block;
        m.initials |= std::uint64_t{initials_mask16(p) >> shift} << block;
    }
    return m;
}

}  // namespace

bool may_break_rule(std::string_view sql) noexcept {
    // Words are looked for everywhere, comments and string literals included: a word inside a
    // string costs one (cached) parse, and the scan never has to agree with the server on where a
    // string ends (standard_conforming_strings, dollar quotes). A word starts at a letter after a
    // byte that is not a letter, '_' or >= 0x80: digits and '$' glued to it count as a start too
    // ("1delete", "$1drop": PostgreSQL 15 rejects such junk, older lexers split it). 64 bytes a
    // step; only the letters a guarded word starts with are looked at.
    char padded[16] = {};  // a text shorter than a block, zeros after it: neither letters nor word bytes
    if (sql.size() < 16) {
        std::memcpy(padded, sql.data(), sql.size());
        sql = std::string_view(padded, sizeof padded);
    }
    const std::size_t n = sql.size();
    std::uint64_t carry = 0;  // 1: the byte before this step keeps a word from starting
    for (std::size_t base = 0; base < n; base += 64) {
        const Masks m = masks64(sql.data(), n, base);
        std::uint64_t starts = m.initials & ~(m.word_bytes << 1 | carry);
        carry = m.word_bytes >> 63;
        while (starts != 0) {
            const unsigned at = static_cast<unsigned>(std::countr_zero(starts));
            starts &= starts - 1;
            if (guarded_word_at(sql.substr(base + at))) return true;
        }
    }
    return false;
}

}  // namespace sluice::sql
