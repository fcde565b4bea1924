#include "protocol/message_writer.hpp"

#include <cassert>

namespace sluice::protocol {

void MessageWriter::begin_tagged(char tag) {
    out_.push_back(tag);
    begin_untyped();
}

void MessageWriter::begin_untyped() {
    length_at_ = out_.size();
    out_.append(4, '\0');
}

void MessageWriter::end() {
    assert(length_at_ != std::string::npos);
    auto len = static_cast<std::uint32_t>(out_.size() - length_at_);
    out_[length_at_ + 0] = static_cast<char>((len >> 24) & 0xff);
    out_[length_at_ + 1] = static_cast<char>((len >> 16) & 0xff);
    out_[length_at_ + 2] = static_cast<char>((len >> 8) & 0xff);
    out_[length_at_ + 3] = static_cast<char>(len & 0xff);
    length_at_ = std::string::npos;
}

void MessageWriter::i16(std::int16_t v) {
    auto u = static_cast<std::uint16_t>(v);
    out_.push_back(static_cast<char>(u >> 8));
    out_.push_back(static_cast<char>(u & 0xff));
}

void MessageWriter::i32(std::int32_t v) {
    auto u = static_cast<std::uint32_t>(v);
    out_.push_back(static_cast<char>(u >> 24));
    out_.push_back(static_cast<char>((u >> 16) & 0xff));
    out_.push_back(static_cast<char>((u >> 8) & 0xff));
    out_.push_back(static_cast<char>(u & 0xff));
}

void MessageWriter::cstring(std::string_view s) {
    // An embedded NUL would end the string early and make the peer read the rest as other fields;
    // send only what a receiver would see.
    s = s.substr(0, s.find('\0'));
    out_.append(s);
    out_.push_back('\0');
}

}  // namespace sluice::protocol
