#include "proxy/relay.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <cstring>

#include "protocol/ascii.hpp"
#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/sqlstate.hpp"
#include "proxy/log_exception.hpp"
#include "proxy/pool.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {

namespace p = protocol;

namespace {
const std::bitset<256> kTrackerTags = TransactionTracker::server_tags();

// A tracker note: the Reply in the low bits, and (index + 1) of the Noted record above them.
constexpr std::uint32_t kReplyBits = 4;
constexpr std::uint32_t kReplyMask = (1u << kReplyBits) - 1;

// The longest Parse text (or body) a relay remembers as harmless: longer ones are rarely sent
// in a loop, and every client would keep one.
constexpr std::size_t kRememberedTextMax = 1024;

// CommandComplete "DEALLOCATE".
constexpr std::string_view kDeallocateComplete{"C\0\0\0\x0f" "DEALLOCATE\0", 16};

// A NUL-terminated string at `offset` of a message body; npos past its end when there is none.
std::size_t cstring_end(std::string_view body, std::size_t offset) {
    return offset > body.size() ? std::string_view::npos : body.find('\0', offset);
}

// A message's tag and length, for a body of `body_size` bytes.
void append_header(std::string& out, char tag, std::size_t body_size) {
    out += tag;
    auto len = static_cast<std::uint32_t>(body_size + 4);
    for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>((len >> shift) & 0xff);
}

std::string frame_message(char tag, std::string_view body) {
    std::string out;
    out.reserve(body.size() + 5);
    append_header(out, tag, body.size());
    out += body;
    return out;
}

// Close or Describe of a statement.
std::string statement_message(char tag, std::string_view name) {
    std::string body;
    body += 'S';
    body += name;
    body += '\0';
    return frame_message(tag, body);
}

}  // namespace

static_assert(static_cast<std::uint32_t>(Relay::reply_count()) <= (1u << kReplyBits));

Relay::Relay(Stream& client, ClientSettings& settings, ClientStatements& statements, CancelSlot& cancel_slot,
             Lending lending, std::size_t max_prepared)
    : client_(client),
      settings_(settings),
      statements_(statements),
      cancel_slot_(cancel_slot),
      lending_(lending),
      // Lent for the whole session, a server keeps the client's own names.
      max_prepared_(lending == Lending::Session ? 0 : max_prepared) {}

void Relay::attach(Lease lease) {
    lease_ = std::move(lease);
    tracker_.reset();
    doom_.reset();
    noted_.clear();
    held_ = 0;
    unnamed_deallocates_ = false;
    unnamed_portal_deallocates_ = false;
    statement_started_ = transaction_started_ = cancel_sent_ = kNever;
    cancel_slot_.set(lease_->cancel_target());
    upstream_pooler_ = lease_.pool().settings().upstream_pooler;
}

// --- client -> server ---------------------------------------------------------------------------

void Relay::add(const p::Frame& frame) {
    auto tag = static_cast<p::FrontendTag>(frame.tag);
    if (!has_batch()) idle_before_batch_ = tracker_.pending() == 0;
    if (upstream_pooler_) behind_upstream_pooler(tag);
    // SQL text that may touch session state or prepared statements (one cheap scan per text,
    // before anything parses it).
    bool flagged = false;
    const bool sql_text = tag == p::FrontendTag::Query || tag == p::FrontendTag::Parse;
    std::string_view text;
    if (sql_text && (guard_ || lending_ == Lending::Transaction || max_prepared_ > 0)) {
        if (tag == p::FrontendTag::Query) {
            text = frame.body.substr(0, frame.body.find('\0'));
        } else if (auto name_end = cstring_end(frame.body, 0); name_end != std::string_view::npos) {
            auto query_end = cstring_end(frame.body, name_end + 1);
            if (query_end != std::string_view::npos) text = frame.body.substr(name_end + 1, query_end - name_end - 1);
        }
        // A Parse's values come as parameters, so clients send the same texts again and again: the
        // last one found harmless is not scanned again. (A Query's text has its values inline.)
        bool parse = tag == p::FrontendTag::Parse;
        if (!parse || text != harmless_text_) {
            flagged = sql::may_change_session(text);
            if (parse && !flagged && text.size() <= kRememberedTextMax) harmless_text_.assign(text);
        }
    }
    if (sql_text && guard_) {
        if (auto blocked = guard_->check(text, settings_, flagged)) return refuse(frame, std::move(*blocked));
    }
    if (sql_text && (lending_ == Lending::Transaction || max_prepared_ > 0)) {
        if (flagged && analyses_ && lending_ == Lending::Transaction && check_session_state(frame, text)) return;
    }
    if (max_prepared_ > 0) {
        auto& server = lease_->statements();
        // Statements a failed plan left behind go first, before anything may prepare them again.
        if (!has_batch() && !server.to_close.empty()) {
            for (auto& name : server.to_close) send_own(statement_message('C', name), Reply::InjectedClose);
            server.to_close.clear();
        }
        const auto& body = frame.body;
        switch (tag) {
        case p::FrontendTag::Query:
            if (flagged && add_deallocation(frame, body.substr(0, body.find('\0')))) return;
            break;
        case p::FrontendTag::Parse:
            if (!body.empty() && body[0] != '\0') return add_parse(frame);
            unnamed_deallocates_ = false;
            if (auto query_end = cstring_end(body, 1);
                flagged && query_end != std::string_view::npos && add_deallocation(frame, body.substr(1, query_end - 1)))
                return;
            break;
        case p::FrontendTag::Execute:
            if (unnamed_portal_deallocates_ && !body.empty() && body[0] == '\0')
                return pass(frame, static_cast<std::uint32_t>(Reply::EmptyAsDeallocate));
            break;
        case p::FrontendTag::Bind: {
            auto portal_end = cstring_end(body, 0);
            auto name_end = cstring_end(body, portal_end + 1);
            if (portal_end == 0) unnamed_portal_deallocates_ = unnamed_deallocates_ && name_end == 1;
            if (name_end != std::string_view::npos && name_end > portal_end + 1)
                return add_statement_use(frame, body.substr(portal_end + 1, name_end - portal_end - 1), portal_end + 1,
                                         Reply::TrackedBind);
            break;
        }
        case p::FrontendTag::Describe:
        case p::FrontendTag::Close: {
            if (body.size() < 2 || body[0] != 'S' || body[1] == '\0') break;
            auto name_end = cstring_end(body, 1);
            if (name_end == std::string_view::npos) break;
            auto name = body.substr(1, name_end - 1);
            if (tag == p::FrontendTag::Close) {
                // The server never had the client's name: its CloseComplete is the right answer.
                statements_.erase(name);
                break;
            }
            return add_statement_use(frame, name, 1, Reply::Pass);
        }
        default:
            break;
        }
    }
    pass(frame);
}

