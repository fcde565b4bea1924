#pragma once
// TOML file (or DATABASE_URL) -> validated Config. Every problem found is reported, each naming
// the file, line, column, key path and reason; unknown keys are errors.
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/model.hpp"

namespace sluice::config {

struct ConfigError {
    std::string file;
    int line = 0;    // 0 when not tied to a place in the file
    int column = 0;
    std::string key; // dotted path, e.g. "databases[1].url"
    std::string reason;
    // "sluice.toml:12:9: databases[1].url: unsupported scheme "mysql" (expected postgres:// or postgresql://)"
    [[nodiscard]] std::string to_string() const;
};

// Looks up environment variables for ${VAR} expansion; injectable for tests.
using EnvLookup = std::function<std::optional<std::string>(std::string_view)>;
EnvLookup process_env();

using LoadResult = std::variant<Config, std::vector<ConfigError>>;

LoadResult load_file(const std::string& path, const EnvLookup& env = process_env());
// Same, from TOML text; `source_name` is what errors call the file.
LoadResult load_string(std::string_view toml, const std::string& source_name, const EnvLookup& env = process_env());
// One upstream, defaults elsewhere: what `sluice postgres://...` and DATABASE_URL give. The
// database clients use is the URL's database name (or "postgres"); authentication is trust
// on the client side unless the URL carries no password (then the client's credentials pass through).
LoadResult from_database_url(std::string_view url, const std::string& source_name);

}  // namespace sluice::config
