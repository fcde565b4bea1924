#include "protocol/frame_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

#include "protocol/big_endian.hpp"
#include "protocol/byte_reader.hpp"

namespace sluice::protocol {

void FrameDecoder::compact() noexcept {
    // Move unconsumed bytes to the front only when that is cheap relative to what was consumed.
    if (pos_ == 0) return;
    if (pos_ == size_) {
        size_ = 0;
        pos_ = 0;
    } else if (pos_ >= size_ / 2 || pos_ > 65536) {
        std::memmove(buf_.get(), buf_.get() + pos_, size_ - pos_);
        size_ -= pos_;
        pos_ = 0;
    }
}

void FrameDecoder::reserve(std::size_t total) {
    if (total <= capacity_) return;
    if (total >= kMaxIndex) throw std::length_error("a frame buffer of 4 GiB or more");
    std::size_t grown = std::min<std::size_t>(std::max<std::size_t>(total, std::size_t{capacity_} * 2), kMaxIndex - 1);
    auto bigger = std::make_unique_for_overwrite<char[]>(grown);
    if (size_ > 0) std::memcpy(bigger.get(), buf_.get(), size_);
    buf_ = std::move(bigger);
    capacity_ = static_cast<Index>(grown);
}

void FrameDecoder::feed(std::string_view bytes) {
    // Space prepared but never committed holds no data: drop it, or it would be taken for bytes.
    commit(0);
    compact();
    reserve(std::size_t{size_} + bytes.size());
    if (!bytes.empty()) std::memcpy(buf_.get() + size_, bytes.data(), bytes.size());
    size_ += static_cast<Index>(bytes.size());
}

std::span<char> FrameDecoder::prepare(std::size_t n) {
    commit(0);
    compact();
    return prepare_compacted(n);
}

std::span<char> FrameDecoder::prepare_up_to(std::size_t at_least, std::size_t at_most) {
    commit(0);
    compact();
    std::size_t free_space = std::size_t{capacity_} - size_;
    return prepare_compacted(std::clamp(free_space, at_least, std::max(at_least, at_most)));
}

std::span<char> FrameDecoder::prepare_compacted(std::size_t n) {
    reserve(std::size_t{size_} + n);
    prepared_at_ = size_;
    size_ += static_cast<Index>(n);
    return {buf_.get() + prepared_at_, n};
}

void FrameDecoder::commit(std::size_t n) noexcept {
    if (prepared_at_ == kNotPrepared) return;
    // prepare() grew the buffer by the requested size; keep only the bytes that arrived.
    size_ = prepared_at_ + static_cast<Index>(std::min<std::size_t>(n, size_ - prepared_at_));
    prepared_at_ = kNotPrepared;
}

void FrameDecoder::clear() noexcept {
    size_ = 0;
    pos_ = 0;
    prepared_at_ = kNotPrepared;
}

void FrameDecoder::release_memory() noexcept {
    if (buffered() != 0 || prepared_at_ != kNotPrepared) return;
    buf_.reset();
    capacity_ = 0;
    size_ = 0;
    pos_ = 0;
}

Result<std::optional<Frame>> FrameDecoder::next() {
    auto avail = pending();
    if (avail.size() < 5) return std::optional<Frame>{};
    ByteReader r(avail.substr(1, 4));
    std::size_t len = static_cast<std::uint32_t>(r.i32());
    if (len < 4)
        return fail("invalid message length " + std::to_string(len) + " for message type '" +
                    std::string(1, avail[0]) + "'");
    if (len > max_message_size_)
        return fail("message of type '" + std::string(1, avail[0]) + "' is " + std::to_string(len) +
                    " bytes, above the maximum message size of " + std::to_string(max_message_size_));
    if (avail.size() < len + 1) return std::optional<Frame>{};
    Frame f{avail[0], avail.substr(5, len - 4), avail.substr(0, len + 1)};
    pos_ += static_cast<Index>(len + 1);
    return std::optional<Frame>{f};
}

std::optional<Frame> FrameDecoder::next_whole() noexcept {
    auto avail = pending();
    if (avail.size() < 5) return std::nullopt;
    const auto* b = reinterpret_cast<const unsigned char*>(avail.data());
    const std::size_t len = load_be32(b + 1);
    if (len < 4 || len > max_message_size_ || avail.size() < len + 1) return std::nullopt;
    pos_ += static_cast<Index>(len + 1);
    return Frame{avail[0], avail.substr(5, len - 4), avail.substr(0, len + 1)};
}

Result<std::optional<std::string_view>> FrameDecoder::next_untyped() {
    auto avail = pending();
    if (avail.size() < 4) return std::optional<std::string_view>{};
    ByteReader r(avail.substr(0, 4));
    std::size_t len = static_cast<std::uint32_t>(r.i32());
    if (len < 8 || len > kMaxStartupPacketLength)
        return fail("invalid startup packet length " + std::to_string(len));
    if (avail.size() < len) return std::optional<std::string_view>{};
    auto body = avail.substr(4, len - 4);
    pos_ += static_cast<Index>(len);
    return std::optional<std::string_view>{body};
}

}  // namespace sluice::protocol