void Relay::behind_upstream_pooler(p::FrontendTag tag) {
    using T = p::FrontendTag;
    message_starts_transaction_ = false;
    switch (tag) {
    case T::Query:
    case T::FunctionCall:
    case T::Sync:
        // They end the implicit transaction (a Query or FunctionCall also runs in it): close what
        // sluice prepared in it, while it is still on the same backend.
        if (max_prepared_ > 0)
            for (const auto& name : lease_->statements().take_all())
                send_own(statement_message('C', name), Reply::InjectedClose);
        if (tag == T::Sync) return;
        break;
    case T::Parse:
    case T::Bind:
    case T::Describe:
    case T::Execute:
        break;
    default:
        return;
    }
    // Only where the server is idle, outside any block (a pipelined transaction behind another
    // goes without: the server's state there is not known yet).
    if (!tracker_.idle()) return;
    message_starts_transaction_ = true;
    set_local_settings();
}

void Relay::set_local_settings() {
    auto& pool = lease_.pool();
    const std::pair key{settings_.fingerprint, pool.touched_version()};
    if (local_settings_for_ != key) {
        local_settings_.clear();
        auto sql = local_settings_statement(settings_.params(), *pool.defaults(), pool.touched_settings());
        if (!sql.empty()) {
            // The unnamed statement and portal: a transaction starts here, so the client has
            // neither yet (its own Parse comes after).
            local_settings_.resize(3);
            p::Parse{"", sql, {}}.encode(local_settings_[0]);
            p::Bind{"", "", {}, {}, {}}.encode(local_settings_[1]);
            p::Execute{"", 0}.encode(local_settings_[2]);
        }
        local_settings_for_ = key;
    }
    for (const auto& message : local_settings_) send_own(message, Reply::LocalSettings);
}

void Relay::pass(const p::Frame& frame, std::uint32_t note) {
    auto tag = static_cast<p::FrontendTag>(frame.tag);
    tracker_.on_client_message(tag, frame.body, note);
    if (tag == p::FrontendTag::Query && may_change_role(frame.body)) lease_->set_role_may_have_changed(true);
    // As in add(): the last Parse found harmless is not scanned again.
    if (tag == p::FrontendTag::Parse && frame.body != roleless_body_) {
        if (may_change_role(frame.body)) lease_->set_role_may_have_changed(true);
        else if (frame.body.size() <= kRememberedTextMax) roleless_body_.assign(frame.body);
    }
    if (!batch_copy_.empty()) {
        batch_copy_ += frame.wire;
    } else {
        if (!batch_begin_) batch_begin_ = frame.wire.data();
        batch_size_ = static_cast<std::size_t>(frame.wire.data() + frame.wire.size() - batch_begin_);
    }
}

std::string& Relay::batch_for_rewrite() {
    if (batch_copy_.empty() && batch_size_ > 0) batch_copy_.assign(batch_begin_, batch_size_);
    batch_begin_ = nullptr;
    batch_size_ = 0;
    return batch_copy_;
}

void Relay::send_own(std::string_view message, Reply reply) { send_own(message, reply, Noted{}); }

void Relay::send_own(std::string_view message, Reply reply, Noted noted) {
    tracker_.on_client_message(static_cast<p::FrontendTag>(message[0]), message.substr(5),
                               note_for(reply, std::move(noted)));
    batch_for_rewrite() += message;
}

std::uint32_t Relay::note_for(Reply reply, Noted noted) {
    auto note = static_cast<std::uint32_t>(reply);
    if (reply == Reply::Pass || reply == Reply::InjectedClose) return note;  // nothing to remember
    noted.reply = reply;
    noted_.push_back(std::move(noted));
    return note | static_cast<std::uint32_t>(noted_.size()) << kReplyBits;
}

void Relay::add_parse(const p::Frame& frame) {
    auto parse = p::Parse::decode(frame.body);
    if (!parse) return pass(frame);  // the server rejects it as PostgreSQL would
    const auto name = parse->statement;
    if (statements_.find(name))
        return fail_parse(name, [&] {
            std::string error;
            p::append_error(error, p::Severity::Error, p::sqlstate::kDuplicatePreparedStatement,
                            "prepared statement \"" + std::string(name) + "\" already exists");
            return error;
        }());
    auto statement = make_server_statement(*parse);
    if (statements_.full(*statement)) {
        std::string error;
        p::append_error(error, p::Severity::Error, p::sqlstate::kConfigurationLimitExceeded,
                        "too many prepared statements on this connection (sluice keeps at most " +
                            std::to_string(ClientStatements::kMaxStatements) + ")",
                        {}, "Close prepared statements the application no longer uses.");
        return fail_parse(name, std::move(error));
    }
    statements_.add(name, statement);
    Noted noted{.statement = statement, .client_name = std::string(name)};
    if (lease_->statements().use(statement->name)) {
        // The server has it already: a Close of nothing stands in, and its CloseComplete is
        // answered as the ParseComplete the client waits for.
        return send_own(statement_message('C', kAbsentStatement), Reply::CloseAsParse, std::move(noted));
    }
    prepare_on_server(statement, Reply::ClientParse, std::move(noted));
}

