#include "config/secret_format.hpp"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

SecretFormat classify_secret_format(std::string_view s) { return classify_secret(s).format; }

TEST(SecretFormat, Classifies) {
    EXPECT_EQ(classify_secret_format(""), SecretFormat::None);
    EXPECT_EQ(classify_secret_format("hunter2"), SecretFormat::Plain);
    EXPECT_EQ(classify_secret_format("md5aabbccddeeff00112233445566778899"), SecretFormat::Md5);
    // PostgreSQL's isMD5(): lowercase hex, exactly 32 digits; anything else is a password.
    EXPECT_EQ(classify_secret_format("md5AABBCCDDEEFF00112233445566778899"), SecretFormat::Plain);
    EXPECT_EQ(classify_secret_format("md5aabbccddeeff0011223344556677889"), SecretFormat::Plain);
    EXPECT_EQ(classify_secret_format("md5"), SecretFormat::Plain);
    EXPECT_EQ(classify_secret_format("SCRAM-SHA-256$4096:c2x1aWNlLWV4YW1wbGUtcw==$tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0="
                              ":EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY="),
              SecretFormat::Scram);
}

TEST(SecretFormat, MalformedScramSecrets) {
    for (std::string_view s : {
             "SCRAM-SHA-256$",
             "SCRAM-SHA-256$4096:salt",
             "SCRAM-SHA-256$0:c2FsdA==$tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0=:EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY=",
             "SCRAM-SHA-256$x:c2FsdA==$tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0=:EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY=",
             "SCRAM-SHA-256$4096:c2FsdA==$short:EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY=",
             "SCRAM-SHA-256$4096:c2FsdA==$tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0=",
             "SCRAM-SHA-256$4096:!!!!$tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0=:EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY=",
             "SCRAM-SHA-256$4096$c2FsdA==:tPEWCNmrt22WQgO6hnRZPwlsu3344OidOV8biqUAqP0=:EFrk30nx78u/A8ZutaYBEefHgF3O2dKv7pSbP+DgMfY=",
         }) {
        SCOPED_TRACE(s);
        SecretCheck check = classify_secret(s);
        EXPECT_EQ(check.format, SecretFormat::MalformedScram);
        EXPECT_FALSE(check.problem.empty());
    }
}

}  // namespace
}  // namespace sluice::config
