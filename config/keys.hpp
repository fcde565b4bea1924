#pragma once
// Every key this version accepts, with its documented type, default and meaning: the same tables
// the loader reads with (config/keys.cpp), exposed for docs, tests and SHOW CONFIG.
#include <string_view>
#include <vector>

namespace sluice::config {

struct KeyInfo {
    std::string_view section;        // "listen", "auth.users", ... ("" for top-level sections)
    std::string_view name;
    std::string_view type;
    std::string_view default_value;  // empty when there is none
    std::string_view doc;
    bool required = false;
};

// Section by section, in the order the loader reads them. Reserved names of later features are
// not included.
std::vector<KeyInfo> known_keys();

}  // namespace sluice::config
