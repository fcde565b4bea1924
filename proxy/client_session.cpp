#include "proxy/client_session.hpp"

#include <boost/asio/bind_allocator.hpp>
#include <spdlog/spdlog.h>

#include <limits>
#include <utility>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frontend.hpp"
#include "protocol/sqlstate.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/log_exception.hpp"
#include "proxy/tcp_keepalive.hpp"

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;
namespace p = protocol;

namespace {

constexpr std::size_t kIdleBufferLimit = 1024;

// The tag of the first buffered message if it has arrived whole.
std::optional<char> complete_frame_tag(const p::FrameDecoder& decoder) {
    auto bytes = decoder.pending();
    if (bytes.size() < 5) return std::nullopt;
    p::ByteReader r(bytes.substr(1, 4));
    auto len = static_cast<std::uint32_t>(r.i32());
    if (len < 4 || len > kMaxClientMessage) return bytes[0];  // let next() report the error
    if (bytes.size() < std::size_t{len} + 1) return std::nullopt;
    return bytes[0];
}

// A socket past max_client_connections waits this long at most for its startup packet, to be told
// 53300 rather than just closed.
constexpr config::Duration kRefusalWait = std::chrono::seconds(1);

SessionEnd shutting_down() {
    return SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down", "Reconnect: the pooler is restarting.");
}

}  // namespace

ClientSession::ClientSession(ProxyContext& context, Stream client, std::uint64_t id, ClientCount::Taken taken)
    : ctx_(context),
      config_(context.config),
      client_(std::move(client)),
      id_(id),
      // Until login completes a message may be no longer than PostgreSQL allows (log_in() lifts it).
      decoder_(p::kMaxAuthMessageLength),
      place_(std::move(taken.place)),
      admission_(taken.admission) {
    error_code ec;
    client_.socket().set_option(tcp::no_delay(true), ec);
    client_.set_write_timeout(config_->timeouts.client_write);
    apply_keepalive(client_.socket(), config_->tcp);
    ctx_.sessions.add(*this);
}

ClientSession::~ClientSession() {
    ctx_.sessions.remove(*this);
    ctx_.cancels.forget(cancel_slot_);
}

std::weak_ptr<ClientSession> SessionRegistry::weak_of(ClientSession& session) { return session.weak_from_this(); }
ClientSession& SessionRegistry::session_of(Entry& entry) { return static_cast<ClientSession&>(entry); }

Clock::time_point ClientSession::deadline_after(config::Duration d) {
    // Zero means "no limit" for every optional timeout in the configuration.
    return d.count() == 0 ? Clock::now() + std::chrono::hours(24 * 365 * 10) : Clock::now() + d;
}

Clock::time_point ClientSession::query_wait_deadline() const { return deadline_after(limits_.get().query_wait); }

std::string ClientSession::peer() {
    error_code ec;
    auto ep = client_.socket().remote_endpoint(ec);
    return ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
}

namespace {
constexpr std::uint32_t to_ms32(config::Duration d) noexcept {
    constexpr auto most = std::numeric_limits<std::uint32_t>::max();
    return d.count() <= 0 ? 0 : d.count() >= most ? most : static_cast<std::uint32_t>(d.count());
}
}  // namespace

ClientSession::Limits::Limits(const config::SessionTimeouts& t) noexcept
    : ms_{to_ms32(t.statement), to_ms32(t.transaction), to_ms32(t.idle_in_transaction), to_ms32(t.client_idle),
          to_ms32(t.query_wait)} {}

config::SessionTimeouts ClientSession::Limits::get() const noexcept {
    using config::Duration;
    return {Duration(ms_[0]), Duration(ms_[1]), Duration(ms_[2]), Duration(ms_[3]), Duration(ms_[4])};
}

bool ClientSession::stopping() const noexcept { return ctx_.shutting_down || shutdown_requested_; }

void ClientSession::request_shutdown() {
    shutdown_requested_ = true;
    asio::post(client_.executor(), [self = shared_from_this()] {
        // Only an idle session is interrupted; one in a transaction stops when it ends (on_idle).
        if (!self->relay_ || self->relay_->idle()) self->client_.cancel();
    });
}