bool Relay::check_session_state(const p::Frame& frame, std::string_view sql) {
    auto analysis = analyses_->get(sql);
    for (const auto& change : analysis->changes) {
        using sql::Effect;
        switch (change.effect) {
        case Effect::SetGuc:
            // Settings the server owns (session_authorization, ...) are never replayed: the server
            // is reset before anyone else gets it, and the client goes on as its login role.
            if (is_server_owned_param(change.name)) continue;
            [[fallthrough]];
        case Effect::ResetAll:
        case Effect::DiscardAll:
            if (policy_ == config::SessionStatePolicy::Pin) break;
            if (upstream_pooler_) note_for_relearning(frame, change);
            if (change.effect == Effect::SetGuc) {
                if (std::find(learn_.begin(), learn_.end(), change.name) == learn_.end()) learn_.push_back(change.name);
            } else {
                // Every setting the client has may be back to a default.
                for (const auto& [name, value] : settings_.params())
                    if (std::find(learn_.begin(), learn_.end(), name) == learn_.end()) learn_.push_back(name);
            }
            continue;
        case Effect::Unlisten:
        case Effect::AdvisoryUnlockAll:
        case Effect::CloseCursor:
        case Effect::Deallocate:
        case Effect::DeallocateAll:
        case Effect::DiscardTemp:
        case Effect::DiscardPlans:
        case Effect::DiscardSequences:
            continue;  // they only take state away
        case Effect::Listen:
        case Effect::AdvisoryLock:
        case Effect::TempObject:
        case Effect::HoldCursor:
        case Effect::Prepare:
        case Effect::LoadLibrary:
        case Effect::Unreplayable:
            break;
        }
        if (policy_ == config::SessionStatePolicy::Reject) {
            reject(frame, change);
            return true;
        }
        pin(change);
        return false;  // pinned: nothing more to watch
    }
    return false;
}

void Relay::note_for_relearning(const p::Frame& frame, const sql::SessionChange& change) {
    // Run again where its result is read (learn_settings), so only a statement that is no more
    // than a setting, sent on its own terms: a Query outside a block (inside one, the block may
    // still roll it back), SET or RESET (a SELECT set_config(...) may do more; DISCARD ALL cannot run
    // in a block, RESET ALL is its part that matters here).
    if (frame.tag != static_cast<char>(p::FrontendTag::Query) || !message_starts_transaction_) return;
    if (change.effect == sql::Effect::DiscardAll || change.effect == sql::Effect::ResetAll) {
        relearn_.push_back("RESET ALL");
        return;
    }
    auto starts_with = [&](std::string_view word) {
        const std::string_view text = change.statement;
        if (text.size() <= word.size()) return false;
        for (std::size_t i = 0; i < word.size(); ++i)
            if (p::ascii_lower(text[i]) != word[i]) return false;
        return std::isspace(static_cast<unsigned char>(text[word.size()])) != 0;
    };
    if (starts_with("set") || starts_with("reset")) relearn_.push_back(change.statement);
}

void Relay::reject(const p::Frame& frame, const sql::SessionChange& change) {
    std::string error;
    p::append_error(error, p::Severity::Error, p::sqlstate::kFeatureNotSupported,
                    "\"" + change.statement + "\" would leave session state (" + std::string(sql::to_string(change.effect)) +
                        ") on a pooled server connection, and this pool runs in transaction mode with "
                        "session_state = \"reject\"",
                    {},
                    "Use a session-mode pool (pool.mode = \"session\") for this client, or session_state = \"pin\".");
    refuse(frame, std::move(error));
}

void Relay::refuse(const p::Frame& frame, std::string error) {
    // The stand-ins name a statement no one has, so they fail with 26000 (or 25P02 in an aborted
    // transaction block, which the client then gets, as PostgreSQL would answer there).
    if (frame.tag == static_cast<char>(p::FrontendTag::Query)) {
        std::string body = "DEALLOCATE " + std::string(kAbsentStatement);
        body.push_back('\0');
        send_own(frame_message(frame.tag, body), Reply::ReplaceError, Noted{.error = std::move(error)});
    } else {
        send_own(statement_message('D', kAbsentStatement), Reply::ReplaceError, Noted{.error = std::move(error)});
    }
}

void Relay::pin(const sql::SessionChange& change) {
    lending_ = Lending::Session;
    if (on_pin_) on_pin_(change.statement);
}

bool Relay::add_deallocation(const p::Frame& frame, std::string_view sql) {
    auto found = find_deallocation(sql);
    auto& server = lease_->statements();
    switch (found.kind) {
    case Deallocation::Kind::None:
        return false;
    case Deallocation::Kind::All:
        statements_.clear();
        server.forget_all();
        return false;
    case Deallocation::Kind::Unknown:
        server.forget_all();
        return false;
    case Deallocation::Kind::One:
        break;
    }
    // A name the client never prepared with sluice: the server answers 26000 in its own words.
    if (!statements_.find(found.name)) return false;
    // The server's statement is shared and stays; the client's name goes. An empty query stands
    // in, and its EmptyQueryResponse is answered as DEALLOCATE's CommandComplete.
    statements_.erase(found.name);
    std::string body;
    if (frame.tag == static_cast<char>(p::FrontendTag::Query)) {
        body.push_back('\0');
        send_own(frame_message(frame.tag, body), Reply::EmptyAsDeallocate);
        return true;
    }
    // Parse "" "DEALLOCATE name": the same, the statement's Execute gets the stand-in answer.
    auto query_end = cstring_end(frame.body, 1);
    body.push_back('\0');
    body.push_back('\0');
    body.append(frame.body.substr(query_end + 1));  // parameter types, as they were
    send_own(frame_message(frame.tag, body), Reply::Pass);
    unnamed_deallocates_ = true;
    return true;
}

void Relay::fail_parse(std::string_view client_name, std::string error) {
    // A Describe of nothing fails on the server, which then skips to the Sync as it would after
    // the client's own failed Parse (and aborts a transaction block); its error is replaced.
    send_own(statement_message('D', kAbsentStatement), Reply::ReplaceError,
             Noted{.client_name = std::string(client_name), .error = std::move(error)});
}

