#include "proxy/client_session.hpp"

#include <spdlog/spdlog.h>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frontend.hpp"
#include "proxy/client_auth.hpp"
#include "proxy/frame_io.hpp"

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;
namespace p = protocol;

namespace {

// Largest client message accepted (a Bind with big parameters, a CopyData chunk).
constexpr std::size_t kMaxClientMessage = 64 * 1024 * 1024;
constexpr std::size_t kIdleBufferLimit = 16 * 1024;

// PostgreSQL keeps a printable-ASCII application_name shorter than NAMEDATALEN as it is: no need
// to ask a server how it spells one.
bool is_plain_application_name(std::string_view name, std::string_view value) {
    if (!GucNameLess{}(name, "application_name") && !GucNameLess{}("application_name", name))
        return value.size() < 64 && std::all_of(value.begin(), value.end(), [](char c) { return c >= 32 && c < 127; });
    return false;
}

// Zero means "no limit" for every optional timeout in the configuration.
Clock::time_point deadline_after(config::Duration d) {
    return d.count() == 0 ? Clock::now() + std::chrono::hours(24 * 365 * 10) : Clock::now() + d;
}

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

}  // namespace

ClientSession::ClientSession(ProxyContext& context, tcp::socket socket, std::uint64_t id)
    : ctx_(context),
      config_(context.config),
      client_(std::move(socket)),
      id_(id),
      decoder_(kMaxClientMessage),
      cancel_slot_(std::make_shared<CancelSlot>()) {
    error_code ec;
    auto ep = client_.socket().remote_endpoint(ec);
    peer_ = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
    client_.socket().set_option(tcp::no_delay(true), ec);
}

ClientSession::~ClientSession() {
    if (registered_cancel_key_) ctx_.cancels.forget(cancel_key_.process_id);
    if (counted_) ctx_.clients.fetch_sub(1, std::memory_order_relaxed);
}

void ClientSession::request_shutdown() {
    shutdown_requested_ = true;
    asio::post(client_.socket().get_executor(), [self = shared_from_this()] {
        // Only an idle session is interrupted; one in a transaction stops when it ends.
        if (!self->server_) {
            error_code ec;
            self->client_.socket().cancel(ec);
        }
    });
}

awaitable<void> ClientSession::run() {
    if (config_->logging.log_connections) spdlog::info("C{} connected from {}", id_, peer_);
    auto end = co_await run_phases();
    co_await finish(end);
}

awaitable<SessionEnd> ClientSession::run_phases() {
    auto ex = co_await asio::this_coro::executor;
    asio::steady_timer login_deadline(ex, deadline_after(config_->timeouts.client_login));
    auto login = co_await ([this]() -> awaitable<std::optional<SessionEnd>> {
        if (auto end = co_await read_startup()) co_return end;
        co_return co_await log_in();
    }() || login_deadline.async_wait(use_tuple));
    if (login.index() == 1)
        co_return SessionEnd::because(EndReason::LoginTimeout, "client did not complete login within " +
                                                                   std::to_string(config_->timeouts.client_login.count()) +
                                                                   "ms (timeouts.client_login)");
    if (auto& end = std::get<0>(login)) co_return std::move(*end);
    co_return co_await serve();
}

awaitable<std::optional<SessionEnd>> ClientSession::read_startup() {
    std::string error;
    for (;;) {
        auto body = co_await read_startup_packet(client_, decoder_, error);
        if (!body) {
            if (decoder_.buffered() == 0 && error == "connection closed by peer") co_return SessionEnd::closed();
            co_return SessionEnd::because(EndReason::ProtocolViolation, "invalid startup packet: " + error);
        }
        auto packet = p::decode_startup_packet(*body);
        if (!packet) co_return SessionEnd::because(EndReason::ProtocolViolation, packet.error().message);

        if (std::holds_alternative<p::SslRequest>(*packet) || std::holds_alternative<p::GssEncRequest>(*packet)) {
            // Bytes pipelined after the request would be read as if they came through the
            // encrypted channel: the classic STARTTLS injection.
            if (decoder_.buffered() != 0)
                co_return SessionEnd::because(EndReason::ProtocolViolation,
                                              "received unencrypted data after an encryption request");
            if (!co_await send_to_client("N")) co_return SessionEnd::closed();
            continue;
        }
        if (auto* cancel = std::get_if<p::CancelRequest>(&*packet)) {
            if (auto target = ctx_.cancels.find(cancel->process_id, cancel->secret_key)) {
                spdlog::info("C{} forwarding a cancel request to server process {}", id_, target->key.process_id);
                co_await forward_cancel(std::move(*target));
            } else {
                spdlog::info("C{} cancel request matches no active query", id_);
            }
            co_return SessionEnd{EndReason::CancelRequest, {}, {}, std::nullopt};
        }
        startup_ = std::get<p::StartupMessage>(std::move(*packet));
        co_return std::nullopt;
    }
}

