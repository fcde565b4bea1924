#pragma once
// What kind of password a [[auth.users]] entry holds, judged the way PostgreSQL judges
// pg_authid.rolpassword.
#include <string_view>

namespace sluice::config {

enum class SecretFormat {
    None,            // empty: no password given
    Plain,           // a plaintext password
    Md5,             // "md5" + 32 hex digits
    Scram,           // SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>
    MalformedScram,  // starts like a SCRAM secret but is not one (a typo, not a password)
};

SecretFormat classify_secret(std::string_view password) noexcept;

}  // namespace sluice::config