void Relay::add_statement_use(const p::Frame& frame, std::string_view client_name, std::size_t name_offset,
                              Reply reply) {
    auto known = statements_.find(client_name);
    // Unknown: the server does not know the name either, and says so (26000) in its own words.
    if (!known) return pass(frame);
    // Each execution of a statement that changes session state changes it again.
    if (reply == Reply::TrackedBind && known->may_change_session && analyses_ && lending_ == Lending::Transaction &&
        check_session_state(frame, known->query()))
        return;
    if (!lease_->statements().use(known->name)) prepare_on_server(known, Reply::InjectedParse, Noted{.statement = known});
    // Outside a transaction block with nothing before it in flight, the Bind can be sent again
    // if DDL changes the statement's result under it (see retry()).
    // (Not behind an upstream pooler: the replay would hold sluice's Close of the statement, and
    // the client gets the 0A000 as PostgreSQL itself would answer.)
    bool retryable = reply == Reply::TrackedBind && tracker_.pending() == 0 && tracker_.status() == p::TxStatus::Idle &&
                     !upstream_pooler_;
    // The message under the server's name, written straight into the batch.
    auto& batch = batch_for_rewrite();
    std::size_t start = batch.size();
    append_header(batch, frame.tag, frame.body.size() - client_name.size() + known->name.size());
    batch.append(frame.body.substr(0, name_offset));
    batch.append(known->name);
    batch.append(frame.body.substr(name_offset + client_name.size()));
    tracker_.on_client_message(static_cast<p::FrontendTag>(frame.tag), std::string_view(batch).substr(start + 5),
                               note_for(reply, Noted{.statement = std::move(known), .batch_offset = start}));
    if (retryable) replay_candidates_.push_back(noted_.size() - 1);
}

bool Relay::keep_replays() {
    bool kept = false;
    for (auto index : replay_candidates_) {
        auto& noted = noted_[index];
        // The messages from the Bind to the first Sync, if that Sync ends the batch (nothing after
        // it may run before a retry).
        std::size_t pos = noted.batch_offset;
        while (pos + 5 <= batch_copy_.size()) {
            p::ByteReader r(std::string_view(batch_copy_).substr(pos + 1, 4));
            std::size_t end = pos + 1 + static_cast<std::uint32_t>(r.i32());
            if (end > batch_copy_.size()) break;
            if (batch_copy_[pos] == static_cast<char>(p::FrontendTag::Sync)) {
                if (end == batch_copy_.size()) {
                    noted.replay_size = end - noted.batch_offset;
                    kept = true;
                }
                break;
            }
            pos = end;
        }
    }
    replay_candidates_.clear();
    return kept;
}

void Relay::prepare_on_server(const std::shared_ptr<const ServerStatement>& statement, Reply reply, Noted noted) {
    auto& server = lease_->statements();
    // Behind an upstream pooler, a transaction that failed before its Close may have left the
    // statement on the backend: a Close of nothing succeeds.
    if (upstream_pooler_) send_own(statement_message('C', statement->name), Reply::InjectedClose);
    for (auto& evicted : server.add(statement->name, max_prepared_))
        send_own(statement_message('C', evicted), Reply::InjectedClose);
    send_own(statement->parse_message, reply, std::move(noted));
}

bool Relay::forgettable() const noexcept {
    return !lease_ && !end_ && timer_at_ == kNever && !learning_ && !replaying_ && !cancelling_ && !pump_running_ &&
           !writing_;
}

void Relay::release_memory() noexcept {
    for (auto* text : {&batch_copy_, &replay_batch_, &edited_, &harmless_text_, &roleless_body_}) {
        text->clear();
        text->shrink_to_fit();
    }
    noted_ = {};
    edits_ = {};
    replay_candidates_ = {};
    local_settings_ = {};
    local_settings_for_.reset();
}

bool Relay::transaction_over() const {
    return tracker_.idle() && lease_->scanner().at_boundary();
}

void Relay::fail(ServerCloseReason reason, SessionEnd end) {
    if (!doom_) doom_ = reason;
    if (!end_) end_ = std::move(end);
    // Wake the pump if it waits on the server; it settles on its way out.
    error_code ignored;
    if (lease_) lease_->stream().socket().cancel(ignored);
}

Relay::Forwarded Relay::forward_now(const std::shared_ptr<void>& keep_alive) {
    if (must_wait_to_forward()) return Forwarded::Pending;
    if (end_) return Forwarded::Ended;
    start_write(keep_alive);
    auto bytes = batch_bytes();
    error_code ec;
    if (!lease_->stream().write_all_now(bytes.data(), bytes.size(), written_, ec) && !ec) return Forwarded::Pending;
    return finish_write(ec);
}

awaitable<Relay::Forwarded> Relay::forward(const std::shared_ptr<void>& keep_alive) {
    auto& stream = lease_->stream();
    if (!writing_) {  // forward_now() did not start: wait, then it can
        while (must_wait_to_forward()) co_await until_woken();
        if (auto forwarded = forward_now(keep_alive); forwarded != Forwarded::Pending) co_return forwarded;
    }
    auto rest = batch_bytes().substr(written_);
    auto [ec, n] = co_await stream.write_all(asio::buffer(rest.data(), rest.size()));
    co_return finish_write(ec);
}

bool Relay::must_wait_to_forward() const noexcept {
    // Also after sluice's own cancel: it must not reach the server once the next statement runs.
    return learning_ || replaying_ || (cancelling_ && !end_);
}

std::string_view Relay::batch_bytes() const noexcept {
    return batch_copy_.empty() ? std::string_view(batch_begin_, batch_size_) : std::string_view(batch_copy_);
}

void Relay::start_write(const std::shared_ptr<void>& keep_alive) {
    if (limits_on_) {
        auto now = Clock::now();
        if (idle_before_batch_ || statement_started_ == kNever) statement_started_ = now;
        if (transaction_started_ == kNever) transaction_started_ = now;
        watch_limits(now);
    }
    // The batch stays put during the write: the session adds nothing before forwarding ends.
    keep_batch_ = !replay_candidates_.empty() && keep_replays();
    written_ = 0;
    // Busy before the pump starts, so that a pump that finds nothing to wait for does not give
    // the server back under this write.
    writing_ = true;
    if (!pump_running_) {
        pump_running_ = true;
        pump_keep_alive_ = keep_alive;
        pump_next();
    }
}

