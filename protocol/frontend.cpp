#include "protocol/frontend.hpp"

#include "protocol/byte_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/wire_lists.hpp"

namespace sluice::protocol {

namespace {

// The one error every decoder returns for a body that does not match its layout.
ProtocolError malformed(FrontendTag tag) { return fail("malformed " + std::string(name(tag)) + " message"); }

Result<ObjectKind> object_kind(std::uint8_t b) {
    if (b == static_cast<std::uint8_t>(ObjectKind::Statement)) return ObjectKind::Statement;
    if (b == static_cast<std::uint8_t>(ObjectKind::Portal)) return ObjectKind::Portal;
    return fail("invalid object kind " + std::to_string(b) + " (expected 'S' or 'P')");
}

void encode_empty(std::string& out, char tag) {
    out.push_back(tag);
    out.append("\0\0\0\4", 4);
}

}  // namespace

// ---- Query
Result<Query> Query::decode(std::string_view body) {
    ByteReader r(body);
    Query m{r.cstring()};
    if (!r.done()) return malformed(tag);
    return m;
}
void Query::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(sql);
    w.end();
}

// ---- Parse
Result<Parse> Parse::decode(std::string_view body) {
    ByteReader r(body);
    Parse m;
    m.statement = r.cstring();
    m.query = r.cstring();
    auto n = wire::count16(r, 4);
    m.parameter_types.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) m.parameter_types.push_back(r.i32());
    if (!r.done()) return malformed(tag);
    return m;
}
void Parse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(statement);
    w.cstring(query);
    wire::put_count16(w, parameter_types.size(), "Parse parameter types");
    for (auto t : parameter_types) w.i32(t);
    w.end();
}

// ---- Bind
Result<Bind> Bind::decode(std::string_view body) {
    ByteReader r(body);
    Bind m;
    m.portal = r.cstring();
    m.statement = r.cstring();
    m.parameter_formats = wire::int16_array<std::int16_t>(r);
    m.parameters = wire::values(r);
    m.result_formats = wire::int16_array<std::int16_t>(r);
    if (!r.done()) return malformed(tag);
    // PostgreSQL answers the same mismatch with a protocol violation; a guard cannot tell which
    // format applies to which parameter otherwise.
    auto nf = m.parameter_formats.size();
    if (nf > 1 && nf != m.parameters.size())
        return fail("Bind message has " + std::to_string(nf) + " parameter formats but " +
                    std::to_string(m.parameters.size()) + " parameters");
    return m;
}
void Bind::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(portal);
    w.cstring(statement);
    wire::put_int16_array(w, parameter_formats, "Bind parameter formats");
    wire::put_values(w, parameters, "Bind parameters");
    wire::put_int16_array(w, result_formats, "Bind result formats");
    w.end();
}

// ---- Describe and Close: the same layout (Byte1 'S'/'P', String name)
template <class Message>
Result<Message> decode_kind_and_name(std::string_view body) {
    ByteReader r(body);
    auto kind = r.u8();
    auto obj_name = r.cstring();
    if (!r.done()) return malformed(Message::tag);
    auto k = object_kind(kind);
    if (!k) return k.error();
    return Message{*k, obj_name};
}
template <class Message>
void encode_kind_and_name(const Message& m, std::string& out) {
    MessageWriter w(out);
    w.begin(Message::tag);
    w.u8(static_cast<std::uint8_t>(m.kind));
    w.cstring(m.name);
    w.end();
}

Result<Describe> Describe::decode(std::string_view body) { return decode_kind_and_name<Describe>(body); }
void Describe::encode(std::string& out) const { encode_kind_and_name(*this, out); }
Result<Close> Close::decode(std::string_view body) { return decode_kind_and_name<Close>(body); }
void Close::encode(std::string& out) const { encode_kind_and_name(*this, out); }

// ---- Execute
Result<Execute> Execute::decode(std::string_view body) {
    ByteReader r(body);
    Execute m;
    m.portal = r.cstring();
    m.max_rows = r.i32();
    if (!r.done()) return malformed(tag);
    return m;
}
void Execute::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(portal);
    w.i32(max_rows);
    w.end();
}

// ---- Sync, Flush, Terminate
Result<Sync> Sync::decode(std::string_view body) {
    if (!body.empty()) return malformed(tag);
    return Sync{};
}
void Sync::encode(std::string& out) const { encode_empty(out, static_cast<char>(tag)); }

Result<Flush> Flush::decode(std::string_view body) {
    if (!body.empty()) return malformed(tag);
    return Flush{};
}
void Flush::encode(std::string& out) const { encode_empty(out, static_cast<char>(tag)); }

Result<Terminate> Terminate::decode(std::string_view body) {
    if (!body.empty()) return malformed(tag);
    return Terminate{};
}
void Terminate::encode(std::string& out) const { encode_empty(out, static_cast<char>(tag)); }

// ---- FunctionCall
Result<FunctionCall> FunctionCall::decode(std::string_view body) {
    ByteReader r(body);
    FunctionCall m;
    m.function_oid = r.i32();
    m.argument_formats = wire::int16_array<std::int16_t>(r);
    m.arguments = wire::values(r);
    m.result_format = r.i16();
    if (!r.done()) return malformed(tag);
    auto nf = m.argument_formats.size();
    if (nf > 1 && nf != m.arguments.size())
        return fail("FunctionCall message has " + std::to_string(nf) + " argument formats but " +
                    std::to_string(m.arguments.size()) + " arguments");
    return m;
}
void FunctionCall::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.i32(function_oid);
    wire::put_int16_array(w, argument_formats, "FunctionCall argument formats");
    wire::put_values(w, arguments, "FunctionCall arguments");
    w.i16(result_format);
    w.end();
}

// ---- CopyData, CopyDone (both directions)
Result<CopyData> CopyData::decode(std::string_view body) { return CopyData{body}; }
void CopyData::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.bytes(data);
    w.end();
}
void CopyData::encode_backend(std::string& out) const {
    MessageWriter w(out);
    w.begin(BackendTag::CopyData);
    w.bytes(data);
    w.end();
}

Result<CopyDone> CopyDone::decode(std::string_view body) {
    if (!body.empty()) return malformed(tag);
    return CopyDone{};
}
void CopyDone::encode(std::string& out) const { encode_empty(out, static_cast<char>(tag)); }
void CopyDone::encode_backend(std::string& out) const {
    encode_empty(out, static_cast<char>(BackendTag::CopyDone));
}

// ---- CopyFail
Result<CopyFail> CopyFail::decode(std::string_view body) {
    ByteReader r(body);
    CopyFail m{r.cstring()};
    if (!r.done()) return malformed(tag);
    return m;
}
void CopyFail::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(message);
    w.end();
}

// ---- 'p' messages
Result<PasswordMessage> PasswordMessage::decode(std::string_view body) {
    ByteReader r(body);
    PasswordMessage m{r.cstring()};
    if (!r.done()) return fail("malformed PasswordMessage");
    return m;
}
void PasswordMessage::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(password);
    w.end();
}

Result<SASLInitialResponse> SASLInitialResponse::decode(std::string_view body) {
    ByteReader r(body);
    SASLInitialResponse m;
    m.mechanism = r.cstring();
    m.data = wire::value(r);
    if (!r.done()) return fail("malformed SASLInitialResponse");
    return m;
}
void SASLInitialResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(mechanism);
    wire::put_value(w, data);
    w.end();
}

Result<SASLResponse> SASLResponse::decode(std::string_view body) { return SASLResponse{body}; }
void SASLResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.bytes(data);
    w.end();
}

}  // namespace sluice::protocol
