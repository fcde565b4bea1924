#pragma once
// Pieces shared by ScramClient and ScramServer: the RFC 5802 attribute syntax and key algebra.
// Internal to sluice_auth.
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace sluice::protocol::auth::scram_detail {

// Result<std::string> cannot be built implicitly from a std::string: C++20 lets ProtocolError
// be constructed from one too, so the value must be placed explicitly.
inline Result<std::string> ok(std::string value) {
    return Result<std::string>(boost::system::in_place_value, std::move(value));
}

struct Attribute {
    char name;
    std::string_view value;
};

// Walks "a=value,b=value,..." (RFC 5802 section 7): names are one ALPHA, values contain no ','
// and no NUL. Any syntax error makes next() return nullopt.
class AttributeReader {
public:
    explicit AttributeReader(std::string_view text) noexcept : text_(text) {}

    [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size() && !expect_more_; }
    // Offset of the attribute next() will read.
    [[nodiscard]] std::size_t position() const noexcept { return pos_; }
    std::optional<Attribute> next() noexcept;
    // next(), but only if the attribute has that name.
    std::optional<std::string_view> expect(char name) noexcept;

private:
    std::string_view text_;
    std::size_t pos_ = 0;
    bool expect_more_ = false;  // after a ',' another attribute must follow
};

// RFC 5802 "printable": %x21-2B / %x2D-7E (no ',').
bool is_printable_nonce(std::string_view nonce) noexcept;
// 18 random bytes, base64: 24 printable characters, as PostgreSQL generates.
std::string generate_nonce();

std::string xor_bytes(std::string_view a, std::string_view b);

struct DerivedKeys {
    std::string client_key;
    std::string stored_key;
    std::string server_key;
};
// SaltedPassword -> ClientKey, StoredKey = H(ClientKey), ServerKey.
DerivedKeys derive_keys(std::string_view salted_password);

}  // namespace sluice::protocol::auth::scram_detail
