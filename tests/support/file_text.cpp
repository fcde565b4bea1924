#include "tests/support/file_text.hpp"

#include <fstream>
#include <iterator>

namespace sluice::testing {

std::string file_text(const std::filesystem::path& path, std::size_t from) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return {};
    in.seekg(static_cast<std::streamoff>(from));
    if (!in) return {};
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

}  // namespace sluice::testing
