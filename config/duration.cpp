#include "config/duration.hpp"

#include <array>
#include <cstdint>
#include <limits>

namespace sluice::config {
namespace {

struct Unit {
    std::string_view suffix;
    std::int64_t millis;
};
// Largest first: compound durations must list units in this order ("1h30m", not "30m1h").
constexpr std::array<Unit, 5> kUnits{{
    {"d", 86'400'000},
    {"h", 3'600'000},
    {"m", 60'000},
    {"s", 1'000},
    {"ms", 1},
}};

// Durations end up added to clock readings; a bound far below the int64 range keeps that
// arithmetic safe while allowing any sensible setting.
constexpr std::int64_t kMaxMillis = 3650LL * 86'400'000;  // 3650d

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

DurationParse failure(std::string reason) { return {std::nullopt, std::move(reason)}; }

std::string quoted(std::string_view s) {
    std::string out = "\"";
    out.append(s);
    out += '"';
    return out;
}

}  // namespace

DurationParse parse_duration(std::string_view text) {
    if (text.empty()) return failure("empty duration (use e.g. \"30s\" or \"0\" for none)");
    if (text == "0") return {Duration{0}, {}};
    if (text.front() == '-') return failure("negative duration " + quoted(text) + " is not allowed");

    std::int64_t total = 0;
    std::size_t previous_unit = kUnits.size();  // index into kUnits of the last unit seen
    bool first = true;
    std::size_t pos = 0;
    while (pos < text.size()) {
        std::size_t digits_begin = pos;
        while (pos < text.size() && is_digit(text[pos])) ++pos;
        if (pos == digits_begin) {
            return failure("expected a number at " + quoted(text.substr(digits_begin)) + " in duration " +
                           quoted(text));
        }
        std::string_view digits = text.substr(digits_begin, pos - digits_begin);
        if (pos < text.size() && (text[pos] == '.' || text[pos] == ',')) {
            return failure("fractional duration " + quoted(text) +
                           " is not supported (use a smaller unit, e.g. \"1500ms\")");
        }
        std::size_t unit_begin = pos;
        while (pos < text.size() && is_alpha(text[pos])) ++pos;
        std::string_view suffix = text.substr(unit_begin, pos - unit_begin);
        if (suffix.empty()) {
            if (pos < text.size()) {
                return failure("unexpected character " + quoted(text.substr(pos, 1)) + " in duration " +
                               quoted(text));
            }
            return failure("missing unit in duration " + quoted(text) + " (use ms, s, m, h or d)");
        }
        std::size_t unit_index = kUnits.size();
        for (std::size_t i = 0; i < kUnits.size(); ++i)
            if (kUnits[i].suffix == suffix) unit_index = i;
        if (unit_index == kUnits.size()) {
            return failure("unknown unit " + quoted(suffix) + " in duration " + quoted(text) +
                           " (use ms, s, m, h or d)");
        }
        if (!first && unit_index <= previous_unit) {
            return failure("units in duration " + quoted(text) +
                           " must each appear once, largest first (e.g. \"1h30m\")");
        }
        first = false;
        previous_unit = unit_index;

        // Accumulate with explicit bounds: no signed overflow whatever the input.
        std::int64_t count = 0;
        for (char c : digits) {
            if (count > kMaxMillis) break;  // already too large; stop before overflowing
            count = count * 10 + (c - '0');
        }
        const std::int64_t unit_millis = kUnits[unit_index].millis;
        if (count > kMaxMillis / unit_millis || total > kMaxMillis - count * unit_millis) {
            return failure("duration " + quoted(text) + " is too large (maximum is 3650d)");
        }
        total += count * unit_millis;
    }
    return {Duration{total}, {}};
}

std::string format_duration(Duration d) {
    std::int64_t millis = d.count();
    if (millis == 0) return "0";
    std::string out;
    if (millis < 0) {
        out += '-';
        // -INT64_MIN overflows; such a value never comes from parse_duration, so clamp.
        millis = millis == std::numeric_limits<std::int64_t>::min() ? std::numeric_limits<std::int64_t>::max()
                                                                     : -millis;
    }
    for (const auto& unit : kUnits) {
        std::int64_t count = millis / unit.millis;
        if (count == 0) continue;
        out += std::to_string(count);
        out.append(unit.suffix);
        millis -= count * unit.millis;
    }
    return out;
}

}  // namespace sluice::config
