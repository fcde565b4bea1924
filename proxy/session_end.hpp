#pragma once
// Why a client session ended: the one table of sluice's own errors. Each reason maps to what the
// client is told (SQLSTATE + message) and a stable log reason that tests and operators grep for.
#include <optional>
#include <string>
#include <string_view>

#include "protocol/error_fields.hpp"

namespace sluice::proxy {

enum class EndReason {
    ClientClosed,             // Terminate or EOF: nothing to tell
    CancelRequest,            // the connection only carried a CancelRequest
    ProtocolViolation,        // 08P01
    LoginTimeout,             // 08P01
    AuthFailed,               // 28P01
    NotAuthorized,            // 28000
    UnknownDatabase,          // 3D000
    InvalidStartupParameter,  // 22023
    NotSupported,             // 0A000 (replication connections)
    TooManyClients,           // 53300 max_client_connections
    QueryWaitTimeout,         // 53300 query_wait
    ServerUnavailable,        // 08006, or the upstream's own error during its login
    ServerLost,               // 08006
    ClientStalled,            // the client stopped reading (timeouts.client_write): nothing to tell
    ShuttingDown,             // 57P01
    InternalError,            // XX000
    StatementTimeout,         // 57014 timeouts.statement, the server did not answer the cancel
    TransactionTimeout,       // 25P04 timeouts.transaction
    IdleInTransactionTimeout, // 25P03 timeouts.idle_in_transaction
    ClientIdleTimeout,        // 57P05 timeouts.client_idle
};

struct EndReasonInfo {
    std::string_view sqlstate;  // empty: the client is told nothing
    std::string_view log_reason;
};
const EndReasonInfo& info(EndReason reason) noexcept;

struct SessionEnd {
    EndReason reason = EndReason::ClientClosed;
    std::string message;  // for the client and the log
    std::string hint;
    // An error the upstream sent that the client should see as it is (e.g. 3D000 from the server).
    std::optional<protocol::ErrorFields> upstream_error;
    // The client already got the error (the server's own FATAL): send nothing more.
    bool client_told = false;

    static SessionEnd closed() { return {}; }
    static SessionEnd because(EndReason r, std::string message, std::string hint = {}) {
        return SessionEnd{r, std::move(message), std::move(hint), std::nullopt, false};
    }
    // The FATAL ErrorResponse for the client, or "" when nothing is sent.
    [[nodiscard]] std::string error_message_bytes() const;
};

}  // namespace sluice::proxy
