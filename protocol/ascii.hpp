#pragma once
// ASCII case folding, as PostgreSQL folds keywords and GUC names (guc_name_compare, downcase of
// keywords): only A-Z change, whatever the locale. Inline: logins compare parameter names by the
// dozen, and a call to the C library's tolower per byte was most of a login's own work.
#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::protocol {

constexpr char ascii_lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

constexpr bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
    return true;
}

// a < b, both folded; as unsigned bytes, as std::string compares.
constexpr bool ascii_iless(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = a.size() < b.size() ? a.size() : b.size();
    for (std::size_t i = 0; i < n; ++i) {
        auto x = static_cast<unsigned char>(ascii_lower(a[i]));
        auto y = static_cast<unsigned char>(ascii_lower(b[i]));
        if (x != y) return x < y;
    }
    return a.size() < b.size();
}

inline std::string ascii_lowered(std::string_view text) {
    std::string out(text);
    for (char& c : out) c = ascii_lower(c);
    return out;
}

}  // namespace sluice::protocol
