#include "proxy/server_close_reason.hpp"

#include <array>

namespace sluice::proxy {

std::string_view describe(ServerCloseReason reason) noexcept {
    static constexpr auto table = std::to_array<std::string_view>({
        "client went away mid-transaction",              // ClientLeftMidTransaction
        "server connection lost",                        // ServerLost
        "protocol error from server",                    // ServerProtocolError
        "server state unknown",                          // StateUnknown
        "write to server failed",                        // WriteFailed
        "its client stopped reading",                    // ClientStalled
        "could not sync session parameters",             // SyncFailed
        "client settings rejected",                      // SettingsRejected
        "reset before reuse failed",                     // ResetFailed
        "failed its health check",                       // HealthCheckFailed
        "closed or spoke while idle",                    // ClosedWhileIdle
        "server_lifetime reached",                       // LifetimeReached
        "server_idle_timeout reached",                   // IdleTimeout
        "a cancel request for it is in flight",          // CancelInFlight
        "shutting down",                                 // ShuttingDown
        "lease abandoned (cancelled or failed while holding the server)",  // Abandoned
        "idle, closed to make room for another pool (max_db_connections/max_user_connections)",  // MadeRoom
        "did not answer a statement timeout's cancel within timeouts.cancel_grace",  // CancelIgnored
        "busy when its client's timeouts.transaction ran out",  // TransactionTimeout
    });
    static_assert(table.size() == static_cast<std::size_t>(ServerCloseReason::TransactionTimeout) + 1, "one text per reason");
    return table[static_cast<std::size_t>(reason)];
}

}  // namespace sluice::proxy
