#pragma once
// Helpers shared by the protocol unit tests: hex literals and the build -> frame -> decode ->
// re-encode round trip every message type must survive byte for byte.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"

namespace sluice::protocol::test {

// "5a 00 00 00 05 49" -> bytes; spaces are ignored.
inline std::string hex(std::string_view h) {
    std::string out;
    int hi = -1;
    for (char c : h) {
        int v;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out.push_back(static_cast<char>((hi << 4) | v));
            hi = -1;
        }
    }
    return out;
}

inline std::string to_hex(std::string_view bytes) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string out;
    for (unsigned char c : bytes) {
        if (!out.empty()) out.push_back(' ');
        out.push_back(digits[c >> 4]);
        out.push_back(digits[c & 15]);
    }
    return out;
}

// Encodes m, frames the bytes with a FrameDecoder, decodes the body with M::decode, checks the
// decoded value equals m, and that re-encoding gives the same bytes. Returns the encoded bytes.
template <class M, class Encode>
std::string round_trip(const M& m, Encode encode) {
    std::string wire;
    encode(m, wire);
    FrameDecoder d;
    d.feed(wire);
    auto f = d.next();
    EXPECT_TRUE(f.has_value()) << (f ? "" : f.error().message);
    if (!f || !*f) {
        ADD_FAILURE() << "no frame decoded from " << to_hex(wire);
        return wire;
    }
    EXPECT_EQ((*f)->tag, static_cast<char>(M::tag));
    EXPECT_EQ((*f)->wire, wire);
    EXPECT_EQ(d.buffered(), 0u);
    auto decoded = M::decode((*f)->body);
    EXPECT_TRUE(decoded.has_value()) << (decoded ? "" : decoded.error().message) << " in " << to_hex(wire);
    if (!decoded) return wire;
    EXPECT_TRUE(*decoded == m) << "decoded value differs for " << to_hex(wire);
    std::string again;
    encode(*decoded, again);
    EXPECT_EQ(to_hex(again), to_hex(wire));
    return wire;
}

template <class M>
std::string round_trip(const M& m) {
    return round_trip(m, [](const M& x, std::string& out) { x.encode(out); });
}

// The whole-stream view: decode the one frame in `wire` through the any-message API and re-encode.
inline void expect_frontend_dispatch(std::string_view wire, PasswordKind kind = PasswordKind::Password) {
    FrameDecoder d;
    d.feed(wire);
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    auto m = decode_frontend_message((*f)->tag, (*f)->body, kind);
    ASSERT_TRUE(m) << m.error().message;
    std::string again;
    encode_frontend_message(*m, again);
    EXPECT_EQ(to_hex(again), to_hex(wire));
}

inline void expect_backend_dispatch(std::string_view wire) {
    FrameDecoder d;
    d.feed(wire);
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    auto m = decode_backend_message((*f)->tag, (*f)->body);
    ASSERT_TRUE(m) << m.error().message;
    std::string again;
    encode_backend_message(*m, again);
    EXPECT_EQ(to_hex(again), to_hex(wire));
}

}  // namespace sluice::protocol::test
