#pragma once
// Decides when a lent server connection may go back to the pool: when everything the client
// forwarded has been answered and the server is idle outside a transaction. Pure bookkeeping (no
// I/O), fed by the relay in both directions: each client message just before it is forwarded, and
// each server message whose tag is in server_tags() as it is read.
//
// The model is PostgreSQL's own reading of the client stream (postgres.c, copyfromparse.c):
//  * A FIFO holds what the server still owes an answer for, in the order it will answer:
//      Parse -> '1'   Bind -> '2'   Close -> '3'   Flush -> nothing (not queued)
//      Describe 'S' -> 't' then 'T' | 'n'      Describe 'P' -> 'T' | 'n'
//      Execute -> 'C' | 'I' | 's' (DataRows before; COPY TO: 'H' ... 'C'; COPY FROM: 'G' ... 'C')
//      Sync -> 'Z' (an 'E' first if the commit fails)      Query / FunctionCall -> everything until 'Z'
//    plus two markers, CopyData (consecutive ones collapsed) and CopyDone/CopyFail, so that a COPY
//    FROM STDIN knows which client messages it consumes. Outside a COPY the server ignores them:
//    a marker at the front of the FIFO is dropped, and with nothing outstanding none is queued.
//  * Parse/Bind/Describe/Execute/Close open a transaction command that only a Sync (or a Query or
//    FunctionCall, which commit the same implicit transaction) closes: until then the server is
//    not reusable even with every response in (Flush without Sync).
//  * ErrorResponse for an extended-protocol message (Parse/Bind/Close/Describe/Execute): the server
//    discards everything (Query and FunctionCall included) up to the next Sync. The FIFO drops the
//    same entries; with no Sync queued yet, the client's later messages are skipped until its Sync.
//    For a Query, FunctionCall or Sync the error changes nothing: their 'Z' still comes.
//  * CopyInResponse 'G' for the front entry starts copy-in. The server then reads the client's
//    messages up to the first CopyDone/CopyFail (the copy "window") as COPY input and ignores the
//    Syncs and Flushes among them (libpq sends Parse/Bind/Describe/Execute/Sync, then CopyData...,
//    CopyDone, Sync: two Syncs, one ReadyForQuery). CommandComplete ends the copy: the window's
//    entries are dropped. Anything but Sync/Flush/CopyData in a window makes the server abort the
//    COPY and close the connection: confused.
//  * ErrorResponse during copy-in: the server stops reading the window where it was; what it had
//    not read yet is read as ordinary messages (a Sync there answers with ReadyForQuery). A window
//    with no Sync is no problem. With Syncs, which of them were read is decided from evidence:
//      - no CopyData/CopyDone/CopyFail of the window was forwarded yet: nothing was read. Once the
//        server has read a Sync of the window it waits for copy data with cancel interrupts held,
//        so it can only fail after reading a copy message (e.g. a BEFORE STATEMENT trigger or
//        "cannot copy to view" fails before reading anything);
//      - a data or integrity error (SQLSTATE class 22/23) raised while or after reading rows (its
//        context, if any, ends with PostgreSQL's "COPY <table>, line N" line): the Syncs before
//        the first copy message were read (and ignored);
//      - anything else is ambiguous, and so is a Sync sent between two CopyData: confused.
//    After a copy-in error the client is still in copy mode until its CopyDone/CopyFail, which the
//    server then ignores (as it ignores CopyData); the tracker is not idle before it.
//  * Inconsistencies (a response that matches nothing outstanding, an unknown message) make the
//    tracker confused(): it stops tracking and never reports idle again (until reset()), and the
//    relay must close the server instead of reusing it. It never guesses: when PostgreSQL's
//    behaviour depends on something the messages do not show, confusion is the answer.
//
// Cost per message: a switch and a ring-buffer push or pop; no allocation once the FIFO has grown
// to the client's deepest pipeline (reset() keeps it).
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "protocol/tags.hpp"

