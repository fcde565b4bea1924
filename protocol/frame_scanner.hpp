#pragma once
// Walks a message stream chunk by chunk without buffering it: the proxy forwards each chunk as
// it arrived and only learns where messages start and end. Messages whose tag the caller asked
// to inspect are collected whole (even when split across chunks) and handed to a callback;
// everything else (DataRow, CopyData) is skipped by length and never copied.
#include <algorithm>
#include <array>
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "protocol/big_endian.hpp"
#include "protocol/result.hpp"

namespace sluice::protocol {

class FrameScanner {
public:
    // max_inspected_size bounds what an inspected message may be (the rest stream through).
    FrameScanner(std::bitset<256> inspect, std::size_t max_inspected_size) noexcept
        : inspect_(inspect), max_inspected_size_(max_inspected_size) {}

    // on_message(char tag, std::string_view body, std::size_t end) is called for each complete
    // inspected message; `end` is the offset in `chunk` just past it. Returning false stops the
    // scan there: scan() then returns that offset and the rest of the chunk is not consumed.
    // Otherwise scan() returns chunk.size(). Errors (length < 4, an inspected message above the
    // maximum) are final: the stream cannot be followed any further, and later scans repeat them.
    template <class OnMessage>
    Result<std::size_t> scan(std::string_view chunk, OnMessage&& on_message);

    // True between messages (no partial header or body pending).
    [[nodiscard]] bool at_boundary() const noexcept { return header_len_ == 0 && body_left_ == 0; }
    // The message the last chunk ended inside: its tag (0 at a boundary) and how many of its
    // bytes the chunks so far held.
    [[nodiscard]] char partial_tag() const noexcept { return header_len_ > 0 ? header_[0] : '\0'; }
    [[nodiscard]] std::size_t partial_bytes() const noexcept {
        if (header_len_ < 5) return header_len_;
        return 1 + std::size_t{load_be32(header_.data() + 1)} - body_left_;
    }
    void reset() noexcept {
        header_len_ = 0;
        body_left_ = 0;
        collecting_ = false;
        body_.clear();
        error_.clear();
    }

private:
    std::bitset<256> inspect_;
    std::size_t max_inspected_size_;
    std::array<char, 5> header_{};
    std::size_t header_len_ = 0;   // header bytes seen of the current message
    std::uint32_t body_left_ = 0;  // body bytes still to come
    bool collecting_ = false;
    std::string body_;
    std::string error_;  // non-empty once the stream is broken
};

template <class OnMessage>
Result<std::size_t> FrameScanner::scan(std::string_view chunk, OnMessage&& on_message) {
    if (!error_.empty()) return fail(error_);
    std::size_t pos = 0;
    // The second condition finishes a body-less message whose header ended the chunk.
    while (pos < chunk.size() || (header_len_ == 5 && body_left_ == 0)) {
        // The usual case, at a boundary: whole messages straight from the chunk, the state in
        // locals (a member would be stored and read again around every callback). A message the
        // chunk ends inside goes to the general steps below.
        if (header_len_ == 0 && body_left_ == 0) {
            const auto* bytes = reinterpret_cast<const unsigned char*>(chunk.data());
            bool stopped = false;
            while (chunk.size() - pos >= 5) {
                const std::uint32_t len = load_be32(bytes + pos + 1);
                const char tag = chunk[pos];
                const bool inspect = inspect_.test(bytes[pos]);
                if (len < 4 || (inspect && len - 4 > max_inspected_size_) || len - 4 > chunk.size() - pos - 5) break;
                const std::size_t end = pos + 1 + len;
                if (inspect && !on_message(tag, chunk.substr(pos + 5, len - 4), end)) {
                    stopped = true;
                    pos = end;
                    break;
                }
                pos = end;
            }
            if (stopped) return pos;
            if (pos == chunk.size()) break;
        }
        if (body_left_ == 0 && header_len_ < 5) {
            if (header_len_ == 0 && chunk.size() - pos >= 5) {  // the usual case: a whole header
                std::memcpy(header_.data(), chunk.data() + pos, 5);
                header_len_ = 5;
                pos += 5;
            } else {
                std::size_t take = std::min<std::size_t>(5 - header_len_, chunk.size() - pos);
                for (std::size_t i = 0; i < take; ++i) header_[header_len_++] = chunk[pos++];
                if (header_len_ < 5) break;
            }
            std::uint32_t len = load_be32(header_.data() + 1);
            if (len < 4) {
                error_ = "invalid message length " + std::to_string(len) + " for message type '" +
                         std::string(1, header_[0]) + "'";
                return fail(error_);
            }
            collecting_ = inspect_.test(static_cast<unsigned char>(header_[0]));
            if (collecting_ && len - 4 > max_inspected_size_) {
                error_ = "message of type '" + std::string(1, header_[0]) + "' is " + std::to_string(len) +
                         " bytes, above the maximum of " + std::to_string(max_inspected_size_);
                return fail(error_);
            }
            body_left_ = len - 4;
            body_.clear();
        }
        std::size_t take = std::min<std::size_t>(body_left_, chunk.size() - pos);
        if (collecting_) {
            // Hand out a view straight into the chunk when the body is entirely inside it.
            if (body_.empty() && take == body_left_) {
                std::string_view body(chunk.data() + pos, take);
                pos += take;
                body_left_ = 0;
                header_len_ = 0;
                collecting_ = false;
                if (!on_message(header_[0], body, pos)) return pos;
                continue;
            }
            body_.append(chunk.substr(pos, take));
        }
        pos += take;
        body_left_ -= static_cast<std::uint32_t>(take);
        if (body_left_ == 0) {
            header_len_ = 0;
            if (collecting_) {
                collecting_ = false;
                if (!on_message(header_[0], std::string_view(body_), pos)) return pos;
            }
        }
    }
    return pos;
}

}  // namespace sluice::protocol
