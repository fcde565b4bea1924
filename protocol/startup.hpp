#pragma once
// Startup-phase packets (no tag byte) and protocol version negotiation.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "protocol/result.hpp"

namespace sluice::protocol {

struct ProtocolVersion {
    std::uint16_t major = 3;
    std::uint16_t minor = 0;
    [[nodiscard]] std::int32_t code() const noexcept { return (std::int32_t{major} << 16) | minor; }
    friend bool operator==(ProtocolVersion, ProtocolVersion) = default;
    friend auto operator<=>(ProtocolVersion, ProtocolVersion) = default;
};

inline constexpr ProtocolVersion kProtocol30{3, 0};
// PostgreSQL 18: BackendKeyData/CancelRequest keys of up to 256 bytes.
inline constexpr ProtocolVersion kProtocol32{3, 2};
inline constexpr std::size_t kMaxCancelKeyLength = 256;

// Special request codes in the version field.
inline constexpr std::int32_t kCancelRequestCode = (1234 << 16) | 5678;
inline constexpr std::int32_t kSslRequestCode = (1234 << 16) | 5679;
inline constexpr std::int32_t kGssEncRequestCode = (1234 << 16) | 5680;

struct StartupMessage {
    ProtocolVersion version;
    // In the order the client sent them; names are unique.
    std::vector<std::pair<std::string, std::string>> parameters;

    [[nodiscard]] std::optional<std::string_view> get(std::string_view name) const noexcept;
    // "user" (required by the protocol).
    [[nodiscard]] std::string_view user() const noexcept;
    // "database", defaulting to the user name as PostgreSQL does.
    [[nodiscard]] std::string_view database() const noexcept;
    void encode(std::string& out) const;
};

struct SslRequest {
    void encode(std::string& out) const;
};
struct GssEncRequest {
    void encode(std::string& out) const;
};
struct CancelRequest {
    std::int32_t process_id = 0;
    std::string secret_key;  // 4 bytes in 3.0; up to 256 from 3.2 on
    void encode(std::string& out) const;
};

using StartupPacket = std::variant<StartupMessage, SslRequest, GssEncRequest, CancelRequest>;

// Decodes a startup-phase packet body (what FrameDecoder::next_untyped() returns).
// Rejects: unknown request codes, major version != 3, missing "user", duplicate or unterminated
// parameters, a cancel key that is empty or longer than kMaxCancelKeyLength.
Result<StartupPacket> decode_startup_packet(std::string_view body);

// What to answer a client that asked for `requested`.
struct VersionNegotiation {
    ProtocolVersion use;                       // the version the session runs at
    bool send_negotiate = false;               // answer NegotiateProtocolVersion first
    std::vector<std::string> unsupported_options;  // "_pq_.*" parameters we do not know
};
// `highest_supported` is the newest 3.x minor version sluice serves; a client asking for more is
// served at highest_supported and told so with NegotiateProtocolVersion, as is a client that sent
// "_pq_." protocol options (none are supported yet).
VersionNegotiation negotiate_version(const StartupMessage& startup, ProtocolVersion highest_supported);

}  // namespace sluice::protocol
