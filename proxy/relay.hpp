#pragma once
// The relay between one client and the server lent to it, in both directions.
//
//   client -> server: the session hands over whole client messages (add()), which the relay
//                     counts in the transaction tracker and batches, then writes them (forward());
//                     in transaction mode named prepared statements are renamed on the way (see
//                     prepared_statements.hpp), and sluice may add messages of its own;
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
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_decoder.hpp"
#include "config/model.hpp"
#include "protocol/sql/session_state.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/prepared_statements.hpp"
#include "proxy/query_guard.hpp"
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
    // `max_prepared`: pool.max_prepared_statements (0: named statements pass through unchanged).
    Relay(Stream& client, ClientSettings& settings, ClientStatements& statements, CancelSlot& cancel_slot,
          Lending lending, std::size_t max_prepared);
    Relay(const Relay&) = delete;
    Relay& operator=(const Relay&) = delete;

    [[nodiscard]] bool attached() const noexcept { return static_cast<bool>(lease_); }
    // No transaction open and nothing in flight: detached (transaction mode), or holding its
    // server between transactions (session mode). A session may be ended here (shutdown).
    [[nodiscard]] bool idle() const noexcept {
        return !lease_ || (!writing_ && client_between_messages_ && transaction_over());
    }
    // In transaction mode, SQL that changes session state is found with `analyses` and handled by
    // `policy`: plain SETs learnt and replayed (Track), the server pinned to the client (Pin), or
    // 0A000 (Reject). `on_pin` is told why, once, when the server is pinned.
    void watch_session_state(sql::AnalysisCache& analyses, config::SessionStatePolicy policy,
                             std::function<void(std::string_view why)> on_pin) {
        analyses_ = &analyses;
        policy_ = policy;
        on_pin_ = std::move(on_pin);
    }
    // Every Query and Parse text goes past `guard` first; a blocked one is answered with its error
    // where PostgreSQL's would be, and none of it reaches the server.
    void guard_with(QueryGuard& guard) noexcept { guard_ = &guard; }
    // How many kinds of Reply there are (the note's low bits must hold them).
    static constexpr std::uint32_t reply_count() noexcept { return static_cast<std::uint32_t>(Reply::Count); }
    // Named prepared statements are renamed and kept per client (transaction mode).
    [[nodiscard]] bool tracks_statements() const noexcept { return max_prepared_ > 0; }
    // A freshly lent server, in sync with the client's settings.
    void attach(Lease lease);

    // Adds a whole client message to the batch for the server (the frame's bytes must stay put
    // until forward()).
    void add(const protocol::Frame& frame);
    [[nodiscard]] bool has_batch() const noexcept { return batch_size_ > 0 || !batch_copy_.empty(); }
    // Writes the batch to the server, starting the pump if needed. `keep_alive` owns the session
    // (the pump holds it). Ended: the server is gone, end() says why.
    enum class Forwarded { Done, Ended, Pending };
    // All of it when nothing must be waited for (the common case: no coroutine); Pending: await
    // forward(), which goes on from where this stopped.
    Forwarded forward_now(const std::shared_ptr<void>& keep_alive);
    awaitable<Forwarded> forward(const std::shared_ptr<void>& keep_alive);  // Done or Ended

    // Set once the server was lost mid-transaction or sent garbage: the session must end with it.
    [[nodiscard]] const std::optional<SessionEnd>& end() const noexcept { return end_; }
    // Whether the client's stream is between messages, so sluice may write its own message.
    [[nodiscard]] bool client_between_messages() const noexcept { return client_between_messages_; }

    // The client is leaving (Terminate, EOF, an error, shutdown): stop the pump, then give the
    // server back if it is idle and clean (after DISCARD ALL when lent for the session), or close it.
    awaitable<void> let_go();

    // Timeouts (relay_timeouts.cpp): from now on the relay enforces `limits` (all but query_wait,
    // which the session applies while it waits for a server). `owner`: the session, which the
    // relay's timer never keeps alive.
    void enforce(const config::SessionTimeouts& limits, config::Duration cancel_grace, std::weak_ptr<void> owner);
    // The session waits for the client to send something (the idle limits count from here on).
    void waiting_for_client(bool waiting);

    // Parking (ClientSession::park): nothing here is needed until the client speaks again (no
    // server, no limit armed, no work of sluice's own running), so the relay may be dropped.
    [[nodiscard]] bool forgettable() const noexcept;
    // Otherwise it keeps its state but frees what it only caches.
    void release_memory() noexcept;

    // Called whenever the client is between transactions again (in transaction mode, once its
    // server went back to the pool), e.g. to end a session told to stop.
    std::function<void()> on_idle;

