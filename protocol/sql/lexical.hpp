#pragma once
// PostgreSQL's lexical rules the cheap pre-parse scans share (prefilter.cpp, guard_prefilter.cpp).
#include <cstddef>
#include <string_view>

namespace sluice::sql::lexical {

// PostgreSQL's identifier characters (scan.l ident_cont): a keyword is a whole run of them.
constexpr bool is_ident_char(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
           c >= 0x80;
}

// Keywords fold ASCII letters only (ScanKeywordLookup): no other byte spells one.
constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// `keyword` is lower case.
constexpr bool equals_ci(std::string_view word, std::string_view keyword) noexcept {
    if (word.size() != keyword.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
        if (ascii_lower(word[i]) != keyword[i]) return false;
    return true;
}

}  // namespace sluice::sql::lexical
