#include "protocol/messages.hpp"

#include <type_traits>

namespace sluice::protocol {

namespace {

template <class M, class Variant>
Result<Variant> decode_as(std::string_view body) {
    auto m = M::decode(body);
    if (!m) return m.error();
    return Variant{std::move(*m)};
}

}  // namespace

Result<FrontendMessage> decode_frontend_message(char tag, std::string_view body, PasswordKind password) {
    using V = FrontendMessage;
    switch (static_cast<FrontendTag>(tag)) {
    case FrontendTag::Query: return decode_as<Query, V>(body);
    case FrontendTag::Parse: return decode_as<Parse, V>(body);
    case FrontendTag::Bind: return decode_as<Bind, V>(body);
    case FrontendTag::Describe: return decode_as<Describe, V>(body);
    case FrontendTag::Execute: return decode_as<Execute, V>(body);
    case FrontendTag::Close: return decode_as<Close, V>(body);
    case FrontendTag::Sync: return decode_as<Sync, V>(body);
    case FrontendTag::Flush: return decode_as<Flush, V>(body);
    case FrontendTag::Terminate: return decode_as<Terminate, V>(body);
    case FrontendTag::FunctionCall: return decode_as<FunctionCall, V>(body);
    case FrontendTag::CopyData: return decode_as<CopyData, V>(body);
    case FrontendTag::CopyDone: return decode_as<CopyDone, V>(body);
    case FrontendTag::CopyFail: return decode_as<CopyFail, V>(body);
    case FrontendTag::Password:
        switch (password) {
        case PasswordKind::Password: return decode_as<PasswordMessage, V>(body);
        case PasswordKind::SASLInitialResponse: return decode_as<SASLInitialResponse, V>(body);
        case PasswordKind::SASLResponse: return decode_as<SASLResponse, V>(body);
        }
        break;
    }
    return fail("unknown frontend message type " + std::to_string(static_cast<unsigned char>(tag)));
}

Result<BackendMessage> decode_backend_message(char tag, std::string_view body) {
    using V = BackendMessage;
    switch (static_cast<BackendTag>(tag)) {
    case BackendTag::Authentication: {
        auto a = decode_authentication(body);
        if (!a) return a.error();
        return V{std::move(*a)};
    }
    case BackendTag::BackendKeyData: return decode_as<BackendKeyData, V>(body);
    case BackendTag::ParameterStatus: return decode_as<ParameterStatus, V>(body);
    case BackendTag::ReadyForQuery: return decode_as<ReadyForQuery, V>(body);
    case BackendTag::RowDescription: return decode_as<RowDescription, V>(body);
    case BackendTag::DataRow: return decode_as<DataRow, V>(body);
    case BackendTag::CommandComplete: return decode_as<CommandComplete, V>(body);
    case BackendTag::EmptyQueryResponse: return decode_as<EmptyQueryResponse, V>(body);
    case BackendTag::ParseComplete: return decode_as<ParseComplete, V>(body);
    case BackendTag::BindComplete: return decode_as<BindComplete, V>(body);
    case BackendTag::CloseComplete: return decode_as<CloseComplete, V>(body);
    case BackendTag::NoData: return decode_as<NoData, V>(body);
    case BackendTag::PortalSuspended: return decode_as<PortalSuspended, V>(body);
    case BackendTag::ParameterDescription: return decode_as<ParameterDescription, V>(body);
    case BackendTag::NotificationResponse: return decode_as<NotificationResponse, V>(body);
    case BackendTag::CopyInResponse: return decode_as<CopyInResponse, V>(body);
    case BackendTag::CopyOutResponse: return decode_as<CopyOutResponse, V>(body);
    case BackendTag::CopyBothResponse: return decode_as<CopyBothResponse, V>(body);
    case BackendTag::FunctionCallResponse: return decode_as<FunctionCallResponse, V>(body);
    case BackendTag::NegotiateProtocolVersion: return decode_as<NegotiateProtocolVersion, V>(body);
    case BackendTag::ErrorResponse: return decode_as<ErrorResponse, V>(body);
    case BackendTag::NoticeResponse: return decode_as<NoticeResponse, V>(body);
    case BackendTag::CopyData: return decode_as<CopyData, V>(body);
    case BackendTag::CopyDone: return decode_as<CopyDone, V>(body);
    }
    return fail("unknown backend message type " + std::to_string(static_cast<unsigned char>(tag)));
}

void encode_frontend_message(const FrontendMessage& m, std::string& out) {
    std::visit([&](const auto& msg) { msg.encode(out); }, m);
}

void encode_backend_message(const BackendMessage& m, std::string& out) {
    std::visit(
        [&](const auto& msg) {
            using M = std::decay_t<decltype(msg)>;
            if constexpr (std::is_same_v<M, Authentication>)
                encode_authentication(msg, out);
            else if constexpr (std::is_same_v<M, CopyData> || std::is_same_v<M, CopyDone>)
                msg.encode_backend(out);
            else
                msg.encode(out);
        },
        m);
}

}  // namespace sluice::protocol
