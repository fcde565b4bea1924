#pragma once
// PostgreSQL's MD5 password scheme.
#include <string>
#include <string_view>

namespace sluice::protocol::auth {

std::string md5_hex(std::string_view data);
// The stored secret: "md5" + md5_hex(password + user).
std::string md5_secret(std::string_view password, std::string_view user);
bool is_md5_secret(std::string_view s) noexcept;  // "md5" + 32 lowercase hex digits
// What the client sends for AuthenticationMD5Password: "md5" + md5_hex(md5_hex(password + user) + salt).
// `secret` is the stored "md5..." secret (so sluice can answer with only the secret).
std::string md5_response(std::string_view secret, std::string_view salt);
// Constant-time check of a client's PasswordMessage against the stored secret.
bool md5_verify(std::string_view secret, std::string_view salt, std::string_view response) noexcept;

}  // namespace sluice::protocol::auth