namespace sluice::proxy {

class TransactionTracker {
public:
    // Before a client message is forwarded. `body` (after tag and length) matters only for
    // Describe (statement or portal) and Flush (with a body it fails). `note` rides with the
    // message's entry until its last response (front_note()): how the relay treats that response.
    void on_client_message(protocol::FrontendTag tag, std::string_view body, std::uint32_t note = 0);
    // The note of the oldest unanswered message: the one the next response belongs to (0 if none).
    [[nodiscard]] std::uint32_t front_note() const noexcept { return queue_.empty() ? 0 : queue_.front_note(); }
    // Changes the oldest unanswered message's note (e.g. to act on its answer after an error).
    void set_front_note(std::uint32_t note) noexcept {
        if (!queue_.empty()) queue_.set_front_note(note);
    }
    // A server message, in the order the server sent it. The relay must pass at least every
    // message whose tag is in server_tags(); NoticeResponse, NotificationResponse, ParameterStatus,
    // DataRow, CopyData, CopyDone and FunctionCallResponse may be passed too and change nothing.
    void on_server_message(protocol::BackendTag tag, std::string_view body);
    // The backend tags on_server_message needs. DataRow, CopyData and FunctionCallResponse (bodies
    // of any size) are not among them; RowDescription and ParameterDescription are (below 300 kB).
    static std::bitset<256> server_tags() noexcept;

    // Nothing forwarded is unanswered, no extended-protocol message without a Sync (or Query)
    // after it (its implicit transaction is still open), no COPY in progress on either side, no
    // skip-till-Sync, the last ReadyForQuery said 'I', and not confused. Can become true on a
    // client message too: a stray CopyData/CopyDone/CopyFail, or the client's CopyDone after a
    // failed COPY was already answered. The relay must check it after forwarding as well.
    [[nodiscard]] bool idle() const noexcept {
        return queue_.empty() && !unsynced_ && !skip_ && copy_ == Copy::None && !client_copy_ &&
               confused_ == nullptr && status_ == protocol::TxStatus::Idle;
    }
    [[nodiscard]] bool confused() const noexcept { return confused_ != nullptr; }
    // Why confused() (a static string), empty when not.
    [[nodiscard]] std::string_view confusion() const noexcept { return confused_ ? confused_ : ""; }
    // From the last ReadyForQuery.
    [[nodiscard]] protocol::TxStatus status() const noexcept { return status_; }
    // The server is in COPY (in, out or both), or the client still has to end its copy-in.
    [[nodiscard]] bool in_copy() const noexcept { return copy_ != Copy::None || client_copy_; }
    // Skipping the client's messages until its next Sync (after an extended-protocol error).
    [[nodiscard]] bool skipping() const noexcept { return skip_; }
    // Queued entries (messages awaiting an answer plus COPY markers), for logs.
    [[nodiscard]] std::size_t pending() const noexcept { return queue_.size(); }
    // A fresh server (idle, nothing outstanding). Keeps the FIFO's memory.
    void reset() noexcept {
        queue_.clear();
        status_ = protocol::TxStatus::Idle;
        copy_ = Copy::None;
        unsynced_ = false;
        skip_ = false;
        client_copy_ = false;
        confused_ = nullptr;
    }

    // More outstanding entries than this (the relay forwards only as fast as the server reads, so
    // a real client never gets close) is treated as confusion rather than unbounded memory.
    static constexpr std::size_t kMaxPending = std::size_t{1} << 22;

private:
    enum class Entry : std::uint8_t {
        Parse,
        Bind,
        Close,
        DescribeStatement,      // expects ParameterDescription
        DescribeStatementRows,  // got it, expects RowDescription or NoData
        DescribePortal,
        Execute,
        Sync,
        Query,
        FunctionCall,
        CopyData,  // marker: one or more CopyData
        CopyEnd,   // marker: CopyDone or CopyFail
    };
    enum class Copy : std::uint8_t { None, In, Out };

