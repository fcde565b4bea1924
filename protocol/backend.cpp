#include "protocol/backend.hpp"

#include <type_traits>

#include "protocol/byte_reader.hpp"
#include "protocol/message_writer.hpp"
#include "protocol/startup.hpp"
#include "protocol/wire_lists.hpp"

namespace sluice::protocol {

namespace {

ProtocolError malformed(BackendTag tag) { return fail("malformed " + std::string(name(tag)) + " message"); }

// Shortest possible RowDescription field: empty name + 18 bytes of numbers.
constexpr std::size_t kMinFieldDescriptionSize = 19;

}  // namespace

// ---- Authentication
Result<Authentication> decode_authentication(std::string_view body) {
    ByteReader r(body);
    auto code = r.i32();
    if (!r.ok()) return fail("malformed Authentication message");
    auto bare = [&](auto m) -> Result<Authentication> {
        if (!r.done()) return fail("malformed Authentication message (code " + std::to_string(code) + ")");
        return Authentication{m};
    };
    switch (code) {
    case AuthenticationOk::code: return bare(AuthenticationOk{});
    case AuthenticationKerberosV5::code: return bare(AuthenticationKerberosV5{});
    case AuthenticationCleartextPassword::code: return bare(AuthenticationCleartextPassword{});
    case AuthenticationMD5Password::code: {
        AuthenticationMD5Password m{r.bytes(4)};
        return bare(m);
    }
    case AuthenticationGSS::code: return bare(AuthenticationGSS{});
    case AuthenticationGSSContinue::code: return bare(AuthenticationGSSContinue{r.rest()});
    case AuthenticationSSPI::code: return bare(AuthenticationSSPI{});
    case AuthenticationSASL::code: {
        AuthenticationSASL m;
        for (;;) {
            auto mech = r.cstring();
            if (!r.ok() || mech.empty()) break;
            m.mechanisms.push_back(mech);
        }
        return bare(std::move(m));
    }
    case AuthenticationSASLContinue::code: return bare(AuthenticationSASLContinue{r.rest()});
    case AuthenticationSASLFinal::code: return bare(AuthenticationSASLFinal{r.rest()});
    default: return fail("unsupported authentication request code " + std::to_string(code));
    }
}

void encode_authentication(const Authentication& auth, std::string& out) {
    MessageWriter w(out);
    w.begin(BackendTag::Authentication);
    std::visit(
        [&](const auto& m) {
            using M = std::decay_t<decltype(m)>;
            w.i32(M::code);
            if constexpr (std::is_same_v<M, AuthenticationMD5Password>) {
                if (m.salt.size() != 4) throw ProtocolException("MD5 salt must be 4 bytes");
                w.bytes(m.salt);
            } else if constexpr (std::is_same_v<M, AuthenticationSASL>) {
                for (auto mech : m.mechanisms) {
                    if (mech.empty()) throw ProtocolException("empty SASL mechanism name");
                    w.cstring(mech);
                }
                w.u8(0);
            } else if constexpr (requires { m.data; }) {
                w.bytes(m.data);
            }
        },
        auth);
    w.end();
}

// ---- BackendKeyData
Result<BackendKeyData> BackendKeyData::decode(std::string_view body) {
    ByteReader r(body);
    BackendKeyData m;
    m.process_id = r.i32();
    m.secret_key = r.rest();
    if (!r.ok() || m.secret_key.empty() || m.secret_key.size() > kMaxCancelKeyLength) return malformed(tag);
    return m;
}
void BackendKeyData::encode(std::string& out) const {
    if (secret_key.empty() || secret_key.size() > kMaxCancelKeyLength)
        throw ProtocolException("cancel key must be 1 to 256 bytes");
    MessageWriter w(out);
    w.begin(tag);
    w.i32(process_id);
    w.bytes(secret_key);
    w.end();
}

// ---- ParameterStatus
Result<ParameterStatus> ParameterStatus::decode(std::string_view body) {
    ByteReader r(body);
    ParameterStatus m;
    m.name = r.cstring();
    m.value = r.cstring();
    if (!r.done()) return malformed(tag);
    return m;
}
void ParameterStatus::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(name);
    w.cstring(value);
    w.end();
}

// ---- ReadyForQuery
Result<ReadyForQuery> ReadyForQuery::decode(std::string_view body) {
    ByteReader r(body);
    auto s = static_cast<char>(r.u8());
    if (!r.done()) return malformed(tag);
    switch (static_cast<TxStatus>(s)) {
    case TxStatus::Idle:
    case TxStatus::InTransaction:
    case TxStatus::InFailedTransaction: return ReadyForQuery{static_cast<TxStatus>(s)};
    }
    return fail("invalid transaction status " + std::to_string(static_cast<unsigned char>(s)) +
                " in ReadyForQuery");
}
void ReadyForQuery::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.u8(static_cast<std::uint8_t>(status));
    w.end();
}

