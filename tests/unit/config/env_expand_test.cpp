#include "config/env_expand.hpp"

#include <gtest/gtest.h>

#include <map>

namespace sluice::config {
namespace {

EnvLookup env_of(std::map<std::string, std::string, std::less<>> vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

TEST(EnvExpand, SubstitutesVariables) {
    auto env = env_of({{"A", "alpha"}, {"B_2", "beta"}, {"EMPTY", ""}});
    EXPECT_EQ(expand_env("${A}", env).value, "alpha");
    EXPECT_EQ(expand_env("x${A}y${B_2}z", env).value, "xalphaybetaz");
    EXPECT_EQ(expand_env("${EMPTY}", env).value, "");
    EXPECT_EQ(expand_env("no variables", env).value, "no variables");
    EXPECT_EQ(expand_env("", env).value, "");
}

TEST(EnvExpand, DollarRules) {
    auto env = env_of({{"A", "alpha"}});
    EXPECT_EQ(expand_env("$$", env).value, "$");
    EXPECT_EQ(expand_env("$${A}", env).value, "${A}");
    EXPECT_EQ(expand_env("cost $5", env).value, "cost $5");
    EXPECT_EQ(expand_env("trailing $", env).value, "trailing $");
    // SCRAM secrets contain '$' and must pass through untouched.
    const std::string secret = "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy";
    EXPECT_EQ(expand_env(secret, env).value, secret);
    // A substituted value is not expanded again.
    auto nested = env_of({{"A", "${B}"}});
    EXPECT_EQ(expand_env("${A}", nested).value, "${B}");
}

TEST(EnvExpand, MissingVariableNamesIt) {
    auto env = env_of({});
    Expanded result = expand_env("pre-${APP_PASSWORD}-post", env);
    EXPECT_FALSE(result.value);
    EXPECT_EQ(result.error, "environment variable APP_PASSWORD is not set");
}

TEST(EnvExpand, MalformedReferencesAreErrorsThatDoNotEchoTheText) {
    auto env = env_of({{"A", "alpha"}});
    for (std::string_view text : {"${A", "${}", "${1A}", "${A-B}", "${secret text}"}) {
        SCOPED_TRACE(text);
        Expanded result = expand_env(text, env);
        EXPECT_FALSE(result.value);
        EXPECT_FALSE(result.error.empty());
        EXPECT_EQ(result.error.find("secret text"), std::string::npos);
    }
    EXPECT_FALSE(expand_env("", EnvLookup{}).error.size());
    EXPECT_FALSE(expand_env("${A}", EnvLookup{}).value);  // no lookup: every variable is missing
}

TEST(EnvExpand, UrlVariantPercentEncodesInsertedValues) {
    auto env = env_of({{"PW", "p@ss:w/rd%?#"}, {"URL", "postgres://u:p@h/db"}});
    EXPECT_EQ(expand_env_in_url("postgres://u:${PW}@h/db", env).value, "postgres://u:p%40ss%3Aw%2Frd%25%3F%23@h/db");
    // The whole value is one variable: it holds a complete URL, inserted as it is.
    EXPECT_EQ(expand_env_in_url("${URL}", env).value, "postgres://u:p@h/db");
    EXPECT_EQ(expand_env_in_url("plain-_.~", env).value, "plain-_.~");
}

}  // namespace
}  // namespace sluice::config
