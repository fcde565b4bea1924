#include "protocol/auth/unicode_nfkc.hpp"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>
#include <vector>

#include "protocol/auth/nfkc_tables.hpp"

namespace sluice::protocol::auth {

namespace {

namespace tables = nfkc_tables;

// Hangul syllables are composed and decomposed arithmetically (Unicode chapter 3.12).
constexpr char32_t kSBase = 0xAC00;
constexpr char32_t kLBase = 0x1100;
constexpr char32_t kVBase = 0x1161;
constexpr char32_t kTBase = 0x11A7;
constexpr char32_t kLCount = 19;
constexpr char32_t kVCount = 21;
constexpr char32_t kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount;
constexpr char32_t kSCount = kLCount * kNCount;

bool is_hangul_syllable(char32_t c) noexcept { return c >= kSBase && c < kSBase + kSCount; }

std::uint8_t combining_class(char32_t c) noexcept {
    const auto* end = std::end(tables::kCombiningClasses);
    const auto* it = std::upper_bound(std::begin(tables::kCombiningClasses), end, c,
                                      [](char32_t v, const tables::CombiningClassRange& r) { return v < r.first; });
    if (it == std::begin(tables::kCombiningClasses)) return 0;
    --it;
    return c <= it->last ? it->combining_class : 0;
}

void decompose_into(char32_t c, std::u32string& out) {
    if (is_hangul_syllable(c)) {
        const char32_t s = c - kSBase;
        out += kLBase + s / kNCount;
        out += kVBase + s % kNCount / kTCount;
        if (s % kTCount != 0) out += kTBase + s % kTCount;
        return;
    }
    const auto* end = std::end(tables::kDecompositions);
    const auto* it = std::lower_bound(std::begin(tables::kDecompositions), end, c,
                                      [](const tables::Decomposition& d, char32_t v) { return d.code < v; });
    if (it == end || it->code != c) {
        out += c;
        return;
    }
    out.append(tables::kDecompositionData + it->offset, it->length);
}

// Canonical ordering: stable sort of each run of non-starters by combining class. A sort per run
// (not the textbook bubble sort) keeps long runs of marks O(n log n).
void reorder(std::u32string& text) {
    std::vector<std::pair<std::uint8_t, char32_t>> run;
    std::size_t i = 0;
    while (i < text.size()) {
        if (combining_class(text[i]) == 0) {
            ++i;
            continue;
        }
        run.clear();
        std::size_t j = i;
        for (; j < text.size(); ++j) {
            const std::uint8_t cls = combining_class(text[j]);
            if (cls == 0) break;
            run.emplace_back(cls, text[j]);
        }
        if (run.size() > 1) {
            std::stable_sort(run.begin(), run.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            for (std::size_t k = 0; k < run.size(); ++k) text[i + k] = run[k].second;
        }
        i = j;
    }
}

// The primary composite of (first, second), or 0 when there is none.
char32_t compose_pair(char32_t first, char32_t second) noexcept {
    if (first >= kLBase && first < kLBase + kLCount && second >= kVBase && second < kVBase + kVCount) {
        return kSBase + ((first - kLBase) * kVCount + (second - kVBase)) * kTCount;
    }
    if (is_hangul_syllable(first) && (first - kSBase) % kTCount == 0 && second > kTBase &&
        second < kTBase + kTCount) {
        return first + (second - kTBase);
    }
    const auto* end = std::end(tables::kCompositions);
    const auto* it = std::lower_bound(std::begin(tables::kCompositions), end, std::pair{first, second},
                                      [](const tables::Composition& c, const std::pair<char32_t, char32_t>& key) {
                                          return c.first < key.first || (c.first == key.first && c.second < key.second);
                                      });
    if (it == end || it->first != first || it->second != second) return 0;
    return it->composite;
}

// Canonical composition (UAX #15 section 3.11): each character joins the last starter unless a
// character in between blocks it (same or higher combining class, or a starter).
void compose(std::u32string& text) {
    if (text.empty()) return;
    std::size_t starter = 0;
    // Until the first starter there is nothing to compose with.
    bool have_starter = combining_class(text[0]) == 0;
    int last_class = have_starter ? 0 : 256;
    std::size_t out = 1;
    for (std::size_t i = 1; i < text.size(); ++i) {
        const char32_t c = text[i];
        const int cls = combining_class(c);
        if (have_starter && (last_class < cls || last_class == 0)) {
            if (const char32_t composite = compose_pair(text[starter], c); composite != 0) {
                text[starter] = composite;
                continue;
            }
        }
        if (cls == 0) {
            starter = out;
            have_starter = true;
        }
        last_class = cls;
        text[out++] = c;
    }
    text.resize(out);
}

}  // namespace

std::string_view nfkc_unicode_version() noexcept { return tables::kUnicodeVersion; }

std::u32string nfkc(std::u32string_view text) {
    std::u32string result;
    result.reserve(text.size());
    for (const char32_t c : text) decompose_into(c, result);
    reorder(result);
    compose(result);
    return result;
}

}  // namespace sluice::protocol::auth
