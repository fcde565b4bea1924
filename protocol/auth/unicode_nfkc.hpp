#pragma once
// Unicode Normalization Form KC (UAX #15): full compatibility decomposition, canonical
// ordering, canonical composition. Data: protocol/auth/nfkc_tables.hpp (generated).
#include <string>
#include <string_view>

namespace sluice::protocol::auth {

// The Unicode version of the normalization data; must match the PostgreSQL servers' version
// because SCRAM keys are derived from the normalized password.
std::string_view nfkc_unicode_version() noexcept;

// NFKC of a sequence of code points (assumed to be valid scalar values).
std::u32string nfkc(std::u32string_view text);

}  // namespace sluice::protocol::auth
