#pragma once
// Message type bytes, one enum per direction: the same byte means different things
// ('D' is Describe from the client and DataRow from the server; 'C', 'S', 'H', 'd', 'c' too).
#include <string_view>

namespace sluice::protocol {

enum class FrontendTag : char {
    Bind = 'B',
    Close = 'C',
    CopyData = 'd',
    CopyDone = 'c',
    CopyFail = 'f',
    Describe = 'D',
    Execute = 'E',
    Flush = 'H',
    FunctionCall = 'F',
    Parse = 'P',
    // PasswordMessage, SASLInitialResponse, SASLResponse and GSSResponse share 'p';
    // which one it is follows from the authentication exchange in progress.
    Password = 'p',
    Query = 'Q',
    Sync = 'S',
    Terminate = 'X',
};

enum class BackendTag : char {
    Authentication = 'R',
    BackendKeyData = 'K',
    BindComplete = '2',
    CloseComplete = '3',
    CommandComplete = 'C',
    CopyData = 'd',
    CopyDone = 'c',
    CopyInResponse = 'G',
    CopyOutResponse = 'H',
    CopyBothResponse = 'W',
    DataRow = 'D',
    EmptyQueryResponse = 'I',
    ErrorResponse = 'E',
    FunctionCallResponse = 'V',
    NegotiateProtocolVersion = 'v',
    NoData = 'n',
    NoticeResponse = 'N',
    NotificationResponse = 'A',
    ParameterDescription = 't',
    ParameterStatus = 'S',
    ParseComplete = '1',
    PortalSuspended = 's',
    ReadyForQuery = 'Z',
    RowDescription = 'T',
};

// Names as in the protocol docs, for logs; "unknown" for bytes that are not a message type.
std::string_view name(FrontendTag tag) noexcept;
std::string_view name(BackendTag tag) noexcept;
bool is_known(FrontendTag tag) noexcept;
bool is_known(BackendTag tag) noexcept;

// Transaction status byte of ReadyForQuery.
enum class TxStatus : char {
    Idle = 'I',
    InTransaction = 'T',
    InFailedTransaction = 'E',
};

}  // namespace sluice::protocol
