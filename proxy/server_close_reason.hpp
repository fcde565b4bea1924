#pragma once
// Why sluice closed a server connection instead of lending it again: one table, as the reasons a
// client session ends (session_end.hpp). Each has a stable log text operators can grep for.
#include <string_view>

namespace sluice::proxy {

enum class ServerCloseReason {
    ClientLeftMidTransaction,  // the client vanished with a transaction, COPY or pipeline open
    ServerLost,                // the connection broke or the server said FATAL
    ServerProtocolError,       // the server sent a stream sluice cannot follow
    StateUnknown,              // sluice lost track of the server's state (relay model confused)
    WriteFailed,               // a write to the server failed or stalled (timeouts.server_write)
    ClientStalled,             // its client stopped reading (timeouts.client_write)
    SyncFailed,                // setting the client's session parameters failed
    SettingsRejected,          // the client's startup settings were rejected (the login fails)
    ResetFailed,               // DISCARD ALL / RESET failed before reuse
    HealthCheckFailed,         // the check after server_check_delay failed
    ClosedWhileIdle,           // the server closed or spoke while idle in the pool
    LifetimeReached,           // server_lifetime
    IdleTimeout,               // server_idle_timeout
    CancelInFlight,            // a cancel request for it is on its way: it could hit the next client
    ShuttingDown,              // sluice is stopping
    Abandoned,                 // a lease went out of scope unreturned (cancelled await, error)
    MadeRoom,                  // idle, closed for a pool whose clients wait on a shared budget
    CancelIgnored,             // it did not answer a statement timeout's cancel within timeouts.cancel_grace
    TransactionTimeout,        // busy when its client's timeouts.transaction ran out
};

std::string_view describe(ServerCloseReason reason) noexcept;

}  // namespace sluice::proxy
