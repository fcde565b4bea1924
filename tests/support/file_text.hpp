#pragma once

#include <cstddef>
#include <filesystem>
#include <string>

namespace sluice::testing {

// A file's bytes from offset `from` to its end (a log's tail since a mark); empty when the file
// cannot be read or is shorter.
[[nodiscard]] std::string file_text(const std::filesystem::path& path, std::size_t from = 0);

}  // namespace sluice::testing