awaitable<void> ClientSession::run() {
    if (config_->logging.log_connections) spdlog::info("C{} connected from {}", id_, peer());
    if (auto failed = co_await log_in_in_time()) co_return co_await finish(*failed);
    // A client that has not spoken yet costs little while it waits, and is parked if it stays
    // silent: connecting ahead of need is what pools of idle clients (application pools) do.
    if (nothing_buffered() && !stopping()) co_return wait_for_first_query();
    co_await serve_or_park();
}

awaitable<std::optional<SessionEnd>> ClientSession::log_in_in_time() {
    auto ex = co_await asio::this_coro::executor;
    const bool refused = admission_ == Admission::Refused;
    auto login_time = config_->timeouts.client_login;
    if (refused && (login_time.count() == 0 || login_time > kRefusalWait)) login_time = kRefusalWait;
    asio::steady_timer login_deadline(ex, deadline_after(login_time));
    auto login = co_await ([this]() -> awaitable<std::optional<SessionEnd>> {
        if (auto end = co_await read_startup()) co_return end;
        co_return co_await log_in();
    }() || login_deadline.async_wait(use_tuple));
    if (login.index() == 1 && refused) co_return too_many_clients();
    if (login.index() == 1)
        co_return SessionEnd::because(EndReason::LoginTimeout, "client did not complete login within " +
                                                                   std::to_string(config_->timeouts.client_login.count()) +
                                                                   "ms (timeouts.client_login)");
    co_return std::move(std::get<0>(login));
}

awaitable<void> ClientSession::serve_or_park() {
    if (auto end = co_await serve()) co_return co_await finish(*end);
    park();
}

void ClientSession::park_if_idle() {
    asio::post(client_.executor(), [self = shared_from_this()] {
        // The wait idle_since_tick() saw may be over already (the client spoke).
        if (self->idle_tick_.load(std::memory_order_relaxed) == 0 || self->park_requested_ || self->stopping()) return;
        self->park_requested_ = true;
        self->client_.cancel();  // serve() returns nullopt, then park()
    });
}