Relay::Forwarded Relay::finish_write(error_code ec) {
    writing_ = false;
    batch_begin_ = nullptr;
    batch_size_ = 0;
    // A batch a Bind may be retried from stays until the next such batch (when nothing of this
    // one is outstanding any more): swapped, not copied, and both keep their capacity.
    if (keep_batch_) std::swap(batch_copy_, replay_batch_);
    batch_copy_.clear();
    if (ec == asio::error::timed_out)
        fail(ServerCloseReason::WriteFailed,
             SessionEnd::because(EndReason::ServerLost, "the server stopped reading (timeouts.server_write)",
                                 "Retry the transaction; raise timeouts.server_write if statements run that long."));
    else if (ec)
        fail(ServerCloseReason::WriteFailed,
             SessionEnd::because(EndReason::ServerLost, "could not send to the server: " + ec.message(),
                                 "Retry the transaction."));
    settle();
    return end_ ? Forwarded::Ended : Forwarded::Done;
}

void Relay::pump_next() {
    if (letting_go_ || doom_ || (lending_ == Lending::Transaction && transaction_over())) return pump_done();
    auto& server = *lease_;  // the lease stays put while the pump runs: settle() waits for it
    // On the session's executor (its strand with several workers), never the server socket's:
    // the pump and the session must not run at once.
    auto& buffer = server.read_buffer();
    // Where the next message starts: after what was read, or at the start of the held bytes (the
    // beginning of a message being edited); unknown inside a message streaming through.
    const auto& scanner = server.scanner();
    const char* first_frame = scanner.at_boundary()                               ? buffer.data() + held_
                              : held_ != 0 && scanner.partial_bytes() == held_ ? buffer.data()
                                                                                 : nullptr;
    TurnReadBuffer space(asio::buffer(buffer.data() + held_, buffer.size() - held_), first_frame, kServerTurnEnd);
    auto read = [this](error_code ec, std::size_t n) { pump_read(ec, n); };
    // With one worker both sockets are on the io_context's executor: the completion runs there
    // without a binder's copies of the type-erased executor (~80 instructions a transaction).
    if (WorkerMutex::single_worker()) return server.stream().async_read_some(space, std::move(read));
    server.stream().async_read_some(space, asio::bind_executor(client_.executor(), std::move(read)));
}

void Relay::pump_read(error_code ec, std::size_t n) {
    if (n > 0) {
        // Even when the client is leaving these bytes are its own: follow them, so the server's
        // state at the end is known.
        if (!follow(std::string_view(lease_->read_buffer().data() + held_, n))) return pump_done();
        std::string_view chunk = apply_edits(held_ + n);
        settle_noted();
        if (!client_gone_ && !chunk.empty()) {
            client_between_messages_ = false;
            error_code wec;
            std::size_t written = client_.write_now(chunk.data(), chunk.size(), wec);
            if (!wec && written < chunk.size()) return deliver_slowly(chunk.substr(written), ec);
            delivered(wec);
        }
        if (doom_) return pump_done();
    }
    pump_continue(ec);
}

void Relay::pump_continue(error_code read_ec) {
    if (read_ec) {
        if (!(letting_go_ && read_ec == asio::error::operation_aborted)) {
            SessionEnd end = SessionEnd::because(EndReason::ServerLost,
                                                 "the server connection was lost mid-transaction: " + read_ec.message(),
                                                 "Retry the transaction.");
            // The client already has the server's own FATAL (e.g. 57P01 on a restart).
            end.client_told = server_said_fatal_;
            fail(ServerCloseReason::ServerLost, std::move(end));
        }
        return pump_done();
    }
    if (client_gone_ && !letting_go_) return pump_done();
    pump_next();
}

void Relay::deliver_slowly(std::string_view rest, error_code read_ec) {
    // `rest` stays valid: nothing reads into the server's buffer until it is delivered.
    asio::co_spawn(
        client_.executor(),
        [this, rest, read_ec]() -> awaitable<void> {
            auto [ec, n] = co_await client_.write_all(asio::buffer(rest));
            delivered(ec);
            if (doom_) {
                pump_done();
                co_return;
            }
            pump_continue(read_ec);
        },
        log_exception("relay pump"));
}

void Relay::delivered(error_code ec) {
    if (ec == asio::error::timed_out) {
        // It holds a server others may wait for: drop it rather than drain for it.
        fail(ServerCloseReason::ClientStalled,
             SessionEnd::because(EndReason::ClientStalled, "the client stopped reading its results (timeouts.client_write)"));
        client_gone_ = true;
    } else if (ec) {
        client_gone_ = true;
    } else {
        client_between_messages_ = lease_->scanner().at_boundary();
        // Session mode keeps the server: the end of a transaction shows here instead.
        if (lending_ == Lending::Session && on_idle && idle()) on_idle();
    }
}

void Relay::pump_done() {
    // The session may go with its keep-alive: nothing of this relay is touched after it.
    auto keep_alive = std::move(pump_keep_alive_);
    pump_running_ = false;
    if (pump_stopped_) pump_stopped_->cancel();
    settle();
    // Wake the session if it waits on the client (or is parked): it ends with end_.
    if (end_) client_.cancel();
}

