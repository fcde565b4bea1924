#pragma once
// Where a peer's turn in the conversation ends. A client's turn ends with a Query or a Sync: each
// is answered, down to a ReadyForQuery, and until then the client has no reason to speak. A
// server's ends with ReadyForQuery. During a login every packet of the client ends its turn: a
// startup-phase packet (SSLRequest, StartupMessage), then each password or SASL message, waits for
// the proxy's answer. The proxy uses it to know when the next read has to wait for the peer
// (proxy/turn_read_buffer.hpp).
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/big_endian.hpp"

namespace sluice::protocol {

// The message tags that end a turn; '\0' for none.
struct TurnEnd {
    char tag = '\0';
    char other_tag = '\0';
    // Untyped startup-phase packets (a length, then the body), each of which ends the turn.
    bool startup_packets = false;
    [[nodiscard]] constexpr bool any() const noexcept { return tag != '\0' || startup_packets; }
    [[nodiscard]] constexpr bool ends_turn(char t) const noexcept { return t != '\0' && (t == tag || t == other_tag); }
};

inline constexpr TurnEnd kClientTurnEnd{'Q', 'S'};
inline constexpr TurnEnd kServerTurnEnd{'Z'};
inline constexpr TurnEnd kStartupTurnEnd{'\0', '\0', true};
inline constexpr TurnEnd kPasswordTurnEnd{'p'};  // PasswordMessage, SASLInitialResponse, SASLResponse

// True when `stream`, which starts at a message boundary, ends exactly after a whole message whose
// tag ends the turn. Walks the headers only; false for a broken length (the reader reports it).
[[nodiscard]] inline bool ends_turn(std::string_view stream, TurnEnd ends) noexcept {
    if (!ends.any()) return false;
    const auto* base = reinterpret_cast<const unsigned char*>(stream.data());
    const std::uint64_t end = stream.size();
    std::uint64_t pos = 0;  // 64 bits: a length near 4 GiB cannot wrap it
    if (ends.startup_packets) {
        while (pos + 4 <= end) {
            const std::uint32_t len = load_be32(base + pos);  // counts itself
            if (len < 4) return false;
            pos += len;
        }
        return pos > 0 && pos == end;
    }
    char last = '\0';
    while (pos + 5 <= end) {
        const std::uint32_t len = load_be32(base + pos + 1);
        if (len < 4) return false;
        last = static_cast<char>(base[pos]);
        pos += 1 + std::uint64_t{len};
    }
    return pos == end && ends.ends_turn(last);
}

}  // namespace sluice::protocol
