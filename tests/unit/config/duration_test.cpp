#include "config/duration.hpp"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct ValidCase {
    std::string_view text;
    Duration expected;
};

TEST(Duration, ParsesValidDurations) {
    const ValidCase cases[] = {
        {"0", milliseconds(0)},
        {"0s", milliseconds(0)},
        {"0ms", milliseconds(0)},
        {"250ms", milliseconds(250)},
        {"30s", seconds(30)},
        {"5m", minutes(5)},
        {"1h", hours(1)},
        {"1d", hours(24)},
        {"1m30s", seconds(90)},
        {"1h30m", minutes(90)},
        {"1d2h3m4s5ms", hours(26) + minutes(3) + seconds(4) + milliseconds(5)},
        {"1s500ms", milliseconds(1500)},
        {"007s", seconds(7)},
        {"3650d", hours(24 * 3650)},
        {"90s", seconds(90)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        DurationParse parsed = parse_duration(c.text);
        ASSERT_TRUE(parsed.value.has_value()) << parsed.error;
        EXPECT_EQ(*parsed.value, c.expected);
        EXPECT_TRUE(parsed.error.empty());
    }
}

struct InvalidCase {
    std::string_view text;
    std::string_view reason;  // substring of the error
};

TEST(Duration, RejectsInvalidDurationsWithAReason) {
    const InvalidCase cases[] = {
        {"", "empty duration"},
        {"30", "missing unit"},
        {"10", "missing unit"},
        {"5x", "unknown unit \"x\""},
        {"5sec", "unknown unit \"sec\""},
        {"5S", "unknown unit \"S\""},
        {"-1s", "negative"},
        {"-0", "negative"},
        {"1.5s", "fractional"},
        {"1,5s", "fractional"},
        {"s", "expected a number"},
        {" 5s", "expected a number"},
        {"5s ", "expected a number"},
        {"5 s", "unexpected character"},
        {"30s1m", "largest first"},
        {"1s1s", "largest first"},
        {"3651d", "too large"},
        {"99999999999999999999999ms", "too large"},
        {"9223372036854775807d", "too large"},
        {"3650d1ms", "too large"},
        {"+5s", "expected a number"},
        {"5m-3s", "expected a number"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        DurationParse parsed = parse_duration(c.text);
        EXPECT_FALSE(parsed.value.has_value());
        EXPECT_NE(parsed.error.find(c.reason), std::string::npos) << parsed.error;
    }
}

TEST(Duration, FormatsAsTheInverseOfParse) {
    const ValidCase cases[] = {
        {"0", milliseconds(0)},         {"250ms", milliseconds(250)}, {"30s", seconds(30)},
        {"1m30s", seconds(90)},         {"1h", hours(1)},             {"1d", hours(24)},
        {"1s500ms", milliseconds(1500)}, {"1d1h1m1s1ms", hours(25) + minutes(1) + seconds(1) + milliseconds(1)},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(format_duration(c.expected), c.text);
        EXPECT_EQ(parse_duration(format_duration(c.expected)).value, c.expected);
    }
    EXPECT_EQ(format_duration(milliseconds(-1500)), "-1s500ms");
}

}  // namespace
}  // namespace sluice::config
