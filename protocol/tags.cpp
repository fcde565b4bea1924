#include "protocol/tags.hpp"

namespace sluice::protocol {

std::string_view name(FrontendTag tag) noexcept {
    switch (tag) {
    case FrontendTag::Bind: return "Bind";
    case FrontendTag::Close: return "Close";
    case FrontendTag::CopyData: return "CopyData";
    case FrontendTag::CopyDone: return "CopyDone";
    case FrontendTag::CopyFail: return "CopyFail";
    case FrontendTag::Describe: return "Describe";
    case FrontendTag::Execute: return "Execute";
    case FrontendTag::Flush: return "Flush";
    case FrontendTag::FunctionCall: return "FunctionCall";
    case FrontendTag::Parse: return "Parse";
    case FrontendTag::Password: return "PasswordMessage";
    case FrontendTag::Query: return "Query";
    case FrontendTag::Sync: return "Sync";
    case FrontendTag::Terminate: return "Terminate";
    }
    return "unknown";
}

std::string_view name(BackendTag tag) noexcept {
    switch (tag) {
    case BackendTag::Authentication: return "Authentication";
    case BackendTag::BackendKeyData: return "BackendKeyData";
    case BackendTag::BindComplete: return "BindComplete";
    case BackendTag::CloseComplete: return "CloseComplete";
    case BackendTag::CommandComplete: return "CommandComplete";
    case BackendTag::CopyData: return "CopyData";
    case BackendTag::CopyDone: return "CopyDone";
    case BackendTag::CopyInResponse: return "CopyInResponse";
    case BackendTag::CopyOutResponse: return "CopyOutResponse";
    case BackendTag::CopyBothResponse: return "CopyBothResponse";
    case BackendTag::DataRow: return "DataRow";
    case BackendTag::EmptyQueryResponse: return "EmptyQueryResponse";
    case BackendTag::ErrorResponse: return "ErrorResponse";
    case BackendTag::FunctionCallResponse: return "FunctionCallResponse";
    case BackendTag::NegotiateProtocolVersion: return "NegotiateProtocolVersion";
    case BackendTag::NoData: return "NoData";
    case BackendTag::NoticeResponse: return "NoticeResponse";
    case BackendTag::NotificationResponse: return "NotificationResponse";
    case BackendTag::ParameterDescription: return "ParameterDescription";
    case BackendTag::ParameterStatus: return "ParameterStatus";
    case BackendTag::ParseComplete: return "ParseComplete";
    case BackendTag::PortalSuspended: return "PortalSuspended";
    case BackendTag::ReadyForQuery: return "ReadyForQuery";
    case BackendTag::RowDescription: return "RowDescription";
    }
    return "unknown";
}

bool is_known(FrontendTag tag) noexcept { return name(tag) != "unknown"; }
bool is_known(BackendTag tag) noexcept { return name(tag) != "unknown"; }

}  // namespace sluice::protocol
