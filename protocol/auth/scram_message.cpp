#include "protocol/auth/scram_message.hpp"

#include <algorithm>

#include "protocol/auth/crypto.hpp"

namespace sluice::protocol::auth::scram_detail {

namespace {

constexpr std::size_t kNonceBytes = 18;

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

std::optional<Attribute> AttributeReader::next() noexcept {
    if (pos_ >= text_.size()) return std::nullopt;
    const std::string_view rest = text_.substr(pos_);
    if (rest.size() < 2 || !is_alpha(rest[0]) || rest[1] != '=') return std::nullopt;
    const std::size_t comma = rest.find(',');
    const std::string_view value = rest.substr(2, comma == std::string_view::npos ? std::string_view::npos : comma - 2);
    if (value.find('\0') != std::string_view::npos) return std::nullopt;
    if (comma == std::string_view::npos) {
        pos_ = text_.size();
        expect_more_ = false;
    } else {
        pos_ += comma + 1;
        expect_more_ = true;  // a trailing ',' is malformed: an attribute must follow
    }
    return Attribute{rest[0], value};
}

std::optional<std::string_view> AttributeReader::expect(char name) noexcept {
    if (pos_ >= text_.size() || text_[pos_] != name) return std::nullopt;
    auto attribute = next();
    if (!attribute) return std::nullopt;
    return attribute->value;
}

bool is_printable_nonce(std::string_view nonce) noexcept {
    return std::all_of(nonce.begin(), nonce.end(), [](char c) { return c >= 0x21 && c <= 0x7E && c != ','; });
}

std::string generate_nonce() { return base64_encode(random_bytes(kNonceBytes)); }

std::string xor_bytes(std::string_view a, std::string_view b) {
    std::string out(a);
    for (std::size_t i = 0; i < out.size() && i < b.size(); ++i) out[i] = static_cast<char>(out[i] ^ b[i]);
    return out;
}

DerivedKeys derive_keys(std::string_view salted_password) {
    DerivedKeys keys;
    keys.client_key = hmac_sha256(salted_password, "Client Key");
    keys.stored_key = sha256(keys.client_key);
    keys.server_key = hmac_sha256(salted_password, "Server Key");
    return keys;
}

}  // namespace sluice::protocol::auth::scram_detail
