#pragma once
// Any message of one direction, decoded by its tag: for code that must understand every frame
// (stream validation, fuzzing, tracing) rather than react to a few.
#include <string>
#include <string_view>
#include <variant>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frontend.hpp"
#include "protocol/result.hpp"

namespace sluice::protocol {

// Which 'p' message the client is expected to send; only the authentication exchange knows.
enum class PasswordKind { Password, SASLInitialResponse, SASLResponse };

using FrontendMessage =
    std::variant<Query, Parse, Bind, Describe, Execute, Close, Sync, Flush, Terminate, FunctionCall, CopyData,
                 CopyDone, CopyFail, PasswordMessage, SASLInitialResponse, SASLResponse>;

using BackendMessage =
    std::variant<Authentication, BackendKeyData, ParameterStatus, ReadyForQuery, RowDescription, DataRow,
                 CommandComplete, EmptyQueryResponse, ParseComplete, BindComplete, CloseComplete, NoData,
                 PortalSuspended, ParameterDescription, NotificationResponse, CopyInResponse, CopyOutResponse,
                 CopyBothResponse, FunctionCallResponse, NegotiateProtocolVersion, ErrorResponse, NoticeResponse,
                 CopyData, CopyDone>;

// Unknown tags are errors. Views in the result point into `body`.
Result<FrontendMessage> decode_frontend_message(char tag, std::string_view body,
                                                PasswordKind password = PasswordKind::Password);
Result<BackendMessage> decode_backend_message(char tag, std::string_view body);

// Appends the framed message (CopyData/CopyDone with the tag of the direction).
void encode_frontend_message(const FrontendMessage& m, std::string& out);
void encode_backend_message(const BackendMessage& m, std::string& out);

}  // namespace sluice::protocol