awaitable<std::optional<SessionEnd>> ClientSession::log_in() {
    auto negotiation = p::negotiate_version(startup_, p::kProtocol32);
    version_ = negotiation.use;
    if (negotiation.send_negotiate) {
        std::string out;
        std::vector<std::string_view> options(negotiation.unsupported_options.begin(),
                                              negotiation.unsupported_options.end());
        // PostgreSQL (and so libpq) puts the whole version code here, 3.0 as 0x00030000, not the
        // bare minor number the protocol docs describe.
        p::NegotiateProtocolVersion{version_.code(), options}.encode(out);
        if (!co_await send_to_client(out)) co_return SessionEnd::closed();
    }
    user_ = std::string(startup_.user());
    database_ = std::string(startup_.database());

    if (ctx_.shutting_down) co_return SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down");
    if (auto replication = startup_.get("replication");
        replication && *replication != "false" && *replication != "off" && *replication != "0" && *replication != "no")
        co_return SessionEnd::because(EndReason::NotSupported, "replication connections are not supported by sluice",
                                      "Connect replication clients to PostgreSQL directly.");
    auto clients = ctx_.clients.fetch_add(1, std::memory_order_relaxed) + 1;
    counted_ = true;
    if (clients > config_->listen.max_client_connections)
        co_return SessionEnd::because(
            EndReason::TooManyClients,
            "no more connections allowed: max_client_connections (" +
                std::to_string(config_->listen.max_client_connections) + ") reached",
            "Raise listen.max_client_connections or close idle clients.");

    const config::Database* database = config_->find_database(database_);
    auto auth = co_await authenticate_client(client_, decoder_, *config_, database, user_, ctx_.auth_query);
    if (auth.failure) co_return std::move(auth.failure);
    if (!database)
        co_return SessionEnd::because(EndReason::UnknownDatabase,
                                      "database \"" + database_ + "\" does not exist",
                                      "sluice serves only the databases in its configuration.");

    auto gucs = startup_gucs(startup_);
    if (!gucs.error.empty()) co_return SessionEnd::because(EndReason::InvalidStartupParameter, gucs.error);

    pool_ = ctx_.router.pool_for(*database, user_, auth.upstream);

    // The client must see the server's real parameters, and its own settings as the server spells
    // them, and a bad setting must fail the login as it would on PostgreSQL: check them on a
    // server unless this pool has seen them all before.
    auto defaults = pool_->defaults();
    startup_settings_ = std::move(gucs.values);
    bool must_check = defaults.empty() || !apply_known_settings(defaults);
    if (must_check) {
        if (auto end = co_await attach_server()) co_return end;
        if (defaults.empty()) {
            defaults = pool_->defaults();
            apply_known_settings(defaults);
            if (auto end = co_await attach_server()) co_return end;
        }
        detach_server(true, "login check done");
    }

    cancel_key_ = ctx_.cancels.issue(cancel_slot_, version_ >= p::kProtocol32 ? 32 : 4);
    registered_cancel_key_ = true;

    std::string out;
    p::encode_authentication(p::AuthenticationOk{}, out);
    for (const auto& [name, value] : defaults) {
        auto mine = client_params_.find(name);
        p::ParameterStatus{name, mine != client_params_.end() ? std::string_view(mine->second) : value}.encode(out);
    }
    p::BackendKeyData{cancel_key_.process_id, cancel_key_.secret}.encode(out);
    p::ReadyForQuery{p::TxStatus::Idle}.encode(out);
    if (!co_await send_to_client(out)) co_return SessionEnd::closed();
    if (config_->logging.log_connections)
        spdlog::info("C{} logged in: user \"{}\" database \"{}\" protocol 3.{}", id_, user_, database_, version_.minor);
    startup_ = {};  // everything needed from it is in client_params_ now; idle clients stay small
    startup_settings_ = {};
    co_return std::nullopt;
}

