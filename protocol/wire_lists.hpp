#pragma once
// Shared pieces of message layouts: Int16-counted arrays and Int32-length-prefixed values.
//
// Counts are read as *unsigned* Int16, as PostgreSQL itself does (pq_getmsgint(msg, 2)): a Bind may
// carry up to 65535 parameters, so a "negative" Int16 count is a large count, not an error. What makes
// a count absurd is that its elements cannot fit in the bytes left, which is rejected before any
// allocation, so a hostile count never reserves more memory than the message itself occupies.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/byte_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/result.hpp"

namespace sluice::protocol::wire {

inline constexpr std::size_t kMaxCount16 = 0xffff;

// Reads an unsigned Int16 count of elements that each take at least `min_element_size` bytes.
// Invalidates the reader when they cannot fit in what is left.
inline std::size_t count16(ByteReader& r, std::size_t min_element_size) noexcept {
    auto n = static_cast<std::size_t>(static_cast<std::uint16_t>(r.i16()));
    if (!r.ok() || n * min_element_size > r.remaining()) {
        r.invalidate();
        return 0;
    }
    return n;
}

// Int32 length (-1 = NULL) followed by that many bytes. Other negative lengths invalidate the reader.
inline std::optional<std::string_view> value(ByteReader& r) noexcept {
    auto len = r.i32();
    if (len == -1) return std::nullopt;
    if (len < 0) {
        r.invalidate();
        return std::nullopt;
    }
    return r.bytes(static_cast<std::size_t>(len));
}

template <class T>
inline std::vector<T> int16_array(ByteReader& r) {
    auto n = count16(r, 2);
    std::vector<T> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) out.push_back(r.i16());
    return out;
}

inline std::vector<std::optional<std::string_view>> values(ByteReader& r) {
    auto n = count16(r, 4);
    std::vector<std::optional<std::string_view>> out;
    out.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) out.push_back(value(r));
    return out;
}

// Encoding more elements than an Int16 count can say is a bug in the caller, not a wire condition.
inline void put_count16(MessageWriter& w, std::size_t n, std::string_view what) {
    if (n > kMaxCount16)
        throw ProtocolException(std::string(what) + ": " + std::to_string(n) + " elements, at most 65535 fit");
    w.i16(static_cast<std::int16_t>(static_cast<std::uint16_t>(n)));
}

inline void put_value(MessageWriter& w, const std::optional<std::string_view>& v) {
    if (!v) {
        w.i32(-1);
        return;
    }
    if (v->size() > 0x7fffffffu) throw ProtocolException("value longer than an Int32 length can say");
    w.i32(static_cast<std::int32_t>(v->size()));
    w.bytes(*v);
}

template <class T>
inline void put_int16_array(MessageWriter& w, const std::vector<T>& xs, std::string_view what) {
    put_count16(w, xs.size(), what);
    for (auto x : xs) w.i16(static_cast<std::int16_t>(x));
}

inline void put_values(MessageWriter& w, const std::vector<std::optional<std::string_view>>& vs,
                       std::string_view what) {
    put_count16(w, vs.size(), what);
    for (const auto& v : vs) put_value(w, v);
}

}  // namespace sluice::protocol::wire