// ---- RowDescription
Result<RowDescription> RowDescription::decode(std::string_view body) {
    ByteReader r(body);
    RowDescription m;
    auto n = wire::count16(r, kMinFieldDescriptionSize);
    m.fields.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) {
        FieldDescription f;
        f.name = r.cstring();
        f.table_oid = r.i32();
        f.column_attribute = r.i16();
        f.type_oid = r.i32();
        f.type_size = r.i16();
        f.type_modifier = r.i32();
        f.format = r.i16();
        m.fields.push_back(f);
    }
    if (!r.done()) return malformed(tag);
    return m;
}
void RowDescription::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    wire::put_count16(w, fields.size(), "RowDescription fields");
    for (const auto& f : fields) {
        w.cstring(f.name);
        w.i32(f.table_oid);
        w.i16(f.column_attribute);
        w.i32(f.type_oid);
        w.i16(f.type_size);
        w.i32(f.type_modifier);
        w.i16(f.format);
    }
    w.end();
}

// ---- DataRow
Result<DataRow> DataRow::decode(std::string_view body) {
    ByteReader r(body);
    DataRow m{wire::values(r)};
    if (!r.done()) return malformed(tag);
    return m;
}
void DataRow::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    wire::put_values(w, values, "DataRow values");
    w.end();
}

// ---- CommandComplete
Result<CommandComplete> CommandComplete::decode(std::string_view body) {
    ByteReader r(body);
    CommandComplete m{r.cstring()};
    if (!r.done()) return malformed(tag);
    return m;
}
void CommandComplete::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.cstring(command_tag);
    w.end();
}

// ---- ParameterDescription
Result<ParameterDescription> ParameterDescription::decode(std::string_view body) {
    ByteReader r(body);
    ParameterDescription m;
    auto n = wire::count16(r, 4);
    m.types.reserve(n);
    for (std::size_t i = 0; i < n && r.ok(); ++i) m.types.push_back(r.i32());
    if (!r.done()) return malformed(tag);
    return m;
}
void ParameterDescription::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    wire::put_count16(w, types.size(), "ParameterDescription types");
    for (auto t : types) w.i32(t);
    w.end();
}

// ---- NotificationResponse
Result<NotificationResponse> NotificationResponse::decode(std::string_view body) {
    ByteReader r(body);
    NotificationResponse m;
    m.process_id = r.i32();
    m.channel = r.cstring();
    m.payload = r.cstring();
    if (!r.done()) return malformed(tag);
    return m;
}
void NotificationResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.i32(process_id);
    w.cstring(channel);
    w.cstring(payload);
    w.end();
}

// ---- CopyInResponse, CopyOutResponse, CopyBothResponse
template <BackendTag T>
Result<CopyResponse<T>> CopyResponse<T>::decode(std::string_view body) {
    ByteReader r(body);
    CopyResponse m;
    m.format = static_cast<std::int8_t>(r.u8());
    m.column_formats = wire::int16_array<std::int16_t>(r);
    if (!r.done()) return malformed(T);
    return m;
}
template <BackendTag T>
void CopyResponse<T>::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(T);
    w.u8(static_cast<std::uint8_t>(format));
    wire::put_int16_array(w, column_formats, name(T));
    w.end();
}
template struct CopyResponse<BackendTag::CopyInResponse>;
template struct CopyResponse<BackendTag::CopyOutResponse>;
template struct CopyResponse<BackendTag::CopyBothResponse>;

// ---- FunctionCallResponse
Result<FunctionCallResponse> FunctionCallResponse::decode(std::string_view body) {
    ByteReader r(body);
    FunctionCallResponse m{wire::value(r)};
    if (!r.done()) return malformed(tag);
    return m;
}
void FunctionCallResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    wire::put_value(w, result);
    w.end();
}

// ---- NegotiateProtocolVersion
Result<NegotiateProtocolVersion> NegotiateProtocolVersion::decode(std::string_view body) {
    ByteReader r(body);
    NegotiateProtocolVersion m;
    m.newest_minor_version = r.i32();
    auto n = r.i32();
    // Each option name takes at least its terminator.
    if (!r.ok() || n < 0 || static_cast<std::size_t>(n) > r.remaining()) return malformed(tag);
    m.unrecognized_options.reserve(static_cast<std::size_t>(n));
    for (std::int32_t i = 0; i < n && r.ok(); ++i) m.unrecognized_options.push_back(r.cstring());
    if (!r.done()) return malformed(tag);
    return m;
}
void NegotiateProtocolVersion::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(tag);
    w.i32(newest_minor_version);
    w.i32(static_cast<std::int32_t>(unrecognized_options.size()));
    for (auto o : unrecognized_options) w.cstring(o);
    w.end();
}

}  // namespace sluice::protocol
