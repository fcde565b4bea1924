#include "config/secret_format.hpp"

#include <algorithm>
#include <charconv>

namespace sluice::config {
namespace {

// PostgreSQL's isMD5() accepts lowercase digits only; anything else is a plaintext password.
bool is_lower_hex(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool is_base64(std::string_view s) noexcept {
    if (s.empty() || s.size() % 4 != 0) return false;
    std::size_t padding = 0;
    while (padding < 2 && padding < s.size() && s[s.size() - 1 - padding] == '=') ++padding;
    return std::all_of(s.begin(), s.end() - static_cast<std::ptrdiff_t>(padding), [](char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    });
}

// Structure only (the auth library decodes it when it is used): iterations, salt, and two
// 32-byte keys in base64 (44 characters each).
bool is_scram_secret(std::string_view s) noexcept {
    constexpr std::string_view kPrefix = "SCRAM-SHA-256$";
    s.remove_prefix(kPrefix.size());
    std::size_t colon = s.find(':');
    std::size_t dollar = s.find('$');
    if (colon == std::string_view::npos || dollar == std::string_view::npos || colon > dollar) return false;
    std::string_view iterations = s.substr(0, colon);
    int count = 0;
    auto [end, ec] = std::from_chars(iterations.data(), iterations.data() + iterations.size(), count);
    if (iterations.empty() || ec != std::errc{} || end != iterations.data() + iterations.size() || count < 1) {
        return false;
    }
    std::string_view salt = s.substr(colon + 1, dollar - colon - 1);
    std::string_view keys = s.substr(dollar + 1);
    std::size_t key_colon = keys.find(':');
    if (key_colon == std::string_view::npos) return false;
    std::string_view stored_key = keys.substr(0, key_colon);
    std::string_view server_key = keys.substr(key_colon + 1);
    return is_base64(salt) && stored_key.size() == 44 && is_base64(stored_key) && server_key.size() == 44 &&
           is_base64(server_key);
}

}  // namespace

SecretFormat classify_secret(std::string_view password) noexcept {
    if (password.empty()) return SecretFormat::None;
    if (password.starts_with("SCRAM-SHA-256$")) {
        return is_scram_secret(password) ? SecretFormat::Scram : SecretFormat::MalformedScram;
    }
    if (password.size() == 35 && password.starts_with("md5") &&
        std::all_of(password.begin() + 3, password.end(), is_lower_hex)) {
        return SecretFormat::Md5;
    }
    return SecretFormat::Plain;
}

}  // namespace sluice::config
