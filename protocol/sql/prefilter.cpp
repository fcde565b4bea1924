// may_change_session(): the cheap test run on every client SQL string before any parse. It must
// never say false for a text analyze() reports a change for; anything it is unsure of is true.
#include <algorithm>
#include <array>
#include <cstddef>
#include <string_view>

#include "protocol/sql/session_state.hpp"

namespace sluice::sql {
namespace {

// PostgreSQL's identifier characters (scan.l ident_cont): a keyword is a whole run of them.
constexpr bool is_ident_char(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$' ||
           c >= 0x80;
}

constexpr bool is_space(char c) noexcept {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ci(std::string_view word, std::string_view keyword) noexcept {
    if (word.size() != keyword.size()) return false;
    for (std::size_t i = 0; i < word.size(); ++i)
        if (ascii_lower(word[i]) != keyword[i]) return false;
    return true;
}

bool contains_ci(std::string_view word, std::string_view needle) noexcept {
    if (word.size() < needle.size()) return false;
    for (std::size_t i = 0; i + needle.size() <= word.size(); ++i)
        if (ascii_lower(word[i]) == needle[0] && equals_ci(word.substr(i, needle.size()), needle)) return true;
    return false;
}

// Keywords that start (or, for TEMP/HOLD, appear in) a statement with a session effect.
// (DECLARE alone changes nothing: only WITH HOLD outlives the transaction.)
constexpr std::array<std::string_view, 11> kWords{
    "reset", "listen", "unlisten", "temp", "temporary", "hold", "close", "prepare", "deallocate", "discard", "load",
};
// Parts of longer names: pg_advisory_lock..., pg_try_advisory_lock..., pg_temp, pg_temp_3.
constexpr std::array<std::string_view, 3> kNameParts{"advisory", "set_config", "pg_temp"};
constexpr std::size_t kShortestNamePart = 7;
static_assert(std::all_of(kNameParts.begin(), kNameParts.end(),
                          [](std::string_view part) { return part.size() >= kShortestNamePart; }));

}  // namespace

bool may_change_session(std::string_view sql) noexcept {
    // Block comments nest in PostgreSQL. Strings are not tracked: a comment marker inside a string
    // only makes the scan more conservative (see `in_comment` below).
    std::size_t comment_depth = 0;
    bool line_comment = false;
    char last_significant = '\0';  // last character outside whitespace and comments ('\0': none yet)
    std::size_t i = 0;
    while (i < sql.size()) {
        const char c = sql[i];
        const char next = i + 1 < sql.size() ? sql[i + 1] : '\0';
        if (line_comment) {
            if (c == '\n' || c == '\r') line_comment = false;
        } else if (c == '/' && next == '*') {
            ++comment_depth;
            i += 2;
            continue;
        } else if (comment_depth > 0 && c == '*' && next == '/') {
            --comment_depth;
            i += 2;
            continue;
        } else if (comment_depth == 0 && c == '-' && next == '-') {
            line_comment = true;
            i += 2;
            continue;
        }
        const bool in_comment = line_comment || comment_depth > 0;
        if (!is_ident_char(static_cast<unsigned char>(c))) {
            if (!in_comment && !is_space(c)) last_significant = c;
            ++i;
            continue;
        }
        // A whole word (PostgreSQL identifier or keyword).
        std::size_t end = i;
        while (end < sql.size() && is_ident_char(static_cast<unsigned char>(sql[end]))) ++end;
        const std::string_view word = sql.substr(i, end - i);
        // U&"..." spells an identifier (e.g. a function name) in escapes no search can see through.
        if (equals_ci(word, "u") && end < sql.size() && sql[end] == '&') return true;
        // SET starts its statement; after a name it is UPDATE t SET / ALTER ... SET / DO UPDATE SET.
        // Inside what looks like a comment it may be a string: counted.
        if (equals_ci(word, "set") &&
            (in_comment || !(is_ident_char(static_cast<unsigned char>(last_significant)) || last_significant == '"')))
            return true;
        // Most words are shorter than every name part: skip those scans.
        for (std::string_view keyword : kWords)
            if (equals_ci(word, keyword)) return true;
        if (word.size() >= kShortestNamePart) {
            for (std::string_view part : kNameParts)
                if (contains_ci(word, part)) return true;
        }
        if (!in_comment) last_significant = sql[end - 1];
        i = end;
    }
    return false;
}

}  // namespace sluice::sql