    struct Slot {
        Entry entry;
        std::uint32_t note;
    };
    // A ring buffer of entries; allocates only to grow (never when empty, never in steady state).
    class Fifo {
    public:
        [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
        [[nodiscard]] std::size_t size() const noexcept { return size_; }
        [[nodiscard]] Entry front() const noexcept { return buf_[head_].entry; }
        [[nodiscard]] std::uint32_t front_note() const noexcept { return buf_[head_].note; }
        [[nodiscard]] Entry back() const noexcept { return buf_[(head_ + size_ - 1) & mask_].entry; }
        [[nodiscard]] Entry at(std::size_t i) const noexcept { return buf_[(head_ + i) & mask_].entry; }
        void set_front(Entry e) noexcept { buf_[head_].entry = e; }
        void set_front_note(std::uint32_t note) noexcept { buf_[head_].note = note; }
        void push_back(Entry e, std::uint32_t note) {
            if (size_ == capacity_) grow();
            buf_[(head_ + size_) & mask_] = Slot{e, note};
            ++size_;
        }
        void pop_front() noexcept {
            head_ = (head_ + 1) & mask_;
            --size_;
        }
        // Removes entries [first, first + count); first >= 1 (the front stays). Rare paths only.
        void erase(std::size_t first, std::size_t count) noexcept {
            for (std::size_t i = first; i + count < size_; ++i) buf_[(head_ + i) & mask_] = buf_[(head_ + i + count) & mask_];
            size_ -= count;
        }
        void clear() noexcept {
            head_ = 0;
            size_ = 0;
        }

    private:
        void grow() {
            std::size_t capacity = capacity_ == 0 ? 16 : capacity_ * 2;
            auto buf = std::make_unique<Slot[]>(capacity);
            for (std::size_t i = 0; i < size_; ++i) buf[i] = buf_[(head_ + i) & mask_];
            buf_ = std::move(buf);
            capacity_ = capacity;
            mask_ = capacity - 1;
            head_ = 0;
        }
        std::unique_ptr<Slot[]> buf_;
        std::size_t capacity_ = 0;
        std::size_t mask_ = 0;
        std::size_t head_ = 0;
        std::size_t size_ = 0;
    };

    void confuse(const char* why) noexcept { confused_ = why; }
    void push(Entry e, std::uint32_t note = 0) {
        if (queue_.size() >= kMaxPending) return confuse("too many unanswered client messages");
        queue_.push_back(e, note);
    }
    // The front entry got its last response.
    void pop() noexcept {
        queue_.pop_front();
        drop_ignored_front();
    }
    // CopyData/CopyDone/CopyFail the server reads outside a COPY: ignored, no response.
    void drop_ignored_front() noexcept {
        while (!queue_.empty() && (queue_.front() == Entry::CopyData || queue_.front() == Entry::CopyEnd))
            queue_.pop_front();
    }
    void expect(Entry e) noexcept {
        if (copy_ == Copy::None && !queue_.empty() && queue_.front() == e) return pop();
        confuse("a response that does not match the oldest unanswered message");
    }
    [[nodiscard]] bool front_is(Entry a, Entry b) const noexcept {
        return !queue_.empty() && (queue_.front() == a || queue_.front() == b);
    }
    void on_extended(Entry e, std::uint32_t note);
    void on_ready_for_query(std::string_view body) noexcept;
    void on_error(std::string_view body) noexcept;
    void on_command_complete() noexcept;
    void on_copy_in_response() noexcept;
    bool resolve_copy_in_error(std::string_view body) noexcept;
    // The window of the COPY FROM STDIN run by the front entry: [1, end); `closed` if it ends with
    // the client's CopyDone/CopyFail (included in it).
    [[nodiscard]] std::size_t copy_window_end(bool& closed) const noexcept;
    static bool rows_were_read(std::string_view error_body) noexcept;