awaitable<std::optional<SessionEnd>> ClientSession::attach_server() {
    for (;;) {
        if (!server_) {
            auto got = co_await pool_->acquire(deadline_after(config_->timeouts.query_wait));
            if (!got.server) co_return std::move(got.failure);
            server_ = std::move(got.server);
            SPDLOG_DEBUG("C{} attached S{}", id_, server_->id());
            cancel_slot_->set(CancelTarget{server_->endpoint(), server_->key()});
        }
        if (client_fingerprint_ != 0 && server_->synced_to() == client_fingerprint_) co_return std::nullopt;
        auto before = server_->params();
        auto sync = sync_statement(client_params_, server_->params());
        if (sync.sql.empty()) {
            server_->set_synced_to(client_fingerprint_);
            co_return std::nullopt;
        }
        auto result = co_await server_->run_quietly(sync.sql);
        if (result.error) {
            // The client's own settings are invalid: tell it as PostgreSQL would at startup.
            server_->params() = std::move(before);
            detach_server(result.ok, "client settings rejected");
            SessionEnd end = SessionEnd::because(EndReason::InvalidStartupParameter,
                                                 std::string(result.error->message()));
            end.upstream_error = std::move(result.error);
            end.upstream_error->set(p::ErrorField::Severity, "FATAL");
            end.upstream_error->set(p::ErrorField::SeverityNonLocalized, "FATAL");
            co_return end;
        }
        if (result.ok) {
            learn_server_spelling(sync.set_names, result.first_row);
            server_->set_synced_to(client_fingerprint_);
            co_return std::nullopt;
        }
        detach_server(false, "broke while syncing session parameters");  // and try another
    }
}

bool ClientSession::apply_known_settings(const ParamMap& defaults) {
    client_params_ = initial_client_params(defaults, startup_settings_);
    bool all_known = true;
    for (const auto& [name, value] : startup_settings_) {
        if (is_plain_application_name(name, value)) continue;
        if (auto spelled = pool_->known_setting(name, value)) client_params_.insert_or_assign(name, std::move(*spelled));
        else all_known = false;
    }
    client_fingerprint_ = fingerprint(client_params_);
    return all_known;
}

void ClientSession::learn_server_spelling(const std::vector<std::string>& names,
                                          const std::vector<std::optional<std::string>>& values) {
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        if (!values[i]) continue;
        const auto& name = names[i];
        if (auto asked = startup_settings_.find(name); asked != startup_settings_.end())
            pool_->remember_setting(name, asked->second, *values[i]);
        client_params_.insert_or_assign(name, *values[i]);
        server_->params().insert_or_assign(name, *values[i]);
    }
    client_fingerprint_ = fingerprint(client_params_);
}

void ClientSession::detach_server(bool clean, std::string_view reason) {
    cancel_slot_->clear();
    if (!server_) return;
    if (clean) pool_->release(std::move(server_));
    else pool_->discard(std::move(server_), reason);
}