bool Relay::follow(std::string_view chunk) {
    auto& server = *lease_;
    auto scanned = server.scanner().scan(chunk, [&](char tag, std::string_view body, std::size_t end) {
        auto t = static_cast<p::BackendTag>(tag);
        if (kTrackerTags.test(static_cast<unsigned char>(tag))) {
            // The note of the message this answers, read before the tracker moves past it.
            if (auto note = tracker_.front_note()) {
                std::size_t abs_end = held_ + end;
                std::size_t size = body.size() + 5;
                // A message to edit always starts in the buffer (see the hold below).
                on_noted_response(tag, body, note, abs_end >= size ? abs_end - size : std::string_view::npos, abs_end);
            }
            tracker_.on_server_message(t, body);
            if (t == p::BackendTag::ReadyForQuery) {
                on_ready_for_query();
                if (guard_ && tracker_.pending() == 0) guard_->settled();
            }
            if (retry_candidate_) {
                retry_candidate_ = false;
                if (tracker_.pending() == 1 && !writing_ && !has_batch()) {
                    // Only the Sync is left: the client sees neither the error nor that Sync's
                    // ReadyForQuery, but the retry's answers.
                    edits_.push_back(Edit{retry_begin_, retry_end_, {}});
                    tracker_.set_front_note((retry_note_ & ~kReplyMask) | static_cast<std::uint32_t>(Reply::RetryAfterSync));
                } else {
                    lease_->statements().to_close.push_back(noted_[(retry_note_ >> kReplyBits) - 1].statement->name);
                }
            }
            if (retry_now_ != 0) {
                retry(retry_now_);
                retry_now_ = 0;
            }
        }
        if (t == p::BackendTag::ErrorResponse) {
            if (auto fields = p::ErrorFields::decode(body)) {
                auto severity = fields->severity();
                server_said_fatal_ |= severity == "FATAL" || severity == "PANIC";
                // The cancel sluice sent for a statement timeout: the client learns which limit fired.
                if (cancel_sent_ != kNever && fields->get(p::ErrorField::Code) == p::sqlstate::kQueryCanceled) {
                    std::size_t abs_end = held_ + end;
                    std::size_t size = body.size() + 5;
                    if (abs_end >= size && (edits_.empty() || edits_.back().end <= abs_end - size))
                        edits_.push_back(Edit{abs_end - size, abs_end, timeout_error_});
                }
            }
        } else if (t == p::BackendTag::ParameterStatus) {
            if (auto ps = p::ParameterStatus::decode(body)) {
                server.params().insert_or_assign(std::string(ps->name), std::string(ps->value));
                if (is_server_owned_param(ps->name)) {
                    // SET SESSION AUTHORIZATION / SET ROLE show here; never the client's to keep.
                    if (ps->name == "session_authorization" || ps->name == "is_superuser")
                        server.set_role_may_have_changed(true);
                } else {
                    // The client changed a reported setting (SET TimeZone ...): it now wants it.
                    settings_.set(ps->name, ps->value);
                    server.set_synced_to(settings_.fingerprint);
                    if (upstream_pooler_) {
                        // It may linger on that backend for the upstream's next client.
                        auto defaults = lease_.pool().defaults();
                        if (auto it = defaults->find(ps->name); it != defaults->end())
                            lease_.pool().touch_setting(ps->name, it->second);
                    }
                }
            }
        }
        return true;
    });
    if (!scanned) {
        spdlog::error("server S{} sent a malformed message stream: {}", server.id(), scanned.error().message);
        fail(ServerCloseReason::ServerProtocolError, SessionEnd::because(EndReason::ServerLost, "the server sent malformed data"));
        return false;
    }
    // A response sluice must edit that this read ended inside: keep its bytes for the next read.
    hold_ = 0;
    char partial = server.scanner().partial_tag();
    if (partial != '\0') {
        auto reply = static_cast<Reply>(tracker_.front_note() & kReplyMask);
        bool edited = (reply == Reply::InjectedParse && partial == '1') ||
                      (reply == Reply::EmptyAsDeallocate && partial == 'I') ||
                      ((reply == Reply::InjectedClose || reply == Reply::CloseAsParse) && partial == '3') ||
                      (reply == Reply::ReplaceError && partial == 'E') ||
                      (reply == Reply::LocalSettings && (partial == '1' || partial == '2' || partial == 'C' || partial == 'E'));
        // A 0A000 that may be retried, and the ReadyForQuery after it: kept while they are small
        // (a big error is not one that is retried).
        bool may_edit = (reply == Reply::TrackedBind && partial == 'E') || (reply == Reply::RetryAfterSync && partial == 'Z') ||
                        (cancel_sent_ != kNever && partial == 'E');
        if (edited || (may_edit && server.scanner().partial_bytes() <= 4096)) hold_ = server.scanner().partial_bytes();
        // Such a response is a few bytes; more means the server is not what sluice took it for.
        if (hold_ > server.read_buffer().size() / 2) {
            fail(ServerCloseReason::ServerProtocolError,
                 SessionEnd::because(EndReason::ServerLost, "the server sent malformed data"));
            return false;
        }
    }
    if (tracker_.confused()) {
        spdlog::error("server S{} answered in a way sluice cannot follow: {}", server.id(), tracker_.confusion());
        fail(ServerCloseReason::StateUnknown,
             SessionEnd::because(EndReason::ServerLost, "sluice lost track of the server's state",
                                 "Retry the transaction; report this to the sluice developers."));
    }
    return true;
}

