#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/load.hpp"

namespace sluice::config {

struct Expanded {
    std::optional<std::string> value;  // set on success
    std::string error;                 // e.g. "environment variable APP_PASSWORD is not set"
};
// Replaces ${NAME} with the variable's value; "$$" is a literal "$"; any other "$" stays as it is
// (SCRAM secrets contain "$"). NAME is [A-Za-z_][A-Za-z0-9_]*. A missing variable is an error.
// Errors never quote the text itself, which may hold a secret.
Expanded expand_env(std::string_view text, const EnvLookup& env);

// The same for a postgres:// URL. A ${NAME} that is the whole text is substituted as it is (the
// variable holds a complete URL); anywhere else the value is percent-encoded, so a password with
// '@', ':', '/' or '%' in it can be inserted without escaping it by hand.
Expanded expand_env_in_url(std::string_view text, const EnvLookup& env);

}  // namespace sluice::config
