#include <charconv>
#include <stdexcept>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/saslprep.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/auth/scram_message.hpp"

namespace sluice::protocol::auth {

namespace {

constexpr std::string_view kSecretPrefix = "SCRAM-SHA-256$";
constexpr std::size_t kKeySize = 32;
constexpr std::size_t kDefaultSaltBytes = 16;  // what PostgreSQL generates

// Splits "a<sep>b" into exactly two parts.
std::optional<std::pair<std::string_view, std::string_view>> split_pair(std::string_view s, char sep) {
    const std::size_t at = s.find(sep);
    if (at == std::string_view::npos || s.find(sep, at + 1) != std::string_view::npos) return std::nullopt;
    return std::pair{s.substr(0, at), s.substr(at + 1)};
}

}  // namespace

bool ScramSecret::looks_like(std::string_view text) noexcept { return text.starts_with(kSecretPrefix); }

// Error messages never echo the text: it is a password equivalent.
Result<ScramSecret> ScramSecret::parse(std::string_view text) {
    if (!looks_like(text)) return fail("SCRAM secret does not start with SCRAM-SHA-256$");
    const auto halves = split_pair(text.substr(kSecretPrefix.size()), '$');
    if (!halves) return fail("SCRAM secret must be SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
    const auto params = split_pair(halves->first, ':');
    const auto keys = split_pair(halves->second, ':');
    if (!params || !keys) {
        return fail("SCRAM secret must be SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>");
    }

    ScramSecret secret;
    const std::string_view iterations = params->first;
    const char* end = iterations.data() + iterations.size();
    const auto [ptr, ec] = std::from_chars(iterations.data(), end, secret.iterations);
    if (iterations.empty() || ec != std::errc{} || ptr != end || iterations[0] == '-' || secret.iterations < 1) {
        return fail("SCRAM secret has an invalid iteration count");
    }
    auto salt = base64_decode(params->second);
    if (!salt || salt->empty()) return fail("SCRAM secret has an invalid salt");
    auto stored_key = base64_decode(keys->first);
    if (!stored_key || stored_key->size() != kKeySize) return fail("SCRAM secret has an invalid StoredKey");
    auto server_key = base64_decode(keys->second);
    if (!server_key || server_key->size() != kKeySize) return fail("SCRAM secret has an invalid ServerKey");
    secret.salt = *std::move(salt);
    secret.stored_key = *std::move(stored_key);
    secret.server_key = *std::move(server_key);
    return secret;
}

ScramSecret ScramSecret::from_password(std::string_view password, std::string salt, int iterations) {
    if (iterations < 1) throw std::invalid_argument("SCRAM iteration count must be positive");
    ScramSecret secret;
    secret.iterations = iterations;
    secret.salt = salt.empty() ? random_bytes(kDefaultSaltBytes) : std::move(salt);
    auto keys = scram_detail::derive_keys(pbkdf2_sha256(saslprep_or_raw(password), secret.salt, iterations));
    secret.stored_key = std::move(keys.stored_key);
    secret.server_key = std::move(keys.server_key);
    return secret;
}

std::string ScramSecret::to_string() const {
    return std::string(kSecretPrefix) + std::to_string(iterations) + ":" + base64_encode(salt) + "$" +
           base64_encode(stored_key) + ":" + base64_encode(server_key);
}

}  // namespace sluice::protocol::auth
