#pragma once
// Helpers shared by the config unit tests.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <variant>
#include <vector>

#include "config/load.hpp"

namespace sluice::config::test {

inline EnvLookup env_of(std::map<std::string, std::string, std::less<>> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

inline EnvLookup no_env() { return env_of({}); }

inline std::string describe(const std::vector<ConfigError>& errors) {
    std::string out;
    for (const auto& e : errors) out += e.to_string() + "\n";
    return out;
}

inline Config expect_config(const LoadResult& result) {
    if (const auto* errors = std::get_if<std::vector<ConfigError>>(&result)) {
        ADD_FAILURE() << "expected a valid config, got:\n" << describe(*errors);
        return {};
    }
    return std::get<Config>(result);
}

inline std::vector<ConfigError> expect_errors(const LoadResult& result) {
    if (std::holds_alternative<Config>(result)) {
        ADD_FAILURE() << "expected errors, the config loaded";
        return {};
    }
    return std::get<std::vector<ConfigError>>(result);
}

// The single error of `result`, checked to name file, line and key, as the acceptance asks.
inline ConfigError expect_one_error(const LoadResult& result, const std::string& file, int line,
                                    const std::string& key, const std::string& reason) {
    std::vector<ConfigError> errors = expect_errors(result);
    if (errors.size() != 1) {
        ADD_FAILURE() << "expected exactly one error, got:\n" << describe(errors);
        return errors.empty() ? ConfigError{} : errors.front();
    }
    const ConfigError& error = errors.front();
    const std::string text = error.to_string();
    EXPECT_EQ(error.file, file) << text;
    EXPECT_EQ(error.line, line) << text;
    EXPECT_EQ(error.key, key) << text;
    EXPECT_NE(error.reason.find(reason), std::string::npos) << text;
    EXPECT_EQ(text.rfind(file + ":" + std::to_string(line) + ":", 0), 0u) << text;
    EXPECT_NE(text.find(": " + key + ": "), std::string::npos) << text;
    return error;
}

}  // namespace sluice::config::test
