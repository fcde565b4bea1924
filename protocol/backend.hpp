#pragma once
// Backend (server -> client) messages: typed views and builders, same conventions as frontend.hpp.
// ErrorResponse and NoticeResponse live in error_fields.hpp.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocol/frontend.hpp"
#include "protocol/result.hpp"
#include "protocol/tags.hpp"

namespace sluice::protocol {

// ---- Authentication ('R'): one message type, told apart by its Int32 code.
struct AuthenticationOk {
    static constexpr std::int32_t code = 0;
    friend bool operator==(const AuthenticationOk&, const AuthenticationOk&) = default;
};
struct AuthenticationKerberosV5 {
    static constexpr std::int32_t code = 2;
    friend bool operator==(const AuthenticationKerberosV5&, const AuthenticationKerberosV5&) = default;
};
struct AuthenticationCleartextPassword {
    static constexpr std::int32_t code = 3;
    friend bool operator==(const AuthenticationCleartextPassword&, const AuthenticationCleartextPassword&) = default;
};
struct AuthenticationMD5Password {
    static constexpr std::int32_t code = 5;
    std::string_view salt;  // 4 bytes
    friend bool operator==(const AuthenticationMD5Password&, const AuthenticationMD5Password&) = default;
};
struct AuthenticationGSS {
    static constexpr std::int32_t code = 7;
    friend bool operator==(const AuthenticationGSS&, const AuthenticationGSS&) = default;
};
struct AuthenticationGSSContinue {
    static constexpr std::int32_t code = 8;
    std::string_view data;
    friend bool operator==(const AuthenticationGSSContinue&, const AuthenticationGSSContinue&) = default;
};
struct AuthenticationSSPI {
    static constexpr std::int32_t code = 9;
    friend bool operator==(const AuthenticationSSPI&, const AuthenticationSSPI&) = default;
};
struct AuthenticationSASL {
    static constexpr std::int32_t code = 10;
    std::vector<std::string_view> mechanisms;
    friend bool operator==(const AuthenticationSASL&, const AuthenticationSASL&) = default;
};
struct AuthenticationSASLContinue {
    static constexpr std::int32_t code = 11;
    std::string_view data;
    friend bool operator==(const AuthenticationSASLContinue&, const AuthenticationSASLContinue&) = default;
};
struct AuthenticationSASLFinal {
    static constexpr std::int32_t code = 12;
    std::string_view data;
    friend bool operator==(const AuthenticationSASLFinal&, const AuthenticationSASLFinal&) = default;
};

using Authentication =
    std::variant<AuthenticationOk, AuthenticationKerberosV5, AuthenticationCleartextPassword,
                 AuthenticationMD5Password, AuthenticationGSS, AuthenticationGSSContinue, AuthenticationSSPI,
                 AuthenticationSASL, AuthenticationSASLContinue, AuthenticationSASLFinal>;

Result<Authentication> decode_authentication(std::string_view body);
void encode_authentication(const Authentication& auth, std::string& out);

// ---- Everything else.
struct BackendKeyData {
    static constexpr BackendTag tag = BackendTag::BackendKeyData;
    std::int32_t process_id = 0;
    std::string_view secret_key;  // 4 bytes in protocol 3.0, up to 256 in 3.2
    static Result<BackendKeyData> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const BackendKeyData&, const BackendKeyData&) = default;
};

struct ParameterStatus {
    static constexpr BackendTag tag = BackendTag::ParameterStatus;
    std::string_view name;
    std::string_view value;
    static Result<ParameterStatus> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const ParameterStatus&, const ParameterStatus&) = default;
};

struct ReadyForQuery {
    static constexpr BackendTag tag = BackendTag::ReadyForQuery;
    TxStatus status = TxStatus::Idle;
    static Result<ReadyForQuery> decode(std::string_view body);  // rejects status bytes other than I/T/E
    void encode(std::string& out) const;
    friend bool operator==(const ReadyForQuery&, const ReadyForQuery&) = default;
};