    Fifo queue_;
    protocol::TxStatus status_ = protocol::TxStatus::Idle;
    Copy copy_ = Copy::None;
    bool unsynced_ = false;     // an extended-protocol message was forwarded after the last sync point
    bool skip_ = false;         // the server discards the client's messages until its next Sync
    bool client_copy_ = false;  // the client is in copy-in: its CopyDone/CopyFail is still to come
    const char* confused_ = nullptr;
};

inline std::bitset<256> TransactionTracker::server_tags() noexcept {
    using protocol::BackendTag;
    std::bitset<256> tags;
    for (auto t : {BackendTag::ParseComplete, BackendTag::BindComplete, BackendTag::CloseComplete,
                   BackendTag::ParameterDescription, BackendTag::RowDescription, BackendTag::NoData,
                   BackendTag::CommandComplete, BackendTag::EmptyQueryResponse, BackendTag::PortalSuspended,
                   BackendTag::CopyInResponse, BackendTag::CopyOutResponse, BackendTag::CopyBothResponse,
                   BackendTag::ErrorResponse, BackendTag::ReadyForQuery})
        tags.set(static_cast<unsigned char>(t));
    return tags;
}

inline void TransactionTracker::on_client_message(protocol::FrontendTag tag, std::string_view body,
                                                  std::uint32_t note) {
    using protocol::FrontendTag;
    if (confused_) return;
    switch (tag) {
    case FrontendTag::Query:
        return on_extended(Entry::Query, note);
    case FrontendTag::Parse:
        return on_extended(Entry::Parse, note);
    case FrontendTag::Bind:
        return on_extended(Entry::Bind, note);
    case FrontendTag::Execute:
        return on_extended(Entry::Execute, note);
    case FrontendTag::Describe:
        // An invalid subtype fails on the server like any extended message: any kind will do.
        return on_extended(!body.empty() && body[0] == 'S' ? Entry::DescribeStatement : Entry::DescribePortal, note);
    case FrontendTag::Close:
        return on_extended(Entry::Close, note);  // CloseComplete for a statement or a portal, existing or not
    case FrontendTag::FunctionCall:
        return on_extended(Entry::FunctionCall, note);
    case FrontendTag::Sync:
        // Read while skipping, it ends the skip and answers; read in a COPY window, it is ignored
        // (decided when the window closes); with a body it fails, then answers all the same.
        skip_ = false;
        unsynced_ = false;
        return push(Entry::Sync, note);
    case FrontendTag::Flush:
        // Nothing to answer. With a body it would fail like an extended message.
        if (!body.empty() && !skip_) confuse("Flush with a body");
        return;
    case FrontendTag::CopyData:
        if (client_copy_ && copy_ != Copy::In) return;  // after the COPY failed: ignored by the server
        if (skip_ || queue_.empty()) return;             // outside a COPY: ignored by the server
        if (queue_.back() != Entry::CopyData) push(Entry::CopyData);
        return;
    case FrontendTag::CopyDone:
    case FrontendTag::CopyFail: {
        bool was_copying = client_copy_;
        client_copy_ = false;
        if (was_copying && copy_ != Copy::In) return;  // after the COPY failed
        if (skip_ || queue_.empty()) return;
        return push(Entry::CopyEnd);
    }
    default:
        // Terminate ends the backend; anything else is a protocol violation that ends it too.
        return confuse("a client message that ends the server session");
    }
}

inline void TransactionTracker::on_extended(Entry e, std::uint32_t note) {
    if (client_copy_) {
        // During copy-in the server fails the COPY on it and closes the connection.
        if (copy_ == Copy::In)
            return confuse("a message other than CopyData/CopyDone/CopyFail/Sync/Flush during COPY FROM STDIN");
        client_copy_ = false;  // the COPY had already failed: the client just moved on
    }
    if (skip_) return;
    // Parse/Bind/Describe/Execute/Close start a transaction command that only a Sync finishes; a
    // Query or FunctionCall finishes it too (it runs in, and commits, the same implicit transaction).
    unsynced_ = e != Entry::Query && e != Entry::FunctionCall;
    push(e, note);
}

// Inlined into the relay's scan callback, its one caller: the call and the registers it saves were
// ~20 instructions a server message.
[[gnu::always_inline]] inline void TransactionTracker::on_server_message(protocol::BackendTag tag, std::string_view body) {
    using protocol::BackendTag;
    if (confused_) return;
    switch (tag) {
    case BackendTag::ParseComplete:
        return expect(Entry::Parse);
    case BackendTag::BindComplete:
        return expect(Entry::Bind);
    case BackendTag::CloseComplete:
        return expect(Entry::Close);
    case BackendTag::ParameterDescription:
        if (copy_ == Copy::None && front_is(Entry::DescribeStatement, Entry::DescribeStatement))
            return queue_.set_front(Entry::DescribeStatementRows);
        return confuse("ParameterDescription without a Describe of a statement");
    case BackendTag::RowDescription:
        if (copy_ == Copy::None && front_is(Entry::Query, Entry::Query)) return;
        [[fallthrough]];
    case BackendTag::NoData:
        if (copy_ == Copy::None && front_is(Entry::DescribeStatementRows, Entry::DescribePortal)) return pop();
        return confuse("RowDescription/NoData without a Describe");
    case BackendTag::DataRow:
        if (copy_ == Copy::None && front_is(Entry::Execute, Entry::Query)) return;
        return confuse("DataRow without an Execute or Query");
    case BackendTag::CommandComplete:
        return on_command_complete();
    case BackendTag::EmptyQueryResponse:
    case BackendTag::PortalSuspended:
        if (copy_ == Copy::None && !queue_.empty()) {
            if (queue_.front() == Entry::Execute) return pop();
            if (queue_.front() == Entry::Query && tag == BackendTag::EmptyQueryResponse) return;
        }
        return confuse("EmptyQueryResponse/PortalSuspended without an Execute");
    case BackendTag::CopyInResponse:
    case BackendTag::CopyBothResponse:
        return on_copy_in_response();
    case BackendTag::CopyOutResponse:
        if (copy_ == Copy::None && front_is(Entry::Execute, Entry::Query)) {
            copy_ = Copy::Out;
            return;
        }
        return confuse("CopyOutResponse without an Execute or Query");
    case BackendTag::CopyData:
    case BackendTag::CopyDone:
        if (copy_ != Copy::None) return;
        return confuse("CopyData/CopyDone from the server outside a COPY");
    case BackendTag::FunctionCallResponse:
        if (copy_ == Copy::None && front_is(Entry::FunctionCall, Entry::FunctionCall)) return;
        return confuse("FunctionCallResponse without a FunctionCall");
    case BackendTag::ErrorResponse:
        return on_error(body);
    case BackendTag::ReadyForQuery:
        return on_ready_for_query(body);
    case BackendTag::NoticeResponse:
    case BackendTag::NotificationResponse:
    case BackendTag::ParameterStatus:
        return;  // asynchronous
    default:
        return confuse("a server message that has no place after login");
    }
}

inline void TransactionTracker::on_ready_for_query(std::string_view body) noexcept {
    if (body.size() != 1 || (body[0] != 'I' && body[0] != 'T' && body[0] != 'E'))
        return confuse("malformed ReadyForQuery");
    if (copy_ != Copy::None || queue_.empty() ||
        (queue_.front() != Entry::Sync && queue_.front() != Entry::Query && queue_.front() != Entry::FunctionCall))
        return confuse("ReadyForQuery without a Sync, Query or FunctionCall");
    status_ = static_cast<protocol::TxStatus>(body[0]);
    pop();
}

inline void TransactionTracker::on_command_complete() noexcept {
    if (copy_ == Copy::In) {
        // The COPY read the client's stream up to its CopyDone, ignoring the Syncs on the way.
        bool closed = false;
        std::size_t end = copy_window_end(closed);
        if (!closed) return confuse("COPY FROM STDIN completed before the client's CopyDone");
        queue_.erase(1, end - 1);
    }
    copy_ = Copy::None;
    if (!queue_.empty()) {
        if (queue_.front() == Entry::Execute) return pop();
        if (queue_.front() == Entry::Query) return;
    }
    confuse("CommandComplete without an Execute or Query");
}

inline void TransactionTracker::on_copy_in_response() noexcept {
    if (copy_ != Copy::None || !front_is(Entry::Execute, Entry::Query))
        return confuse("CopyInResponse without an Execute or Query");
    bool closed = false;
    std::size_t end = copy_window_end(closed);
    for (std::size_t i = 1; i < end; ++i) {
        auto e = queue_.at(i);
        if (e != Entry::Sync && e != Entry::CopyData && e != Entry::CopyEnd)
            return confuse("a message other than CopyData/CopyDone/CopyFail/Sync/Flush during COPY FROM STDIN");
    }
    copy_ = Copy::In;
    client_copy_ = !closed;
}

inline std::size_t TransactionTracker::copy_window_end(bool& closed) const noexcept {
    closed = false;
    std::size_t n = queue_.size();
    for (std::size_t i = 1; i < n; ++i) {
        if (queue_.at(i) == Entry::CopyEnd) {
            closed = true;
            return i + 1;
        }
    }
    return n;
}

inline void TransactionTracker::on_error(std::string_view body) noexcept {
    if (queue_.empty()) return confuse("ErrorResponse with nothing outstanding");
    if (copy_ == Copy::In && !resolve_copy_in_error(body)) return;
    copy_ = Copy::None;
    switch (queue_.front()) {
    case Entry::Sync:          // the commit failed; ReadyForQuery follows
    case Entry::Query:         // the rest of the query string is skipped; ReadyForQuery follows
    case Entry::FunctionCall:  // ReadyForQuery follows
        return;
    default:
        // An extended-protocol message: the server discards everything until the next Sync.
        queue_.pop_front();
        while (!queue_.empty() && queue_.front() != Entry::Sync) queue_.pop_front();
        if (queue_.empty()) skip_ = true;
        return;
    }
}

inline bool TransactionTracker::resolve_copy_in_error(std::string_view body) noexcept {
    bool closed = false;
    std::size_t end = copy_window_end(closed);
    std::size_t syncs = 0;
    bool copy_message_seen = false;  // a CopyData/CopyDone/CopyFail was forwarded in the window
    bool sync_after_copy_message = false;
    for (std::size_t i = 1; i < end; ++i) {
        if (queue_.at(i) == Entry::Sync) {
            ++syncs;
            sync_after_copy_message |= copy_message_seen;
        } else {
            copy_message_seen = true;
        }
    }
    if (syncs > 0) {
        // Only Syncs in the window: the server failed before reading any of it (see the top), so
        // it reads them as ordinary Syncs. Nothing to drop.
        if (!copy_message_seen) return true;
        if (sync_after_copy_message || !rows_were_read(body)) {
            confuse("an error during COPY FROM STDIN with Syncs of unknown fate in the COPY data");
            return false;
        }
    }
    // The server read the leading Syncs (ignored) and ignores the rest of the window.
    queue_.erase(1, end - 1);
    return true;
}

inline bool TransactionTracker::rows_were_read(std::string_view body) noexcept {
    // ErrorResponse fields: type byte, NUL-terminated value; a zero type byte ends the list.
    std::string_view code;
    std::string_view where;
    std::size_t pos = 0;
    while (pos < body.size() && body[pos] != '\0') {
        char type = body[pos++];
        std::size_t nul = body.find('\0', pos);
        if (nul == std::string_view::npos) return false;
        std::string_view value = body.substr(pos, nul - pos);
        if (type == 'C') code = value;
        if (type == 'W') where = value;
        pos = nul + 1;
    }
    if (code.size() != 5 || code[0] != '2' || (code[1] != '2' && code[1] != '3')) return false;
    // Errors while reading or storing rows carry COPY's own context line, last (outermost); errors
    // of AFTER triggers and constraint checks at the end of the statement carry none, or a trigger's.
    if (where.empty()) return true;
    auto nl = where.rfind('\n');
    std::string_view last = nl == std::string_view::npos ? where : where.substr(nl + 1);
    return last.substr(0, 5) == "COPY ";
}

}  // namespace sluice::proxy
