#pragma once
// Appends protocol messages to a byte string. begin()/end() back-patch the Int32 length, so
// builders read like the protocol docs: w.begin(BackendTag::ReadyForQuery); w.u8('I'); w.end();
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/tags.hpp"

namespace sluice::protocol {

class MessageWriter {
public:
    explicit MessageWriter(std::string& out) noexcept : out_(out) {}

    void begin(FrontendTag tag) { begin_tagged(static_cast<char>(tag)); }
    void begin(BackendTag tag) { begin_tagged(static_cast<char>(tag)); }
    // Startup-phase packets (StartupMessage, SSLRequest, CancelRequest...) have no tag byte.
    void begin_untyped();
    void end();

    void u8(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
    void i16(std::int16_t v);
    void i32(std::int32_t v);
    void cstring(std::string_view s);
    void bytes(std::string_view s) { out_.append(s); }

private:
    void begin_tagged(char tag);

    std::string& out_;
    std::size_t length_at_ = std::string::npos;
};

}  // namespace sluice::protocol
