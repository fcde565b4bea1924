// may_break_rule(): the cheap test the guard runs on every client SQL string before any parse. It
// must never say false for a text classify() reports a finding for (or fails to parse while one
// might hide in it); anything it is unsure of is true.
#include <array>
#include <cstddef>
#include <string_view>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/lexical.hpp"

namespace sluice::sql {
namespace {

using lexical::ascii_lower;
using lexical::is_ident_char;

// What a byte is to the scan: one table lookup per byte, since this runs on every query.
enum class Byte : unsigned char { Other, Letter, Glue /* digits and '$' */, Ident /* '_', bytes >= 0x80 */ };

constexpr std::array<Byte, 256> kBytes = [] {
    std::array<Byte, 256> t{};
    for (unsigned c = 0; c < 256; ++c) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) t[c] = Byte::Letter;
        else if ((c >= '0' && c <= '9') || c == '$') t[c] = Byte::Glue;
        else if (is_ident_char(static_cast<unsigned char>(c))) t[c] = Byte::Ident;
    }
    return t;
}();

// `keyword` (lower case, its first letter already matched) at the start of `rest`, as a whole word.
bool word_at(std::string_view rest, std::string_view keyword) noexcept {
    if (rest.size() < keyword.size()) return false;
    const char* p = rest.data();
    for (std::size_t i = 1; i < keyword.size(); ++i)
        if (ascii_lower(p[i]) != keyword[i]) return false;
    return rest.size() == keyword.size() || !is_ident_char(static_cast<unsigned char>(p[keyword.size()]));
}

// The first keyword of every statement a rule can find, wherever it nests (DELETE in a CTE, a
// MERGE's WHEN MATCHED THEN DELETE, PREPARE ... AS UPDATE, CREATE RULE ... DO ALSO DELETE, EXPLAIN
// ANALYZE DROP ...): no rule finds anything in a text without one. Dispatched on the first letter.
bool guarded_word_at(std::string_view rest) noexcept {
    switch (ascii_lower(rest[0])) {
    case 'a': return word_at(rest, "alter");
    case 'c': return word_at(rest, "copy") || word_at(rest, "create") || word_at(rest, "cluster");
    case 'd': return word_at(rest, "do") || word_at(rest, "drop") || word_at(rest, "delete");
    case 'l': return word_at(rest, "lock");
    case 't': return word_at(rest, "truncate");
    case 'u': return word_at(rest, "update");
    case 'v': return word_at(rest, "vacuum");
    default: return false;
    }
}

}  // namespace

bool may_break_rule(std::string_view sql) noexcept {
    // Words are looked for everywhere, comments and string literals included: a word inside a
    // string costs one (cached) parse, and the scan never has to agree with the server on where a
    // string ends (standard_conforming_strings, dollar quotes). A word starts at a letter after a
    // non-identifier byte, or after digits or '$' glued to it ("1delete", "$1drop": PostgreSQL 15
    // rejects such junk, older lexers split it).
    const char* const begin = sql.data();
    const char* const end = begin + sql.size();
    Byte before = Byte::Other;
    for (const char* p = begin; p != end; ++p) {
        const Byte here = kBytes[static_cast<unsigned char>(*p)];
        if (here == Byte::Letter && (before == Byte::Other || before == Byte::Glue) &&
            guarded_word_at(std::string_view(p, static_cast<std::size_t>(end - p))))
            return true;
        before = here;
    }
    return false;
}

}  // namespace sluice::sql
