#include "protocol/auth/saslprep.hpp"

#include <algorithm>

#include "protocol/auth/saslprep_tables.hpp"
#include "protocol/auth/unicode_nfkc.hpp"

// SASLprep exactly as PostgreSQL's src/common/saslprep.c (pg_saslprep) computes it, because a
// SCRAM secret is only usable if sluice derives the same bytes from a password as the server and
// libpq do. PostgreSQL differs from a literal reading of RFC 4013 in two ways, both reproduced:
//   - an all-ASCII password is returned unchanged (no mapping/normalization can apply to it);
//   - the prohibited-output, unassigned and bidi checks run on the mapped string *before* NFKC
//     (e.g. U+2135 ALEF SYMBOL is accepted and normalizes to the Hebrew letter U+05D0).
// Where PostgreSQL fails, it uses the raw password bytes (see saslprep_or_raw).

namespace sluice::protocol::auth {

namespace {

namespace sp = stringprep_tables;

// Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
std::optional<std::u32string> decode_utf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        if (b0 < 0x80) {
            out += b0;
            ++i;
            continue;
        }
        std::size_t len = 0;
        char32_t c = 0;
        char32_t min = 0;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            len = 2;
            c = b0 & 0x1F;
            min = 0x80;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            len = 3;
            c = b0 & 0x0F;
            min = 0x800;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            len = 4;
            c = b0 & 0x07;
            min = 0x10000;
        } else {
            return std::nullopt;
        }
        if (text.size() - i < len) return std::nullopt;
        for (std::size_t k = 1; k < len; ++k) {
            const auto b = static_cast<unsigned char>(text[i + k]);
            if ((b & 0xC0) != 0x80) return std::nullopt;
            c = c << 6 | (b & 0x3F);
        }
        if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return std::nullopt;
        out += c;
        i += len;
    }
    return out;
}

void encode_utf8(char32_t c, std::string& out) {
    if (c < 0x80) {
        out += static_cast<char>(c);
    } else if (c < 0x800) {
        out += static_cast<char>(0xC0 | c >> 6);
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
        out += static_cast<char>(0xE0 | c >> 12);
        out += static_cast<char>(0x80 | (c >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
        out += static_cast<char>(0xF0 | c >> 18);
        out += static_cast<char>(0x80 | (c >> 12 & 0x3F));
        out += static_cast<char>(0x80 | (c >> 6 & 0x3F));
        out += static_cast<char>(0x80 | (c & 0x3F));
    }
}

bool is_ascii(std::string_view text) noexcept {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// RFC 3454 section 6: if any RandALCat is present, no LCat may be, and the string must start
// and end with RandALCat.
bool bidi_ok(std::u32string_view text) noexcept {
    const bool has_rand_al =
        std::any_of(text.begin(), text.end(), [](char32_t c) { return sp::contains(sp::kRandALCat, c); });
    if (!has_rand_al) return true;
    if (std::any_of(text.begin(), text.end(), [](char32_t c) { return sp::contains(sp::kLCat, c); })) return false;
    return sp::contains(sp::kRandALCat, text.front()) && sp::contains(sp::kRandALCat, text.back());
}

}  // namespace

std::optional<std::string> saslprep(std::string_view password) {
    if (is_ascii(password)) {
        // Nothing maps or normalizes in ASCII; only the C.2.1 control characters are prohibited.
        // (PostgreSQL skips even that check, but it then falls back to the same raw bytes.)
        const bool has_control = std::any_of(password.begin(), password.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7F;
        });
        if (has_control) return std::nullopt;
        return std::string(password);
    }

    auto decoded = decode_utf8(password);
    if (!decoded) return std::nullopt;

    // 1) Map: non-ASCII spaces to SPACE, "commonly mapped to nothing" removed.
    std::u32string mapped;
    mapped.reserve(decoded->size());
    for (const char32_t c : *decoded) {
        if (sp::contains(sp::kNonAsciiSpace, c)) {
            mapped += U' ';
        } else if (!sp::contains(sp::kMappedToNothing, c)) {
            mapped += c;
        }
    }
    if (mapped.empty()) return std::nullopt;  // PostgreSQL refuses a password that maps to nothing

    // 3) and 4) Prohibit and bidi, on the mapped string as PostgreSQL does (see file comment).
    for (const char32_t c : mapped) {
        if (sp::contains(sp::kProhibitedOutput, c) || sp::contains(sp::kUnassigned, c)) return std::nullopt;
    }
    if (!bidi_ok(mapped)) return std::nullopt;

    // 2) Normalize.
    const std::u32string normalized = nfkc(mapped);
    std::string out;
    out.reserve(normalized.size() * 2);
    for (const char32_t c : normalized) encode_utf8(c, out);
    return out;
}

std::string saslprep_or_raw(std::string_view password) {
    if (auto prepared = saslprep(password)) return *std::move(prepared);
    return std::string(password);
}

}  // namespace sluice::protocol::auth
