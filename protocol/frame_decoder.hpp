#pragma once
// Incremental framing of a PostgreSQL byte stream that arrives in arbitrary pieces.
// Typed frames are Byte1 tag + Int32 length (counting itself) + body; startup-phase packets
// (StartupMessage, SSLRequest, GSSENCRequest, CancelRequest) have no tag byte.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace sluice::protocol {

// A complete message. `body` excludes tag and length and stays valid until the next call on the
// decoder that produced it.
struct Frame {
    char tag;
    std::string_view body;
    // The whole message as it was on the wire (tag, length, body), for pass-through forwarding.
    std::string_view wire;
};

// Like PostgreSQL's own limit for startup packets (MAX_STARTUP_PACKET_LENGTH).
inline constexpr std::size_t kMaxStartupPacketLength = 10000;
// Like PostgreSQL's limit for a message before authentication completes (password and SASL
// messages: PG_MAX_AUTH_TOKEN_LENGTH), on the length word as pq_getmessage() checks it. An
// unauthenticated client must not make the pooler buffer more than this.
inline constexpr std::size_t kMaxAuthMessageLength = 65535;

class FrameDecoder {
public:
    explicit FrameDecoder(std::size_t max_message_size = 1u << 30) noexcept
        : max_message_size_(clamp32(max_message_size)) {}

    void set_max_message_size(std::size_t n) noexcept { max_message_size_ = clamp32(n); }

    // Append bytes that arrived.
    void feed(std::string_view bytes);
    // Zero-copy alternative to feed(): read straight into prepare(n), then commit what arrived
    // (at most n; the rest of the prepared space is dropped). Frames returned earlier become invalid.
    std::span<char> prepare(std::size_t n);
    // Like prepare(), but hands out all free space already allocated when that is more than
    // `at_least` (up to `at_most`), so a buffer grown by a big message is reused, not regrown.
    std::span<char> prepare_up_to(std::size_t at_least, std::size_t at_most);
    void commit(std::size_t n) noexcept;
    // Frees the buffer when nothing is buffered (an idle connection should not pin a buffer sized
    // for the largest message it ever sent).
    void release_memory() noexcept;
    [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

    // The next complete typed message, nullopt when more bytes are needed, or an error when the
    // length is impossible (< 4) or above the maximum message size. Errors are final.
    Result<std::optional<Frame>> next();
    // next() for a loop that has seen the message is whole (the client session's): the message
    // when it is whole and its length valid, taken; nullopt otherwise, and nothing is taken
    // (next() then says whether more bytes are needed or the stream is broken). No Result to make
    // and destroy per message.
    std::optional<Frame> next_whole() noexcept;
    // The next complete startup-phase packet body (after its length), same conventions;
    // lengths outside [8, kMaxStartupPacketLength] are errors.
    Result<std::optional<std::string_view>> next_untyped();

    // Bytes received (committed) but not yet returned as frames.
    [[nodiscard]] std::size_t buffered() const noexcept { return data_end() - pos_; }
    [[nodiscard]] std::string_view pending() const noexcept {
        return std::string_view(buf_.get() + pos_, data_end() - pos_);
    }
    // Drop everything buffered and consumed (the stream is abandoned or restarted).
    void clear() noexcept;

private:
    // Positions are 32-bit (a message is at most 1 GiB, PostgreSQL's own limit): an idle client's
    // decoder is part of what it costs, thousands of times over.
    using Index = std::uint32_t;
    static constexpr Index kMaxIndex = std::numeric_limits<Index>::max();
    static constexpr Index kNotPrepared = kMaxIndex;  // a position no buffer reaches (reserve() stays below it)
    static constexpr Index clamp32(std::size_t n) noexcept { return n < kMaxIndex ? static_cast<Index>(n) : kMaxIndex; }

    void compact() noexcept;
    // prepare() once commit(0) and compact() have run.
    std::span<char> prepare_compacted(std::size_t n);
    void reserve(std::size_t total);
    // End of the received bytes: space handed out by prepare() is not data until committed.
    [[nodiscard]] std::size_t data_end() const noexcept { return prepared_at_ == kNotPrepared ? size_ : prepared_at_; }

    // Not a std::string: growing one zero-fills the space every read would then overwrite.
    std::unique_ptr<char[]> buf_;
    Index size_ = 0;  // bytes in use (received, plus prepared space)
    Index capacity_ = 0;
    Index pos_ = 0;
    // Where prepare() put its space, which runs to size_; kNotPrepared when nothing is prepared.
    Index prepared_at_ = kNotPrepared;
    Index max_message_size_;
};

}  // namespace sluice::protocol
