#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "config/model.hpp"

namespace sluice::config {

// "250ms", "30s", "5m", "1h", "1d", "1m30s", "0"; nullopt with a reason on anything else.
struct DurationParse {
    std::optional<Duration> value;
    std::string error;
};
DurationParse parse_duration(std::string_view text);
std::string format_duration(Duration d);  // inverse, for logs and SHOW CONFIG

}  // namespace sluice::config