awaitable<SessionEnd> ClientSession::serve() {
    std::string error;
    for (;;) {
        // Forward every message that has arrived whole, as one write per batch.
        const char* batch_begin = nullptr;
        std::size_t batch_size = 0;
        for (;;) {
            auto tag = complete_frame_tag(decoder_);
            if (!tag) break;
            if (*tag == static_cast<char>(p::FrontendTag::Terminate)) {
                if (batch_size > 0) break;  // forward what came before it first
                co_await let_go_of_server();
                co_return SessionEnd::closed();
            }
            if (!server_) {
                if (ctx_.shutting_down || shutdown_requested_)
                    co_return SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down",
                                                  "Reconnect: the pooler is restarting.");
                if (auto end = co_await attach_server()) co_return std::move(*end);
                tracker_.reset();
            }
            auto frame = decoder_.next();
            if (!frame || !*frame)
                co_return SessionEnd::because(EndReason::ProtocolViolation,
                                              frame ? "incomplete message" : frame.error().message);
            auto f = **frame;
            tracker_.on_client_message(static_cast<p::FrontendTag>(f.tag), f.body);
            SPDLOG_DEBUG("C{} -> {} ({} bytes)", id_, f.tag, f.wire.size());
            if (!batch_begin) batch_begin = f.wire.data();
            batch_size = static_cast<std::size_t>(f.wire.data() + f.wire.size() - batch_begin);
        }
        if (batch_size > 0) {
            if (!pump_running_) start_pump();
            // On failure the pump sees the same broken connection and ends the session.
            co_await server_->stream().write_all(asio::buffer(batch_begin, batch_size));
            continue;
        }

        if (pump_end_) co_return std::move(*pump_end_);
        // Between transactions, do not keep a buffer that a big COPY or Bind once needed.
        if (!server_ && decoder_.capacity() > kIdleBufferLimit) decoder_.release_memory();
        if (!co_await read_more(client_, decoder_, error)) {
            if (pump_end_) co_return std::move(*pump_end_);
            bool interrupted = (ctx_.shutting_down || shutdown_requested_) && !server_;
            co_await let_go_of_server();
            if (interrupted)
                co_return SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down",
                                              "Reconnect: the pooler is restarting.");
            co_return SessionEnd::closed();
        }
    }
}

awaitable<void> ClientSession::let_go_of_server() {
    if (!server_) co_return;
    if (pump_running_) {
        abandon_to_pump();
        co_return;
    }
    if (pool_->settings().mode == config::PoolMode::Session && tracker_.idle()) {
        auto reset = co_await server_->run_quietly("DISCARD ALL");
        if (reset.ok && !reset.error) server_->reset_params(pool_->defaults());
        detach_server(reset.ok && !reset.error, "DISCARD ALL failed");
        co_return;
    }
    detach_server(false, "client went away mid-transaction");
}

void ClientSession::abandon_to_pump() {
    // The pump owns the server while it runs: wake it, and it decides (see end_pump_for_gone_client).
    client_gone_ = true;
    SPDLOG_DEBUG("C{} leaves S{} to its pump", id_, server_->id());
    error_code ignored;
    server_->stream().socket().cancel(ignored);
}

awaitable<void> ClientSession::end_pump_for_gone_client() {
    // Clean only if the transaction had just ended when the client left (its last ReadyForQuery
    // was being written); anything else may hold locks or an open transaction.
    bool clean = tracker_.idle() && server_->scanner().at_boundary() && server_->stream().is_open();
    if (clean && pool_->settings().mode == config::PoolMode::Session) {
        auto reset = co_await server_->run_quietly("DISCARD ALL");
        clean = reset.ok && !reset.error;
        if (clean) server_->reset_params(pool_->defaults());
    }
    pump_running_ = false;
    detach_server(clean, "client went away mid-transaction");
}

void ClientSession::start_pump() {
    pump_running_ = true;
    asio::co_spawn(client_.socket().get_executor(), [self = shared_from_this()]() { return self->pump(); },
                   [id = id_](std::exception_ptr e) {
                       if (!e) return;
                       try {
                           std::rethrow_exception(e);
                       } catch (const std::exception& ex) {
                           spdlog::error("C{} relay failed: {}", id, ex.what());
                       }
                   });
}

