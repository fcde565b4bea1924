#include "protocol/auth/md5.hpp"

#include <stdexcept>

#include "protocol/auth/crypto.hpp"

namespace sluice::protocol::auth {

namespace {

constexpr std::string_view kPrefix = "md5";
constexpr std::size_t kHexDigits = 32;

}  // namespace

std::string md5_hex(std::string_view data) { return hex_encode(md5_digest(data)); }

std::string md5_secret(std::string_view password, std::string_view user) {
    std::string input;
    input.reserve(password.size() + user.size());
    input.append(password).append(user);
    return std::string(kPrefix) + md5_hex(input);
}

bool is_md5_secret(std::string_view s) noexcept {
    if (s.size() != kPrefix.size() + kHexDigits || !s.starts_with(kPrefix)) return false;
    for (const char c : s.substr(kPrefix.size())) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::string md5_response(std::string_view secret, std::string_view salt) {
    // Precondition rather than Result: a stored secret is validated when configuration is loaded.
    if (!is_md5_secret(secret)) throw std::invalid_argument("md5_response needs an md5 secret");
    std::string input(secret.substr(kPrefix.size()));
    input.append(salt);
    return std::string(kPrefix) + md5_hex(input);
}

bool md5_verify(std::string_view secret, std::string_view salt, std::string_view response) noexcept {
    try {
        if (!is_md5_secret(secret)) return false;
        return constant_time_equal(md5_response(secret, salt), response);
    } catch (...) {
        return false;  // allocation or provider failure: never authenticate on an error path
    }
}

}  // namespace sluice::protocol::auth
