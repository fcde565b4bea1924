#pragma once
// OpenSSL primitives used by the authentication math. Binary strings in, binary strings out.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::protocol::auth {

// Loads what the functions below use from OpenSSL (its providers, SHA-256, the random
// generator), which the first login would do otherwise (~2 MiB of library pages, ~10 ms), and
// says what logins cannot do without: "" when SHA-256 and random bytes are there.
std::string prepare_crypto();
// MD5, which only md5 logins need, is there (a FIPS provider has none); loads it the first time.
bool md5_available();

// Cryptographically secure random bytes (OpenSSL RAND_bytes); throws std::runtime_error if the
// generator fails, never returns predictable bytes.
std::string random_bytes(std::size_t n);
// Compares in time independent of where the inputs differ (lengths are not secret).
bool constant_time_equal(std::string_view a, std::string_view b) noexcept;

std::string sha256(std::string_view data);
std::string md5_digest(std::string_view data);  // 16 bytes
std::string hmac_sha256(std::string_view key, std::string_view data);
// PBKDF2-HMAC-SHA-256 with a 32-byte output: SCRAM's Hi().
std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations);

std::string base64_encode(std::string_view data);
// nullopt on characters outside the alphabet, bad padding or bad length.
std::optional<std::string> base64_decode(std::string_view text);
std::string hex_encode(std::string_view data);

}  // namespace sluice::protocol::auth
