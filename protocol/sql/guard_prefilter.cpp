// may_break_rule(): the cheap test the guard runs on every client SQL string before any parse. It
// must never say false for a text classify() reports a finding for (or fails to parse while one
// might hide in it); anything it is unsure of is true.
#include <cstddef>
#include <string_view>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/lexical.hpp"

namespace sluice::sql {
namespace {

using lexical::equals_ci;
using lexical::is_ident_char;

// The first keyword of every statement a rule can find, wherever it nests (DELETE in a CTE, a
// MERGE's WHEN MATCHED THEN DELETE, PREPARE ... AS UPDATE, CREATE RULE ... DO ALSO DELETE, EXPLAIN
// ANALYZE DROP ...): no rule finds anything in a text without one. Dispatched on the length first,
// since this runs for every word of every query.
bool is_guarded_word(std::string_view word) noexcept {
    switch (word.size()) {
    case 2: return equals_ci(word, "do");
    case 4: return equals_ci(word, "drop") || equals_ci(word, "copy") || equals_ci(word, "lock");
    case 5: return equals_ci(word, "alter");
    case 6: return equals_ci(word, "delete") || equals_ci(word, "update") || equals_ci(word, "create") ||
                   equals_ci(word, "vacuum");
    case 7: return equals_ci(word, "cluster");
    case 8: return equals_ci(word, "truncate");
    default: return false;
    }
}

constexpr bool is_letter(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit_or_dollar(char c) noexcept { return (c >= '0' && c <= '9') || c == '$'; }

}  // namespace

bool may_break_rule(std::string_view sql) noexcept {
    // Words are looked for everywhere, comments and string literals included: a word inside a
    // string costs one (cached) parse, and the scan never has to agree with the server on where a
    // string ends (standard_conforming_strings, dollar quotes).
    const std::size_t n = sql.size();
    std::size_t i = 0;
    while (i < n) {
        if (!is_ident_char(static_cast<unsigned char>(sql[i]))) {
            ++i;
            continue;
        }
        std::size_t end = i + 1;
        while (end < n && is_ident_char(static_cast<unsigned char>(sql[end]))) ++end;
        const std::string_view run = sql.substr(i, end - i);
        if (is_guarded_word(run)) return true;
        // A keyword glued to a number or a parameter ("1delete", "$1drop"): PostgreSQL 15 rejects
        // such junk, older lexers split it. Either way, look at the letters after the digits.
        for (std::size_t k = 1; k + 1 < run.size(); ++k)
            if (is_letter(run[k]) && is_digit_or_dollar(run[k - 1]) && is_guarded_word(run.substr(k))) return true;
        i = end;
    }
    return false;
}

}  // namespace sluice::sql
