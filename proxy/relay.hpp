#pragma once
// The relay between one client and the server lent to it, in both directions.
//
//   client -> server: the session forwards whole client messages (forward()), after counting
//                     each one in the transaction tracker;
//   server -> client: the pump, which runs while a response may come, streams the server's
//                     bytes to the client and watches ReadyForQuery, ParameterStatus, errors
//                     and COPY. It is a chain of plain completion handlers, not a coroutine: it
//                     starts once per transaction, and starting a coroutine would cost more than
//                     relaying a short response. Only a client too slow to take a chunk at once
//                     gets a coroutine (deliver_slowly), which waits with a deadline.
//
// The relay is the server's one owner while it is lent: it holds the Lease, and the server goes
// back only when both directions are quiet (no write to the server in progress, pump stopped):
// to the pool when the tracker says the transaction is over, closed otherwise. A server that is
// lost ends the session: nothing the client sent afterwards may run on another server.
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

#include "protocol/frame_decoder.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/server_lease.hpp"
#include "proxy/session_end.hpp"
#include "proxy/session_params.hpp"
#include "proxy/stream.hpp"
#include "proxy/transaction_tracker.hpp"

namespace sluice::proxy {

// How long a server stays with its client.
enum class Lending {
    Transaction,  // back to the pool when a transaction ends
    Session,      // until the client leaves (then DISCARD ALL)
};

class Relay {
public:
    Relay(Stream& client, ClientSettings& settings, CancelSlot& cancel_slot, Lending lending);
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    [[nodiscard]] bool attached() const noexcept { return static_cast<bool>(lease_); }
    // No transaction open and nothing in flight: detached (transaction mode), or holding its
    // server between transactions (session mode). A session may be ended here (shutdown).
    [[nodiscard]] bool idle() const noexcept {
        return !lease_ || (!writing_ && client_between_messages_ && transaction_over());
    }
    // A freshly lent server, in sync with the client's settings.
    void attach(Lease lease);

    // Counts a client message about to be forwarded.
    void on_client_message(const protocol::Frame& frame);
    // Writes whole client messages to the server, starting the pump if needed. `keep_alive` owns
    // the session (the pump holds it). False if the server is gone: end() says why.
    awaitable<bool> forward(std::string_view bytes, const std::shared_ptr<void>& keep_alive);

    // Set once the server was lost mid-transaction or sent garbage: the session must end with it.
    [[nodiscard]] const std::optional<SessionEnd>& end() const noexcept { return end_; }
    // Whether the client's stream is between messages, so sluice may write its own message.
    [[nodiscard]] bool client_between_messages() const noexcept { return client_between_messages_; }

    // The client is leaving (Terminate, EOF, an error, shutdown): stop the pump, then give the
    // server back if it is idle and clean (after DISCARD ALL when lent for the session), or close it.
    awaitable<void> let_go();

    // Called whenever the client is between transactions again (in transaction mode, once its
    // server went back to the pool), e.g. to end a session told to stop.
    std::function<void()> on_idle;

private:
    // The pump's steps: read the server, follow what it said, hand it to the client, repeat.
    void pump_next();
    void pump_read(error_code ec, std::size_t n);
    void pump_continue(error_code read_ec);
    void deliver_slowly(std::string_view rest, error_code read_ec);
    void delivered(error_code ec);
    void pump_done();
    // Follows one chunk of the server's stream (messages, tracker, settings); false when the
    // stream is malformed (the relay has failed).
    bool follow(std::string_view chunk);
    // Acts once both directions are quiet: return or close the server.
    void settle();
    [[nodiscard]] bool transaction_over() const;
    void fail(ServerCloseReason reason, SessionEnd end);

    Stream& client_;
    ClientSettings& settings_;
    CancelSlot& cancel_slot_;
    Lending lending_;
    Lease lease_;
    TransactionTracker tracker_;
    bool writing_ = false;       // client -> server write in progress
    bool pump_running_ = false;  // server -> client pump alive
    std::shared_ptr<void> pump_keep_alive_;  // the session, while the pump runs
    bool letting_go_ = false;    // let_go() decides the server's fate
    bool client_gone_ = false;
    bool server_said_fatal_ = false;
    bool client_between_messages_ = true;
    std::optional<ServerCloseReason> doom_;  // the server must be closed, for this reason
    std::optional<SessionEnd> end_;
    std::optional<asio::steady_timer> pump_stopped_;  // cancelled when the pump exits
};

}  // namespace sluice::proxy
