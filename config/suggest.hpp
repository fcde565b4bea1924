#pragma once
// "Did you mean ...?" for misspelt keys.
#include <optional>
#include <span>
#include <string_view>

namespace sluice::config {

// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo
// (ignoring case; at most a third of the word's length, and at least 2 edits allowed), or else
// the candidate sharing the longest prefix with it, when that is most of the word.
std::optional<std::string_view> closest_match(std::string_view word, std::span<const std::string_view> candidates);

}  // namespace sluice::config
