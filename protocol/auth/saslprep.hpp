#pragma once
// SASLprep (RFC 4013) of passwords, as PostgreSQL applies it before SCRAM.
#include <optional>
#include <string>
#include <string_view>

namespace sluice::protocol::auth {

// The normalized password, or nullopt when the input is not valid UTF-8 or contains prohibited
// characters.
std::optional<std::string> saslprep(std::string_view password);
// PostgreSQL's rule (pg_saslprep): when SASLprep fails, the raw bytes are used as they are.
std::string saslprep_or_raw(std::string_view password);

}  // namespace sluice::protocol::auth