void Relay::on_noted_response(char tag, std::string_view body, std::uint32_t note, std::size_t begin,
                              std::size_t end) {
    auto reply = static_cast<Reply>(note & kReplyMask);
    Noted* noted = (note >> kReplyBits) != 0 ? &noted_[(note >> kReplyBits) - 1] : nullptr;
    auto edit = [&](std::string_view replacement) {
        if (begin == std::string_view::npos) {
            fail(ServerCloseReason::StateUnknown,
                 SessionEnd::because(EndReason::ServerLost, "sluice lost track of the server's responses",
                                     "Retry the transaction; report this to the sluice developers."));
            return;
        }
        edits_.push_back(Edit{begin, end, replacement});
    };
    auto& server = lease_->statements();
    switch (reply) {
    case Reply::Pass:
    case Reply::Count:
        return;
    case Reply::ClientParse:
    case Reply::InjectedParse:
        if (tag == static_cast<char>(p::BackendTag::ParseComplete)) {
            noted->answered = true;
            if (reply == Reply::InjectedParse) edit({});
        } else if (tag == static_cast<char>(p::BackendTag::ErrorResponse)) {
            // PostgreSQL's own error reaches the client where its message was (a re-Parse of a
            // dropped table fails in place of the Bind that needed it).
            noted->answered = true;
            server.erase(noted->statement->name);
            if (reply == Reply::ClientParse) statements_.erase(noted->client_name);
        }
        return;
    case Reply::InjectedClose:
        if (tag == static_cast<char>(p::BackendTag::CloseComplete)) edit({});
        return;
    case Reply::CloseAsParse:
        if (tag == static_cast<char>(p::BackendTag::CloseComplete)) {
            noted->answered = true;
            if (begin == std::string_view::npos) return edit({});  // fails the relay
            lease_->read_buffer()[begin] = static_cast<char>(p::BackendTag::ParseComplete);
        }
        return;
    case Reply::ReplaceError:
        if (tag == static_cast<char>(p::BackendTag::ErrorResponse)) {
            noted->answered = true;
            // Only the stand-in's own failure: in an aborted transaction block the server's 25P02 is
            // what PostgreSQL would have answered the client's message too.
            auto fields = p::ErrorFields::decode(body);
            if (!fields || fields->get(p::ErrorField::Code) == p::sqlstate::kInvalidSqlStatementName) edit(noted->error);
        }
        return;
    case Reply::EmptyAsDeallocate:
        if (tag == static_cast<char>(p::BackendTag::EmptyQueryResponse)) edit(kDeallocateComplete);
        return;
    case Reply::LocalSettings:
        edit({});
        if (tag == static_cast<char>(p::BackendTag::ErrorResponse)) {
            // The client's messages behind it are skipped to a Sync that may never come: the
            // session ends, as a login with that setting would have.
            auto fields = p::ErrorFields::decode(body);
            fail(ServerCloseReason::SettingsRejected,
                 SessionEnd::because(EndReason::InvalidStartupParameter,
                                     "the upstream rejected a setting of this session: " +
                                         (fields ? std::string(fields->message()) : std::string("(undecodable error)"))));
        }
        return;
    case Reply::TrackedBind:
        if (tag == static_cast<char>(p::BackendTag::ErrorResponse)) {
            auto fields = p::ErrorFields::decode(body);
            // "cached plan must not change result type": DDL changed a table under the shared
            // statement. Drop it from this server so the next use prepares it afresh.
            if (fields && fields->get(p::ErrorField::Code) == p::sqlstate::kFeatureNotSupported) {
                server.erase(noted->statement->name);
                if (noted->replay_size > 0 && begin != std::string_view::npos) {
                    // Decided once the tracker has followed the error (follow()).
                    retry_candidate_ = true;
                    retry_begin_ = begin;
                    retry_end_ = end;
                    retry_note_ = note;
                    noted->error.assign(lease_->read_buffer().data() + begin, end - begin);
                } else {
                    server.to_close.push_back(noted->statement->name);
                }
            }
        }
        return;
    case Reply::RetryAfterSync:
        if (tag == static_cast<char>(p::BackendTag::ReadyForQuery)) {
            noted->answered = true;
            if (!writing_ && !has_batch() && begin != std::string_view::npos) {
                edit({});
                retry_now_ = note;  // once the tracker has followed this ReadyForQuery
            } else {
                // The client sent more meanwhile: no retry after all; its error comes back.
                edits_.push_back(Edit{begin == std::string_view::npos ? end : begin, begin == std::string_view::npos ? end : begin, noted->error});
                server.to_close.push_back(noted->statement->name);
            }
        }
        return;
    }
}

void Relay::retry(std::uint32_t note) {
    // Copies first: noted_ grows below.
    Noted& failed = noted_[(note >> kReplyBits) - 1];
    auto statement = failed.statement;
    // Still put: replay_batch_ changes only with the next batch, which waits for this retry.
    std::string_view replay = std::string_view(replay_batch_).substr(failed.batch_offset, failed.replay_size);
    auto& server = lease_->statements();
    std::string out;
    auto queue = [&](std::string_view message, Reply reply, Noted noted) {
        tracker_.on_client_message(static_cast<p::FrontendTag>(message[0]), message.substr(5),
                                   note_for(reply, std::move(noted)));
        out += message;
    };
    // The server still has the stale statement: close it, prepare it afresh, run the client's messages.
    queue(statement_message('C', statement->name), Reply::InjectedClose, {});
    for (auto& evicted : server.add(statement->name, max_prepared_))
        queue(statement_message('C', evicted), Reply::InjectedClose, {});
    queue(statement->parse_message, Reply::InjectedParse, Noted{.statement = statement});
    std::size_t pos = 0;
    while (pos + 5 <= replay.size()) {
        p::ByteReader r(replay.substr(pos + 1, 4));
        std::size_t end = pos + 1 + static_cast<std::uint32_t>(r.i32());
        auto message = replay.substr(pos, end - pos);
        // Once only: the Bind is no longer retryable.
        queue(message, message[0] == static_cast<char>(p::FrontendTag::Bind) ? Reply::TrackedBind : Reply::Pass,
              Noted{.statement = statement});
        pos = end;
    }

    auto session = session_.lock();
    if (!session) return;
    if (limits_on_ && statement_started_ == kNever) statement_started_ = Clock::now();
    replaying_ = true;
    asio::co_spawn(
        client_.executor(),
        [this, session, out = std::move(out)]() -> awaitable<void> {
            auto [ec, n] = co_await lease_->stream().write_all(asio::buffer(out));
            replaying_ = false;
            if (ec)
                fail(ServerCloseReason::WriteFailed,
                     SessionEnd::because(EndReason::ServerLost, "could not send to the server: " + ec.message(),
                                         "Retry the transaction."));
            if (learned_) learned_->cancel();
            settle();
        },
        log_exception("retrying a statement"));
}

void Relay::settle_noted() {
    if (noted_.empty() || tracker_.pending() != 0) return;
    // Everything sent is answered or was skipped after an error: what was skipped never happened.
    auto& server = lease_->statements();
    for (auto& noted : noted_) {
        if (noted.answered) continue;
        if (noted.reply == Reply::ClientParse || noted.reply == Reply::InjectedParse) server.erase(noted.statement->name);
        if (noted.reply == Reply::ClientParse || noted.reply == Reply::CloseAsParse) statements_.erase(noted.client_name);
    }
    noted_.clear();
}

std::string_view Relay::apply_edits(std::size_t total) {
    auto& buffer = lease_->read_buffer();
    std::size_t deliver = total - hold_;
    if (edits_.empty() && hold_ == 0) {
        held_ = 0;
        return {buffer.data(), total};
    }
    edited_.clear();
    std::size_t pos = 0;
    for (const auto& e : edits_) {
        edited_.append(buffer.data() + pos, e.begin - pos);
        edited_.append(e.replacement);
        pos = e.end;
    }
    edited_.append(buffer.data() + pos, deliver - pos);
    edits_.clear();
    std::memmove(buffer.data(), buffer.data() + deliver, hold_);
    held_ = hold_;
    return edited_;
}

