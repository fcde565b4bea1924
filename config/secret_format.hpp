#pragma once
// What kind of password a [[auth.users]] entry holds, judged the way PostgreSQL judges
// pg_authid.rolpassword, with the same parsers the proxy authenticates with.
#include <string>
#include <string_view>

namespace sluice::config {

enum class SecretFormat {
    None,            // empty: no password given
    Plain,           // a plaintext password
    Md5,             // "md5" + 32 lowercase hex digits
    Scram,           // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    MalformedScram,  // starts like a SCRAM secret but is not one (a typo, not a password)
};

struct SecretCheck {
    SecretFormat format = SecretFormat::None;
    std::string problem;  // for MalformedScram: what is wrong (never quotes the secret)
};

SecretCheck classify_secret(std::string_view password);

}  // namespace sluice::config
