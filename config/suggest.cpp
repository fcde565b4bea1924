#include "config/suggest.hpp"

#include <algorithm>
#include <vector>

namespace sluice::config {
namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

// Optimal string alignment distance: Levenshtein plus adjacent transpositions ("adress",
// "addrses"), the common typing mistakes.
std::size_t edit_distance(std::string_view a, std::string_view b) {
    const std::size_t n = a.size();
    const std::size_t m = b.size();
    std::vector<std::size_t> d((n + 1) * (m + 1));
    auto at = [m, &d](std::size_t i, std::size_t j) -> std::size_t& { return d[i * (m + 1) + j]; };
    for (std::size_t i = 0; i <= n; ++i) at(i, 0) = i;
    for (std::size_t j = 0; j <= m; ++j) at(0, j) = j;
    for (std::size_t i = 1; i <= n; ++i) {
        for (std::size_t j = 1; j <= m; ++j) {
            std::size_t cost = lower(a[i - 1]) == lower(b[j - 1]) ? 0 : 1;
            at(i, j) = std::min({at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost});
            if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) && lower(a[i - 2]) == lower(b[j - 1])) {
                at(i, j) = std::min(at(i, j), at(i - 2, j - 2) + 1);
            }
        }
    }
    return at(n, m);
}

}  // namespace

std::optional<std::string_view> closest_match(std::string_view word, std::span<const std::string_view> candidates) {
    // Keys are short; anything long is not a typo of one (and keeps the table small).
    if (word.empty() || word.size() > 64) return std::nullopt;
    const std::size_t limit = std::max<std::size_t>(2, word.size() / 3);
    std::optional<std::string_view> best;
    std::size_t best_distance = limit + 1;
    for (std::string_view candidate : candidates) {
        std::size_t distance = edit_distance(word, candidate);
        if (distance < best_distance) {
            best = candidate;
            best_distance = distance;
        }
    }
    if (best) return best;
    // A shortened or lengthened key ("max_clients" for "max_client_connections"): most of the
    // word is a prefix of the candidate.
    std::size_t best_prefix = 0;
    for (std::string_view candidate : candidates) {
        std::size_t prefix = 0;
        while (prefix < word.size() && prefix < candidate.size() && lower(word[prefix]) == lower(candidate[prefix])) {
            ++prefix;
        }
        if (prefix * 10 >= word.size() * 7 && prefix >= 4 && prefix > best_prefix) {
            best = candidate;
            best_prefix = prefix;
        }
    }
    return best;
}

}  // namespace sluice::config