private:
    // What the relay does with the response to one message it forwarded (its tracker note).
    enum class Reply : std::uint32_t {
        Pass = 0,
        ClientParse,       // the client's Parse, renamed: on error the client's name is gone
        InjectedParse,     // sluice's own re-Parse: its ParseComplete is dropped
        InjectedClose,     // sluice's own Close (eviction): its CloseComplete is dropped
        CloseAsParse,      // stands in for a Parse of a statement the server has: CloseComplete -> ParseComplete
        ReplaceError,      // stands in for a Parse that fails in sluice: its error is replaced
        TrackedBind,       // a Bind of a shared statement: 0A000 drops the statement from the server
        EmptyAsDeallocate, // an empty query stands in for DEALLOCATE of a client's name
        RetryAfterSync,    // the Sync after a Bind that failed 0A000: its ReadyForQuery is dropped, and the Bind retried
        LocalSettings,     // the client's settings for one transaction behind an upstream pooler: answers dropped
        Count,             // must fit the note's low bits (relay.cpp)
    };
    // What sluice must remember about a noted message until its response arrives.
    struct Noted {
        Reply reply = Reply::Pass;
        std::shared_ptr<const ServerStatement> statement{};
        std::string client_name{};
        std::string error{};  // ReplaceError: the ErrorResponse to send instead; RetryAfterSync: the one dropped
        // Where the message starts in the batch. A TrackedBind outside a transaction block: the
        // size of its messages up to and including the Sync, kept in replay_batch_ once written,
        // to send again if a table changed under the statement (0A000); 0: not retryable.
        std::size_t batch_offset = 0;
        std::size_t replay_size = 0;
        bool answered = false;
    };
    // Batching (client -> server).
    void pass(const protocol::Frame& frame, std::uint32_t note = 0);
    void send_own(std::string_view message, Reply reply);
    void send_own(std::string_view message, Reply reply, Noted noted);
    // The tracker note for a message sluice sends, remembering `noted` until its answer.
    std::uint32_t note_for(Reply reply, Noted noted);
    std::string& batch_for_rewrite();
    void add_parse(const protocol::Frame& frame);
    void add_statement_use(const protocol::Frame& frame, std::string_view client_name, std::size_t name_offset,
                           Reply reply);
    void prepare_on_server(const std::shared_ptr<const ServerStatement>& statement, Reply reply, Noted noted);
    void fail_parse(std::string_view client_name, std::string error);
    // Behind an upstream pooler (config upstream_pooler), before the client's message `tag`: where
    // a transaction starts, the client's settings for it (set_local_settings); where one may end,
    // sluice's statements closed and forgotten (the next may run on another backend).
    void behind_upstream_pooler(protocol::FrontendTag tag);
    void set_local_settings();
    // Session state in a Query or Parse text that sql::may_change_session() flagged; true if the
    // message was replaced (rejected).
    bool check_session_state(const protocol::Frame& frame, std::string_view sql);
    void reject(const protocol::Frame& frame, const sql::SessionChange& change);
    // Behind an upstream pooler: keeps a client's SET to run again where its result is read.
    void note_for_relearning(const protocol::Frame& frame, const sql::SessionChange& change);
    // Sends, instead of the client's Query or Parse, a stand-in that fails on the server (so that the
    // server is where PostgreSQL would be after the error: a transaction block aborted, the rest of a
    // pipeline skipped), and answers the client with `error` in place of the stand-in's.
    void refuse(const protocol::Frame& frame, std::string error);
    void pin(const sql::SessionChange& change);
    // Before the server goes back: read the settings the transaction changed (learn_), so that
    // the client's next server gets them too.
    void learn_settings();
    awaitable<void> wait_for_learning();
    // Until learned_ is cancelled: when sluice's own work on the server (learning, a retry, a
    // cancel) ends.
    awaitable<void> until_woken();
    // forward()'s steps.
    [[nodiscard]] bool must_wait_to_forward() const noexcept;
    [[nodiscard]] std::string_view batch_bytes() const noexcept;
    void start_write(const std::shared_ptr<void>& keep_alive);
    Forwarded finish_write(error_code ec);
    // SQL DEALLOCATE / DISCARD in a Query or an unnamed Parse; true if the message was replaced.
    bool add_deallocation(const protocol::Frame& frame, std::string_view sql);
    // Response editing (server -> client).
    void on_noted_response(char tag, std::string_view body, std::uint32_t note, std::size_t begin, std::size_t end);
    void settle_noted();
    // A Bind outside a transaction failed because DDL changed the statement's result: once the
    // server is past the Sync, prepare the statement afresh and send the client's messages again.
    void retry(std::uint32_t note);
    // Finds the replays of this batch's retryable Binds; true if the written batch must be kept.
    bool keep_replays();
    std::string_view apply_edits(std::size_t total);

    // Timeouts (relay_timeouts.cpp).
    enum class Limit { Statement, CancelGrace, Transaction, IdleInTransaction, ClientIdle };
    struct Due {
        Limit limit;
        Clock::time_point at;
    };
    [[nodiscard]] std::optional<Due> next_due() const;
    [[nodiscard]] bool statement_running() const noexcept { return statement_started_ != kNever && tracker_.pending() > 0; }
    // Arms the timer for the next limit due, unless it is armed for that moment or earlier.
    void watch_limits();
    // The same after a span began at `now`, skipped when the timer already fires soon enough.
    void watch_limits(Clock::time_point now);
    void on_limit_timer();
    void on_ready_for_query();
    // A statement ran past timeouts.statement: a CancelRequest to its server, and PostgreSQL's
    // 57014 reworded to say which limit fired.
    void cancel_statement();
    // A limit that ends the session but leaves the server sound (rolled back in let_go()).
    void end_session(SessionEnd end);
    [[nodiscard]] std::string timeout_message(std::string_view what, std::string_view key, config::Duration value) const;

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
    ClientStatements& statements_;
    CancelSlot& cancel_slot_;
    Lending lending_;
    std::size_t max_prepared_;  // 0: names pass through
    Lease lease_;
    TransactionTracker tracker_;
    // The batch: a span of the client's bytes as they came, or a copy once sluice rewrote one.
    const char* batch_begin_ = nullptr;
    std::size_t batch_size_ = 0;
    std::string batch_copy_;
    std::string replay_batch_;  // the last written batch with a retryable Bind (Noted::replay_size)
    std::vector<Noted> noted_;  // indexed by note >> 3, until nothing is outstanding
    // The unnamed statement / portal stands in for a client's DEALLOCATE (an empty query).
    bool unnamed_deallocates_ = false;
    bool unnamed_portal_deallocates_ = false;
    // Edits to the server's bytes before the client gets them.
    struct Edit {
        std::size_t begin;
        std::size_t end;
        std::string_view replacement;
    };
    std::vector<Edit> edits_;
    std::size_t held_ = 0;  // bytes kept at the start of the read buffer: a message to edit, partly read
    std::size_t hold_ = 0;  // of this read, what to keep for the next
    std::string edited_;    // what the client gets when there are edits
    bool writing_ = false;       // client -> server write in progress
    std::size_t written_ = 0;    // of its batch, what the socket took
    bool keep_batch_ = false;    // its batch is kept for a replay
    bool pump_running_ = false;  // server -> client pump alive
    std::shared_ptr<void> pump_keep_alive_;  // the session, while the pump runs
    bool letting_go_ = false;    // let_go() decides the server's fate
    QueryGuard* guard_ = nullptr;
    // Session state.
    sql::AnalysisCache* analyses_ = nullptr;
    config::SessionStatePolicy policy_ = config::SessionStatePolicy::Track;
    std::function<void(std::string_view)> on_pin_;
    std::vector<std::string> learn_;  // settings to read before the server goes back
    // Behind an upstream pooler.
    bool upstream_pooler_ = false;
    bool message_starts_transaction_ = false;  // the message add() is on begins a transaction
    // The client's SET/RESET statements outside a block, run again (rolled back) where their result
    // is read: the read may be on another backend than the one they ran on.
    std::vector<std::string> relearn_;
    // The LocalSettings messages, for the settings fingerprint and touched-settings version they were made for.
    std::vector<std::string> local_settings_;
    std::optional<std::pair<std::uint64_t, std::uint64_t>> local_settings_for_;
    // The last Parse text that sql::may_change_session() passed, and the last Parse body that
    // may_change_role() passed (both tests are pure: the same text gives the same answer).
    std::string harmless_text_;
    std::string roleless_body_;
    bool learning_ = false;
    bool replaying_ = false;  // the relay writes a retry to the server
    bool retry_candidate_ = false;  // the answer being followed is a 0A000 that may be retried
    std::size_t retry_begin_ = 0, retry_end_ = 0;
    std::uint32_t retry_note_ = 0;
    std::uint32_t retry_now_ = 0;  // the note of a retry to send once the tracker is past its Sync
    std::vector<std::size_t> replay_candidates_;  // noted_ indexes of this batch's retryable Binds
    std::optional<asio::steady_timer> learned_;  // cancelled when learning ends
    std::weak_ptr<void> session_;  // the session (enforce() sets it), for the learning coroutine and the limits
    bool client_gone_ = false;
    bool server_said_fatal_ = false;
    bool client_between_messages_ = true;
    std::optional<ServerCloseReason> doom_;  // the server must be closed, for this reason
    std::optional<SessionEnd> end_;
    std::optional<asio::steady_timer> pump_stopped_;  // cancelled when the pump exits
    // Timeouts: when each running span began (kNever: not running).
    static constexpr Clock::time_point kNever = Clock::time_point::max();
    config::SessionTimeouts limits_{};
    config::Duration cancel_grace_{};
    bool limits_on_ = false;       // any of them set
    config::Duration shortest_limit_{};
    bool idle_limits_on_ = false;  // idle_in_transaction or client_idle set
    bool waiting_for_client_ = false;
    bool idle_before_batch_ = true;  // the server had nothing in flight when this batch began
    Clock::time_point statement_started_ = kNever;    // the server works on the client's messages
    Clock::time_point transaction_started_ = kNever;  // a transaction holds the server
    Clock::time_point idle_since_ = kNever;           // the client's turn to speak since
    Clock::time_point cancel_sent_ = kNever;          // sluice cancelled the running statement
    Clock::time_point timer_at_ = kNever;             // what the timer is armed for
    std::optional<asio::steady_timer> limit_timer_;
    bool cancelling_ = false;     // sluice's own CancelRequest is on its way: the server stays until it is
    bool rolls_back_ = false;     // let_go() rolls back an idle transaction instead of closing the server
    std::string timeout_error_;   // the 57014 the client gets instead of PostgreSQL's
};

}  // namespace sluice::proxy