struct FieldDescription {
    std::string_view name;
    std::int32_t table_oid = 0;
    std::int16_t column_attribute = 0;
    std::int32_t type_oid = 0;
    std::int16_t type_size = 0;
    std::int32_t type_modifier = 0;
    std::int16_t format = 0;
    friend bool operator==(const FieldDescription&, const FieldDescription&) = default;
};

struct RowDescription {
    static constexpr BackendTag tag = BackendTag::RowDescription;
    std::vector<FieldDescription> fields;
    static Result<RowDescription> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const RowDescription&, const RowDescription&) = default;
};

struct DataRow {
    static constexpr BackendTag tag = BackendTag::DataRow;
    std::vector<Value> values;
    static Result<DataRow> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const DataRow&, const DataRow&) = default;
};

struct CommandComplete {
    static constexpr BackendTag tag = BackendTag::CommandComplete;
    std::string_view command_tag;  // "SELECT 1", "INSERT 0 5", ...
    static Result<CommandComplete> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const CommandComplete&, const CommandComplete&) = default;
};

// Body-less messages.
template <BackendTag T>
struct EmptyBackendMessage {
    static constexpr BackendTag tag = T;
    static Result<EmptyBackendMessage> decode(std::string_view body) {
        if (!body.empty()) return fail(std::string(name(T)) + " has a non-empty body");
        return EmptyBackendMessage{};
    }
    void encode(std::string& out) const {
        out.push_back(static_cast<char>(T));
        out.append("\0\0\0\4", 4);
    }
    friend bool operator==(const EmptyBackendMessage&, const EmptyBackendMessage&) = default;
};
using EmptyQueryResponse = EmptyBackendMessage<BackendTag::EmptyQueryResponse>;
using ParseComplete = EmptyBackendMessage<BackendTag::ParseComplete>;
using BindComplete = EmptyBackendMessage<BackendTag::BindComplete>;
using CloseComplete = EmptyBackendMessage<BackendTag::CloseComplete>;
using NoData = EmptyBackendMessage<BackendTag::NoData>;
using PortalSuspended = EmptyBackendMessage<BackendTag::PortalSuspended>;

struct ParameterDescription {
    static constexpr BackendTag tag = BackendTag::ParameterDescription;
    std::vector<std::int32_t> types;
    static Result<ParameterDescription> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const ParameterDescription&, const ParameterDescription&) = default;
};

struct NotificationResponse {
    static constexpr BackendTag tag = BackendTag::NotificationResponse;
    std::int32_t process_id = 0;
    std::string_view channel;
    std::string_view payload;
    static Result<NotificationResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const NotificationResponse&, const NotificationResponse&) = default;
};

// CopyInResponse, CopyOutResponse and CopyBothResponse share a layout.
template <BackendTag T>
struct CopyResponse {
    static constexpr BackendTag tag = T;
    std::int8_t format = 0;  // 0 text, 1 binary
    std::vector<std::int16_t> column_formats;
    static Result<CopyResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const CopyResponse&, const CopyResponse&) = default;
};
using CopyInResponse = CopyResponse<BackendTag::CopyInResponse>;
using CopyOutResponse = CopyResponse<BackendTag::CopyOutResponse>;
using CopyBothResponse = CopyResponse<BackendTag::CopyBothResponse>;

struct FunctionCallResponse {
    static constexpr BackendTag tag = BackendTag::FunctionCallResponse;
    Value result;
    static Result<FunctionCallResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const FunctionCallResponse&, const FunctionCallResponse&) = default;
};

struct NegotiateProtocolVersion {
    static constexpr BackendTag tag = BackendTag::NegotiateProtocolVersion;
    std::int32_t newest_minor_version = 0;
    std::vector<std::string_view> unrecognized_options;
    static Result<NegotiateProtocolVersion> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const NegotiateProtocolVersion&, const NegotiateProtocolVersion&) = default;
};

}  // namespace sluice::protocol
