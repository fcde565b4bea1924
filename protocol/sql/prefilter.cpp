// may_change_session(): the cheap test run on every client SQL string before any parse. It must
// never say false for a text analyze() reports a change for; anything it is unsure of is true.
#include <array>
#include <cstddef>
#include <string_view>

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
    if (size > 10) return false;
    static constexpr std::string_view kFirsts = "thlrcpdus";  // temp, hold, ..., set_config
    return kFirsts.find(first) != std::string_view::npos && is_session_word(word);
}

// The words as the exact scan sees them (maximal runs of identifier bytes: comment markers and
// whitespace are never part of one), with none it could say yes for. Most queries stop here after
// a few instructions a byte; the exact scan is several times that.
bool has_candidate_word(std::string_view sql) noexcept {
    const char* p = sql.data();
    const char* const end = p + sql.size();
    while (p != end) {
        while (p != end && byte_class(*p) != Byte::Ident) ++p;
        const char* start = p;
        while (p != end && byte_class(*p) == Byte::Ident) ++p;
        if (p != start && is_candidate_word(start, static_cast<std::size_t>(p - start))) return true;
    }
    return false;
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
