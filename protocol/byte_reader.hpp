#pragma once
// Bounds-checked cursor over a message body. Failure is sticky: after the first short read every
// read returns a zero value, and the caller checks ok() once at the end (PgBouncer's MBuf idea).
#include <cstdint>
#include <cstring>
#include <string_view>

#include "protocol/big_endian.hpp"

namespace sluice::protocol {

class ByteReader {
public:
    explicit ByteReader(std::string_view data) noexcept : data_(data) {}

    std::uint8_t u8() noexcept {
        if (!need(1)) return 0;
        return static_cast<std::uint8_t>(data_[pos_++]);
    }
    std::int16_t i16() noexcept {
        if (!need(2)) return 0;
        auto v = static_cast<std::uint16_t>((byte(0) << 8) | byte(1));
        pos_ += 2;
        return static_cast<std::int16_t>(v);
    }
    std::int32_t i32() noexcept {
        if (!need(4)) return 0;
        const std::uint32_t v = load_be32(data_.data() + pos_);
        pos_ += 4;
        return static_cast<std::int32_t>(v);
    }
    // A NUL-terminated string; the view excludes the terminator.
    std::string_view cstring() noexcept {
        if (!ok_) return {};
        auto end = data_.find('\0', pos_);
        if (end == std::string_view::npos) {
            ok_ = false;
            return {};
        }
        auto s = data_.substr(pos_, end - pos_);
        pos_ = end + 1;
        return s;
    }
    std::string_view bytes(std::size_t n) noexcept {
        if (!need(n)) return {};
        auto s = data_.substr(pos_, n);
        pos_ += n;
        return s;
    }
    // Everything not yet read.
    std::string_view rest() noexcept {
        auto s = data_.substr(pos_);
        pos_ = data_.size();
        return s;
    }

    [[nodiscard]] bool ok() const noexcept { return ok_; }
    [[nodiscard]] std::size_t remaining() const noexcept { return ok_ ? data_.size() - pos_ : 0; }
    [[nodiscard]] bool at_end() const noexcept { return ok_ && pos_ == data_.size(); }
    // ok() and nothing left over: what every whole-message decoder requires.
    [[nodiscard]] bool done() const noexcept { return at_end(); }
    void invalidate() noexcept { ok_ = false; }

private:
    bool need(std::size_t n) noexcept {
        if (!ok_ || data_.size() - pos_ < n) {
            ok_ = false;
            return false;
        }
        return true;
    }
    std::uint8_t byte(std::size_t off) const noexcept { return static_cast<std::uint8_t>(data_[pos_ + off]); }

    std::string_view data_;
    std::size_t pos_ = 0;
    bool ok_ = true;
};

}  // namespace sluice::protocol
