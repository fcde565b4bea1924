// load_string on arbitrary text: never crashes, and every error names its file and a reason.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "config/load.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    // Every ${VAR} resolves (except DATABASE_URL, so files without databases are errors too):
    // the loader's paths after expansion are what is being fuzzed.
    sluice::config::EnvLookup env = [](std::string_view name) -> std::optional<std::string> {
        if (name == "DATABASE_URL") return std::nullopt;
        return std::string("fuzz-value");
    };
    auto result = sluice::config::load_string(text, "fuzz.toml", env);
    if (auto* errors = std::get_if<std::vector<sluice::config::ConfigError>>(&result)) {
        if (errors->empty()) std::abort();
        for (const auto& error : *errors) {
            if (error.reason.empty() || error.to_string().empty()) std::abort();
        }
    } else if (std::get<sluice::config::Config>(result).databases.empty()) {
        std::abort();
    }
    return 0;
}
