// The README's "Keys at a glance" table lists every configuration key with the loader's own
// default, and the README has no template placeholder left in it (such as SUBST_KEY_TABLE).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "config/keys.hpp"

namespace sluice::config {
namespace {

const std::filesystem::path kReadme = std::filesystem::path(SLUICE_TEST_DATA_DIR).parent_path() / "README.md";

std::string read_readme() {
    std::ifstream in(kReadme);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
}

// `text`, as the README writes code. Appended, not "`" + std::string(...): g++ 12 at -O3 reports a
// false -Wrestrict overlap in that operator+ (GCC bug 105651).
std::string code(std::string_view text) { return std::string("`").append(text).append("`"); }

// The table row of a section: it starts "| `[section]` |" or "| `[[section]]` |".
std::string row_of(const std::string& readme, std::string_view section) {
    std::istringstream lines(readme);
    const std::string table = std::string("| `[").append(section).append("]` |");
    const std::string array = std::string("| `[[").append(section).append("]]` |");
    for (std::string line; std::getline(lines, line);)
        if (line.starts_with(table) || line.starts_with(array)) return line;
    return {};
}

TEST(Readme, HasNoPlaceholders) {
    const std::string readme = read_readme();
    ASSERT_FALSE(readme.empty()) << kReadme << " is missing";
    // SUBST_NAME, @NAME@ and {{name}}: what a template that was never filled in leaves behind.
    std::smatch m;
    EXPECT_FALSE(std::regex_search(readme, m, std::regex(R"(SUBST_[A-Z_]+|@[A-Z_]+@|\{\{ *[A-Za-z_.]+ *\}\})")))
        << "placeholder " << m.str(0);
}

TEST(Readme, KeyTableListsEveryKeyWithItsDefault) {
    const std::string readme = read_readme();
    ASSERT_FALSE(readme.empty()) << kReadme << " is missing";
    for (const KeyInfo& key : known_keys()) {
        if (key.section.empty()) continue;  // a section: its row is checked through its keys
        SCOPED_TRACE(std::string(key.section) + "." + std::string(key.name));
        const std::string row = row_of(readme, key.section);
        ASSERT_FALSE(row.empty()) << "no row for [" << key.section << "] in the README's key table";
        EXPECT_NE(row.find(code(key.name)), std::string::npos) << row;
        // Defaults short enough for a table cell (not auth_query's query) are given as `key` = `value`.
        if (!key.default_value.empty() && key.default_value.find(' ') == std::string_view::npos) {
            EXPECT_NE(row.find(code(key.name).append(" = ").append(code(key.default_value))), std::string::npos) << row;
        }
    }
}

}  // namespace
}  // namespace sluice::config