void ClientSession::note_if_idle() {
    if (waiting_for_client_ && relay_ && !relay_->attached() && nothing_buffered())
        idle_tick_.store(ctx_.idle_clock.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

void ClientSession::release_idle_memory() {
    // Nothing is buffered (the callers make sure): the client's next bytes are all in the socket.
    decoder_.release_memory();
    client_.release_memory();
    if (!relay_) return;
    if (relay_->forgettable()) relay_.reset();
    else relay_->release_memory();
}

void ClientSession::wait_for_first_query() {
    // A client that logs in to run a query at once (pgbench -C, a serverless function) sends it a
    // round trip later: waiting in the reactor costs one epoll_ctl, a park in the lot five system
    // calls. One that stays silent is parked by the idle sweep, as after a transaction.
    release_idle_memory();
    idle_tick_.store(ctx_.idle_clock.load(std::memory_order_relaxed), std::memory_order_relaxed);
    auto first_bytes = [self = shared_from_this()](error_code) mutable {
        self->idle_tick_.store(0, std::memory_order_relaxed);
        // Asked to park (park_if_idle cancelled this wait): into the lot. Otherwise the client
        // spoke, or a cancel (shutdown, a limit that ended the session) wants serve() to see it.
        if (std::exchange(self->park_requested_, false) && !self->stopping()) return self->park();
        spawn_serving(std::move(self));
    };
    // Allocated at its own size: Asio's recycling cache would lend it whatever block a finished
    // operation or coroutine frame left (up to 1 KiB).
    client_.socket().async_wait(tcp::socket::wait_read, asio::bind_allocator(std::allocator<void>(), std::move(first_bytes)));
}

void ClientSession::park() {
    spdlog::debug("C{} parked", id_);
    release_idle_memory();
    // Until the client speaks a parked client holds this object and Asio's state for its socket.
    if (!ctx_.parking || !client_.park(*ctx_.parking, shared_from_this())) {
        // No lot (or it is out of memory): the client is waited for as by an active session.
        spawn_serving(shared_from_this());
    }
}

void ClientSession::resume(std::shared_ptr<void> owner, bool) {
    auto self = std::static_pointer_cast<ClientSession>(std::move(owner));
    auto ex = self->client_.executor();
    // Posted: the lot may call this from any thread, or from inside a cancel() of this session.
    asio::post(ex, [self = std::move(self)]() mutable {
        spdlog::debug("C{} resumed", self->id_);
        // Also when interrupted (shutdown, a limit that ended the session): serve() finds out.
        spawn_serving(std::move(self));
    });
}

void ClientSession::spawn_serving(std::shared_ptr<ClientSession> self) {
    auto ex = self->client_.executor();
    auto what = "session C" + std::to_string(self->id_);
    // The function object (and so `self`) lives as long as the coroutine.
    asio::co_spawn(ex, [self = std::move(self)] { return self->serve_or_park(); }, log_exception(std::move(what)));
}

awaitable<std::optional<SessionEnd>> ClientSession::serve() {
    if (!relay_) make_relay();
    auto& relay = *relay_;
    relay.waiting_for_client(false);  // after a park, the client has spoken
    const auto self = shared_from_this();
    std::string error;
    for (;;) {
        // Once the server is lost nothing the client sent after may run anywhere.
        if (relay.end()) co_return *relay.end();

        // Forward every message that has arrived whole, as one write per batch.
        for (;;) {
            auto tag = complete_frame_tag(decoder_);
            if (!tag) break;
            if (*tag == static_cast<char>(p::FrontendTag::Terminate)) {
                if (relay.has_batch()) break;  // forward what came before it first
                co_await relay.let_go();
                co_return SessionEnd::closed();
            }
            if (!relay.has_batch() && stopping() && relay.idle()) co_return shutting_down();
            if (!relay.attached()) {
                Lease lease = pool_->try_lend_idle();
                if (!lease && relay.tracks_statements()) {
                    if (auto answer = prepare_without_server()) {
                        if (!co_await send_to_client(*answer)) {
                            client_.close();
                            co_return SessionEnd::closed();
                        }
                        continue;
                    }
                }
                if (!lease) {
                    // Queued: the wait runs in this frame; the pool's own coroutine only for
                    // what is rare (a new connection, a server to refresh, a timeout).
                    Pool::Turn turn(*pool_, query_wait_deadline());
                    while (turn.waiting()) turn.woken(co_await turn.wait());
                    lease = turn.ready();
                    if (!lease) {
                        auto got = co_await pool_->acquire(turn);
                        if (!got.lease) co_return std::move(*got.failure);
                        lease = std::move(got.lease);
                    }
                }
                if (!settings_match(*lease)) {
                    auto lent = co_await lend_server(std::move(lease));
                    if (!lent.lease) co_return std::move(*lent.failure);
                    lease = std::move(lent.lease);
                }
                relay.attach(std::move(lease));
            }
            auto frame = decoder_.next_whole();
            if (!frame) {
                // complete_frame_tag() saw it whole: next() says what is wrong with it.
                auto broken = decoder_.next();
                co_return SessionEnd::because(EndReason::ProtocolViolation,
                                              broken ? "incomplete message" : broken.error().message);
            }
            relay.add(*frame);
        }
        if (relay.has_batch()) {
            auto forwarded = relay.forward_now(self);
            if (forwarded == Relay::Forwarded::Pending) forwarded = co_await relay.forward(self);
            if (forwarded == Relay::Forwarded::Ended) co_return *relay.end();
            continue;
        }

        // Between transactions, do not keep a buffer that a big COPY or Bind once needed.
        if (!relay.attached() && decoder_.capacity() > kIdleBufferLimit) decoder_.release_memory();
        // Told to stop while busy (the cancel in on_idle found no read to interrupt).
        if (stopping() && relay.idle()) co_return shutting_down();
        relay.waiting_for_client(true);
        waiting_for_client_ = true;
        note_if_idle();
        auto space = read_space(decoder_, kClientTurnEnd);
        auto [read_ec, n] = client_.is_tls() ? co_await client_.read_some(space) : co_await client_.plain_read_some(space);
        bool got_more = took_read(decoder_, read_ec, n, error);
        waiting_for_client_ = false;
        idle_tick_.store(0, std::memory_order_relaxed);
        // Parked: the wait goes on without this coroutine (the relay's idle limits keep counting).
        if (std::exchange(park_requested_, false) && !got_more && !relay.end() && !stopping()) co_return std::nullopt;
        relay.waiting_for_client(false);
        if (!got_more) {
            if (relay.end()) co_return *relay.end();
            // Interrupted while idle (shutdown): the client is still there, and finish() tells it
            // why (57P01). Otherwise it is gone: a pump still writing to it stops at once.
            if (stopping() && relay.idle()) co_return shutting_down();
            client_.close();
            co_await relay.let_go();
            co_return SessionEnd::closed();
        }
    }
}

std::optional<std::string> ClientSession::prepare_without_server() {
    // Exactly Parse (named) + Sync and nothing else: PQprepare(), as pgbench -M prepared and
    // others send it. The statement goes to a server with its first use, and errors in its text
    // (other than a duplicate name) come back then, at that Bind or Describe.
    auto bytes = decoder_.pending();
    auto frame_size = [&](std::size_t at) -> std::size_t {
        if (bytes.size() < at + 5) return 0;
        p::ByteReader r(bytes.substr(at + 1, 4));
        auto len = static_cast<std::uint32_t>(r.i32());
        return len < 4 || len > kMaxClientMessage ? 0 : std::size_t{len} + 1;
    };
    std::size_t parse_size = frame_size(0);
    if (parse_size == 0 || bytes[0] != static_cast<char>(p::FrontendTag::Parse)) return std::nullopt;
    if (bytes.size() != parse_size + 5 || bytes[parse_size] != static_cast<char>(p::FrontendTag::Sync) ||
        frame_size(parse_size) != 5)
        return std::nullopt;
    auto parse = p::Parse::decode(bytes.substr(5, parse_size - 5));
    if (!parse || parse->statement.empty()) return std::nullopt;

    std::string answer;
    if (auto blocked = guard_ ? guard_->check(parse->query, settings_, sql::may_change_session(parse->query))
                              : std::nullopt) {
        answer = std::move(*blocked);  // as PostgreSQL answers a Parse that fails
    } else if (statements_.find(parse->statement)) {
        p::append_error(answer, p::Severity::Error, p::sqlstate::kDuplicatePreparedStatement,
                        "prepared statement \"" + std::string(parse->statement) + "\" already exists");
    } else {
        auto statement = make_server_statement(*parse);
        if (statements_.full(*statement)) return std::nullopt;  // the relay says why
        statements_.add(parse->statement, std::move(statement));
        p::ParseComplete{}.encode(answer);
    }
    p::ReadyForQuery{p::TxStatus::Idle}.encode(answer);
    (void)decoder_.next();
    (void)decoder_.next();
    return answer;
}

SessionEnd ClientSession::too_many_clients() const {
    return SessionEnd::because(EndReason::TooManyClients,
                               "no more connections allowed: max_client_connections (" +
                                   std::to_string(config_->listen.max_client_connections) + ") reached",
                               "Raise listen.max_client_connections or close idle clients.");
}

awaitable<bool> ClientSession::send_to_client(const std::string& bytes) {
    if (bytes.empty()) co_return true;
    auto [ec, n] = co_await client_.write_all(asio::buffer(bytes));
    co_return !ec;
}

awaitable<void> ClientSession::finish(const SessionEnd& end) {
    // The server first: both directions quiet before sluice writes its own message.
    if (relay_) co_await relay_->let_go();
    bool between_messages = !relay_ || relay_->client_between_messages();
    if (client_.is_open() && between_messages) co_await send_to_client(end.error_message_bytes());
    client_.close();
    const auto& i = info(end.reason);
    if (end.reason == EndReason::ClientClosed || end.reason == EndReason::CancelRequest) {
        if (config_->logging.log_connections) spdlog::info("C{} closing because: {}", id_, i.log_reason);
    } else if (end.message.starts_with(i.log_reason)) {
        // The client's message names the reason already ("query_wait timeout: no server ...").
        spdlog::info("C{} closing because: {}", id_, end.message);
    } else {
        spdlog::info("C{} closing because: {}: {}", id_, i.log_reason, end.message);
    }
}

}  // namespace sluice::proxy
