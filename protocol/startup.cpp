#include "protocol/startup.hpp"

#include <algorithm>
#include <unordered_set>

#include "protocol/byte_reader.hpp"
#include "protocol/message_writer.hpp"

namespace sluice::protocol {

std::optional<std::string_view> StartupMessage::get(std::string_view name) const noexcept {
    for (const auto& [k, v] : parameters)
        if (k == name) return std::string_view(v);
    return std::nullopt;
}

std::string_view StartupMessage::user() const noexcept { return get("user").value_or(std::string_view{}); }

std::string_view StartupMessage::database() const noexcept {
    auto db = get("database");
    return db && !db->empty() ? *db : user();
}

void StartupMessage::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin_untyped();
    w.i32(version.code());
    for (const auto& [k, v] : parameters) {
        w.cstring(k);
        w.cstring(v);
    }
    w.u8(0);
    w.end();
}

void SslRequest::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin_untyped();
    w.i32(kSslRequestCode);
    w.end();
}

void GssEncRequest::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin_untyped();
    w.i32(kGssEncRequestCode);
    w.end();
}

void CancelRequest::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin_untyped();
    w.i32(kCancelRequestCode);
    w.i32(process_id);
    w.bytes(secret_key);
    w.end();
}

Result<StartupPacket> decode_startup_packet(std::string_view body) {
    ByteReader r(body);
    auto code = r.i32();
    if (!r.ok()) return fail("startup packet too short");
    if (code == kSslRequestCode) {
        if (!r.at_end()) return fail("malformed SSLRequest");
        return StartupPacket{SslRequest{}};
    }
    if (code == kGssEncRequestCode) {
        if (!r.at_end()) return fail("malformed GSSENCRequest");
        return StartupPacket{GssEncRequest{}};
    }
    if (code == kCancelRequestCode) {
        CancelRequest c;
        c.process_id = r.i32();
        c.secret_key = std::string(r.rest());
        if (!r.ok() || c.secret_key.empty() || c.secret_key.size() > kMaxCancelKeyLength)
            return fail("malformed CancelRequest");
        return StartupPacket{std::move(c)};
    }
    StartupMessage m;
    m.version = {static_cast<std::uint16_t>(static_cast<std::uint32_t>(code) >> 16),
                 static_cast<std::uint16_t>(code & 0xffff)};
    if (m.version.major != 3)
        return fail("unsupported frontend protocol " + std::to_string(m.version.major) + "." +
                    std::to_string(m.version.minor) + ": server supports 3.0 to 3.2");
    // A set, not a scan of `parameters`: a 10000-byte packet can hold thousands of names.
    std::unordered_set<std::string_view> seen;
    for (;;) {
        auto name = r.cstring();
        if (!r.ok()) return fail("startup packet parameters are not terminated");
        if (name.empty()) break;
        auto value = r.cstring();
        if (!r.ok()) return fail("startup packet parameter \"" + std::string(name) + "\" has no value");
        if (!seen.insert(name).second) return fail("startup packet repeats parameter \"" + std::string(name) + "\"");
        m.parameters.emplace_back(name, value);
    }
    if (!r.at_end()) return fail("startup packet has data after its terminator");
    if (m.user().empty()) return fail("no PostgreSQL user name specified in startup packet");
    return StartupPacket{std::move(m)};
}

VersionNegotiation negotiate_version(const StartupMessage& startup, ProtocolVersion highest_supported) {
    VersionNegotiation n;
    n.use = std::min(startup.version, highest_supported);
    for (const auto& [k, v] : startup.parameters)
        if (k.starts_with("_pq_.")) n.unsupported_options.push_back(k);
    n.send_negotiate = startup.version > highest_supported || !n.unsupported_options.empty();
    return n;
}

}  // namespace sluice::protocol
