#pragma once
// Frontend (client -> server) messages: typed views over a message body and their builders.
// Views: string_view members point into the decoded body and live as long as it does.
// Each message: `static constexpr tag`, `static Result<T> decode(body)` (rejects truncated bodies
// and trailing bytes) and `void encode(std::string& out) const` (appends the framed message).
// Anything that decodes re-encodes to exactly the same bytes (the fuzz targets check this).
// Int16 counts are unsigned, as PostgreSQL reads them (up to 65535 Bind parameters); a count whose
// elements cannot fit in the body is rejected before anything is allocated (protocol/wire_lists.hpp).
// encode() throws ProtocolException for values the wire cannot carry (more than 65535 elements,
// an MD5 salt that is not 4 bytes, a cancel key outside 1..256 bytes); strings stop at an embedded NUL.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/result.hpp"
#include "protocol/tags.hpp"

namespace sluice::protocol {

using Value = std::optional<std::string_view>;  // a parameter or column value; nullopt is SQL NULL

struct Query {
    static constexpr FrontendTag tag = FrontendTag::Query;
    std::string_view sql;
    static Result<Query> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Query&, const Query&) = default;
};

struct Parse {
    static constexpr FrontendTag tag = FrontendTag::Parse;
    std::string_view statement;  // "" = unnamed
    std::string_view query;
    std::vector<std::int32_t> parameter_types;
    static Result<Parse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Parse&, const Parse&) = default;
};

struct Bind {
    static constexpr FrontendTag tag = FrontendTag::Bind;
    std::string_view portal;
    std::string_view statement;
    std::vector<std::int16_t> parameter_formats;
    std::vector<Value> parameters;
    std::vector<std::int16_t> result_formats;
    static Result<Bind> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Bind&, const Bind&) = default;
};

// Describe and Close name either a prepared statement or a portal.
enum class ObjectKind : char { Statement = 'S', Portal = 'P' };

struct Describe {
    static constexpr FrontendTag tag = FrontendTag::Describe;
    ObjectKind kind = ObjectKind::Statement;
    std::string_view name;
    static Result<Describe> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Describe&, const Describe&) = default;
};

struct Execute {
    static constexpr FrontendTag tag = FrontendTag::Execute;
    std::string_view portal;
    std::int32_t max_rows = 0;  // 0 = no limit
    static Result<Execute> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Execute&, const Execute&) = default;
};

struct Close {
    static constexpr FrontendTag tag = FrontendTag::Close;
    ObjectKind kind = ObjectKind::Statement;
    std::string_view name;
    static Result<Close> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Close&, const Close&) = default;
};

struct Sync {
    static constexpr FrontendTag tag = FrontendTag::Sync;
    static Result<Sync> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Sync&, const Sync&) = default;
};

struct Flush {
    static constexpr FrontendTag tag = FrontendTag::Flush;
    static Result<Flush> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Flush&, const Flush&) = default;
};

struct Terminate {
    static constexpr FrontendTag tag = FrontendTag::Terminate;
    static Result<Terminate> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const Terminate&, const Terminate&) = default;
};

struct FunctionCall {
    static constexpr FrontendTag tag = FrontendTag::FunctionCall;
    std::int32_t function_oid = 0;
    std::vector<std::int16_t> argument_formats;
    std::vector<Value> arguments;
    std::int16_t result_format = 0;
    static Result<FunctionCall> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const FunctionCall&, const FunctionCall&) = default;
};

// CopyData and CopyDone are the same in both directions ('d', 'c').
struct CopyData {
    static constexpr FrontendTag tag = FrontendTag::CopyData;
    std::string_view data;
    static Result<CopyData> decode(std::string_view body);
    void encode(std::string& out) const;             // as sent by a client
    void encode_backend(std::string& out) const;     // as sent by a server
    friend bool operator==(const CopyData&, const CopyData&) = default;
};

struct CopyDone {
    static constexpr FrontendTag tag = FrontendTag::CopyDone;
    static Result<CopyDone> decode(std::string_view body);
    void encode(std::string& out) const;
    void encode_backend(std::string& out) const;
    friend bool operator==(const CopyDone&, const CopyDone&) = default;
};

struct CopyFail {
    static constexpr FrontendTag tag = FrontendTag::CopyFail;
    std::string_view message;
    static Result<CopyFail> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const CopyFail&, const CopyFail&) = default;
};

// 'p' messages: which one a body is depends on the authentication exchange in progress.
struct PasswordMessage {
    static constexpr FrontendTag tag = FrontendTag::Password;
    std::string_view password;  // cleartext, or "md5" + 32 hex digits
    static Result<PasswordMessage> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const PasswordMessage&, const PasswordMessage&) = default;
};

struct SASLInitialResponse {
    static constexpr FrontendTag tag = FrontendTag::Password;
    std::string_view mechanism;
    std::optional<std::string_view> data;  // nullopt is length -1 (no initial response)
    static Result<SASLInitialResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const SASLInitialResponse&, const SASLInitialResponse&) = default;
};

struct SASLResponse {
    static constexpr FrontendTag tag = FrontendTag::Password;
    std::string_view data;
    static Result<SASLResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const SASLResponse&, const SASLResponse&) = default;
};

}  // namespace sluice::protocol