awaitable<void> ClientSession::pump() {
    const bool session_mode = pool_->settings().mode == config::PoolMode::Session;
    auto* server = server_.get();
    SPDLOG_DEBUG("C{} pump starts on S{}", id_, server->id());
    auto& buffer = server->read_buffer();
    for (;;) {
        auto [ec, n] = co_await server->stream().read_some(asio::buffer(buffer));
        if (client_gone_) {
            co_await end_pump_for_gone_client();
            co_return;
        }
        if (ec || n == 0) {
            pump_running_ = false;
            detach_server(false, "server connection lost");
            if (!pump_end_) {
                if (server_said_fatal_) {
                    // The client already has the server's own FATAL (e.g. 57P01 on a restart).
                    pump_end_ = SessionEnd::because(EndReason::ServerLost,
                                                    "the server closed the connection after a FATAL error");
                } else {
                    pump_end_ = SessionEnd::because(EndReason::ServerLost,
                                                    "the server connection was lost mid-transaction: " + ec.message(),
                                                    "Retry the transaction.");
                    co_await send_to_client(pump_end_->error_message_bytes());
                }
                pump_end_->message += " (already reported)";
                client_.close();
            }
            co_return;
        }
        std::string_view chunk(buffer.data(), n);
        bool bad = false;
        auto scanned = server->scanner().scan(chunk, [&](char tag, std::string_view body, std::size_t) {
            tracker_.on_server_message(static_cast<p::BackendTag>(tag), body);
            switch (static_cast<p::BackendTag>(tag)) {
            case p::BackendTag::ReadyForQuery:
                if (auto rfq = p::ReadyForQuery::decode(body)) {
                    SPDLOG_DEBUG("C{} <- ReadyForQuery {} ({} entries pending{})", id_, static_cast<char>(rfq->status),
                                 tracker_.pending(), tracker_.confused() ? ", confused" : "");
                } else {
                    bad = true;
                }
                break;
            case p::BackendTag::ErrorResponse:
                if (auto fields = p::ErrorFields::decode(body)) {
                    auto severity = fields->severity();
                    server_said_fatal_ |= severity == "FATAL" || severity == "PANIC";
                }
                break;
            case p::BackendTag::ParameterStatus:
                if (auto ps = p::ParameterStatus::decode(body)) {
                    // The client changed a reported setting (SET TimeZone ...): it now wants that value.
                    server->params().insert_or_assign(std::string(ps->name), std::string(ps->value));
                    client_params_.insert_or_assign(std::string(ps->name), std::string(ps->value));
                    client_fingerprint_ = fingerprint(client_params_);
                    server->set_synced_to(client_fingerprint_);  // it changed on this very server
                }
                break;
            default:
                break;
            }
            return true;
        });
        if (!scanned || bad) {
            pump_running_ = false;
            spdlog::error("C{} server S{} sent a malformed message stream: {}", id_, server->id(),
                          scanned ? "bad ReadyForQuery" : scanned.error().message);
            detach_server(false, "protocol error from server");
            pump_end_ = SessionEnd::because(EndReason::ServerLost, "the server sent malformed data");
            co_await send_to_client(pump_end_->error_message_bytes());
            client_.close();
            co_return;
        }
        auto [wec, wn] = co_await client_.write_all(asio::buffer(chunk));
        if (wec) client_gone_ = true;
        if (client_gone_) {
            co_await end_pump_for_gone_client();
            client_.close();
            co_return;
        }
        if (tracker_.idle() && server->scanner().at_boundary()) {
            pump_running_ = false;
            if (!session_mode) {
                detach_server(true, {});
                if (ctx_.shutting_down || shutdown_requested_) {
                    error_code ignored;
                    client_.socket().cancel(ignored);
                }
            }
            co_return;
        }
    }
}

awaitable<bool> ClientSession::send_to_client(const std::string& bytes) {
    if (bytes.empty()) co_return true;
    auto [ec, n] = co_await client_.write_all(asio::buffer(bytes));
    co_return !ec;
}

awaitable<void> ClientSession::finish(const SessionEnd& end) {
    if (server_ && pump_running_) abandon_to_pump();
    if (!pump_end_ && client_.is_open()) co_await send_to_client(end.error_message_bytes());
    if (server_ && !pump_running_) detach_server(false, "session ended");
    client_.close();
    const auto& i = info(end.reason);
    if (end.reason == EndReason::ClientClosed || end.reason == EndReason::CancelRequest) {
        if (config_->logging.log_connections) spdlog::info("C{} closing because: {}", id_, i.log_reason);
    } else {
        spdlog::info("C{} closing because: {}: {}", id_, i.log_reason, end.message);
    }
}

}  // namespace sluice::proxy
