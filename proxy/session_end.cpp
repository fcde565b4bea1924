#include "proxy/session_end.hpp"

#include <array>

#include "protocol/sqlstate.hpp"

namespace sluice::proxy {

namespace ss = protocol::sqlstate;

const EndReasonInfo& info(EndReason reason) noexcept {
    static const std::array<EndReasonInfo, 20> table = {{
        {"", "client closed the connection"},                           // ClientClosed
        {"", "cancel request handled"},                                 // CancelRequest
        {ss::kProtocolViolation, "client protocol violation"},          // ProtocolViolation
        {ss::kProtocolViolation, "client login timeout"},               // LoginTimeout
        {ss::kInvalidPassword, "authentication failed"},                // AuthFailed
        {ss::kInvalidAuthorizationSpecification, "not authorized"},     // NotAuthorized
        {ss::kInvalidCatalogName, "unknown database"},                  // UnknownDatabase
        {"22023", "invalid startup parameter"},                         // InvalidStartupParameter
        {ss::kFeatureNotSupported, "not supported"},                    // NotSupported
        {ss::kTooManyConnections, "max_client_connections reached"},    // TooManyClients
        {ss::kTooManyConnections, "query_wait timeout"},                // QueryWaitTimeout
        {ss::kConnectionFailure, "server unavailable"},                 // ServerUnavailable
        {ss::kConnectionFailure, "server connection lost"},             // ServerLost
        {"", "client stopped reading"},                                 // ClientStalled
        {ss::kAdminShutdown, "shutting down"},                          // ShuttingDown
        {ss::kInternalError, "internal error"},                         // InternalError
        {ss::kQueryCanceled, "statement timeout"},                      // StatementTimeout
        {ss::kTransactionTimeout, "transaction timeout"},               // TransactionTimeout
        {ss::kIdleInTransactionSessionTimeout, "idle-in-transaction timeout"},  // IdleInTransactionTimeout
        {ss::kIdleSessionTimeout, "client idle timeout"},               // ClientIdleTimeout
    }};
    return table[static_cast<std::size_t>(reason)];
}

std::string SessionEnd::error_message_bytes() const {
    std::string out;
    if (client_told) return out;
    if (upstream_error) {
        protocol::ErrorResponse{*upstream_error}.encode(out);
        return out;
    }
    const auto& i = info(reason);
    if (i.sqlstate.empty()) return out;
    protocol::append_error(out, protocol::Severity::Fatal, i.sqlstate, message, {}, hint);
    return out;
}

}  // namespace sluice::proxy