void Relay::settle() {
    if (!lease_ || writing_ || pump_running_ || letting_go_ || learning_ || replaying_) return;
    // sluice's own cancel still on its way could hit the server's next client.
    if (cancelling_ && !doom_) return;
    if (doom_) {
        cancel_slot_.clear();
        lease_.close(*doom_);
        return;
    }
    if (lending_ == Lending::Session || !transaction_over()) return;
    if (!learn_.empty()) return learn_settings();
    // The client already sent its next transaction (while sluice read its settings): it goes to
    // this same server.
    if (has_batch()) return;
    cancel_slot_.clear();
    lease_.give_back();
    if (on_idle) on_idle();
}

void Relay::learn_settings() {
    auto session = session_.lock();
    if (!session) return;
    learning_ = true;
    // The client may send more SETs meanwhile (pgjdbc sends two in a row at connect): they are
    // read on the next round, after the server has run them.
    std::vector<std::string> names = std::move(learn_);
    learn_.clear();
    std::string sql = "SELECT ";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) sql += ", ";
        // missing_ok: a custom setting may be gone again (RESET app.x).
        sql += "pg_catalog.current_setting(" + quote_literal(names[i]) + ", true)";
        // Behind an upstream pooler, also the default, for the clients that never set it.
        if (upstream_pooler_)
            sql += ", (SELECT reset_val FROM pg_catalog.pg_settings WHERE pg_catalog.lower(name) = pg_catalog.lower(" +
                   quote_literal(names[i]) + "))";
    }
    // Behind an upstream pooler this read may run on another backend than the client's SET did:
    // the SETs run again first, in a block that is rolled back.
    std::string relearn;
    if (!relearn_.empty()) {
        relearn = "BEGIN;";
        for (const auto& statement : relearn_) relearn += statement + ";";
        relearn += sql + ";ROLLBACK";
        relearn_.clear();
    }
    const std::size_t columns = upstream_pooler_ ? 2 : 1;
    asio::co_spawn(
        client_.executor(),
        [this, session, names = std::move(names), sql = std::move(sql), relearn = std::move(relearn),
         columns]() -> awaitable<void> {
            auto result = co_await lease_->run_quietly(relearn.empty() ? sql : relearn);
            if (!relearn.empty() && (result.error || !result.ok)) {
                // A SET that failed for the client fails here too: read the settings as they are.
                bool sound = true;
                if (!result.ok) {
                    auto rollback = co_await lease_->run_quietly("ROLLBACK");
                    sound = rollback.ok && !rollback.error;
                }
                if (sound) result = co_await lease_->run_quietly(sql);
            }
            learning_ = false;
            if (!result.ok || result.error || result.first_row.size() != names.size() * columns) {
                spdlog::warn("server S{}: could not read the session settings a client changed{}", lease_->id(),
                             result.error ? ": " + std::string(result.error->message()) : std::string());
                fail(ServerCloseReason::StateUnknown,
                     SessionEnd::because(EndReason::ServerLost, "sluice could not read the settings this session changed",
                                         "Retry; report this to the sluice developers if it persists."));
            } else {
                auto& server = *lease_;
                for (std::size_t i = 0; i < names.size(); ++i) {
                    const auto& value = result.first_row[i * columns];
                    if (columns == 2 && result.first_row[i * 2 + 1])
                        lease_.pool().touch_setting(names[i], *result.first_row[i * 2 + 1]);
                    if (value) {
                        settings_.edit().insert_or_assign(names[i], *value);
                        server.params().insert_or_assign(names[i], *value);
                    } else {
                        settings_.edit().erase(names[i]);
                        server.params().erase(names[i]);
                    }
                }
                settings_.refresh();
                server.set_synced_to(settings_.fingerprint);
            }
            if (learned_) learned_->cancel();
            settle();
            if (end_) client_.cancel();
        },
        log_exception("reading session settings"));
}

awaitable<void> Relay::wait_for_learning() {
    while (learning_ || replaying_) co_await until_woken();
}

awaitable<void> Relay::until_woken() {
    if (!learned_) learned_.emplace(client_.executor());
    learned_->expires_at(Clock::time_point::max());
    co_await learned_->async_wait(use_tuple);
}

awaitable<void> Relay::let_go() {
    // The session is ending: no limit fires any more.
    limits_on_ = false;
    limits_ = {};
    cancel_sent_ = kNever;
    if (limit_timer_) limit_timer_->cancel();
    if (!lease_) co_return;
    co_await wait_for_learning();
    if (!lease_) co_return;
    letting_go_ = true;
    if (pump_running_) {
        error_code ignored;
        lease_->stream().socket().cancel(ignored);
        if (!pump_stopped_) pump_stopped_.emplace(client_.executor());
        pump_stopped_->expires_at(Clock::time_point::max());
        co_await pump_stopped_->async_wait(use_tuple);
    }
    bool sound = !doom_ && !tracker_.confused() && lease_->stream().is_open();
    bool clean = sound && transaction_over();
    // A transaction a timeout ended, idle with nothing in flight: rolled back, the server stays.
    if (sound && !clean && rolls_back_ && tracker_.pending() == 0 && lease_->scanner().at_boundary()) {
        auto rollback = co_await lease_->run_quietly("ROLLBACK");
        clean = rollback.ok && !rollback.error;
    }
    if (clean && lending_ == Lending::Session) {
        auto reset = co_await lease_->run_quietly("DISCARD ALL");
        clean = reset.ok && !reset.error;
        if (clean) {
            lease_->reset_params(*lease_.pool().defaults());
            lease_->set_role_may_have_changed(false);
            lease_->statements().clear();  // DEALLOCATE ALL is part of it
        }
    }
    letting_go_ = false;
    cancel_slot_.clear();
    if (clean) lease_.give_back();
    else lease_.close(doom_.value_or(ServerCloseReason::ClientLeftMidTransaction));
}

}  // namespace sluice::proxy
