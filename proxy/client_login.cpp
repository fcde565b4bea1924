// The session's first phases: the startup packet (SSL/GSS requests, cancel requests), protocol
// version negotiation, authentication, and the client's settings checked on a server.
#include <spdlog/spdlog.h>

#include "protocol/ascii.hpp"
#include "protocol/backend.hpp"
#include "proxy/client_auth.hpp"
#include "proxy/client_session.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/tls_context.hpp"
#include "proxy/tls_engine.hpp"

namespace sluice::proxy {

namespace p = protocol;

namespace {

// PostgreSQL keeps a printable-ASCII application_name shorter than NAMEDATALEN as it is: no need
// to ask a server how it spells one.
bool is_plain_application_name(std::string_view name, std::string_view value) {
    if (protocol::ascii_iequals(name, "application_name"))
        return value.size() < 64 && std::all_of(value.begin(), value.end(), [](char c) { return c >= 32 && c < 127; });
    return false;
}

}  // namespace

awaitable<std::optional<SessionEnd>> ClientSession::read_startup() {
    std::string error;
    const auto& tls = config_->client_tls;
    // One certificate for the whole login, even if SIGHUP loads another meanwhile.
    const std::shared_ptr<const TlsContext> server_tls = ctx_.client_tls_now();
    // PostgreSQL 17's direct TLS (sslnegotiation=direct): the first byte is a TLS handshake record,
    // not a packet length. Peeked, so that a plaintext client's packet stays in the socket.
    if (server_tls && co_await first_byte_is_tls_handshake()) {
        if (auto end = co_await accept_tls(server_tls, true)) co_return end;
    }
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
            bool answer_tls = std::holds_alternative<p::SslRequest>(*packet) && server_tls && !client_.is_tls();
            if (!co_await send_to_client(answer_tls ? "S" : "N")) co_return SessionEnd::closed();
            if (answer_tls)
                if (auto end = co_await accept_tls(server_tls, false)) co_return end;
            continue;
        }
        if (admission_ != Admission::Admitted) {
            // Past max_client_connections: refused now that the packet says what it wanted. A
            // cancel requester reads nothing, so it is just closed, its request not acted on.
            auto end = too_many_clients();
            end.client_told = std::holds_alternative<p::CancelRequest>(*packet);
            co_return end;
        }
        if (auto* cancel = std::get_if<p::CancelRequest>(&*packet)) {
            if (auto target = ctx_.cancels.find(cancel->process_id, cancel->secret_key)) {
                spdlog::info("C{} forwarding a cancel request to server process {}", id_, target->key.process_id);
                co_await forward_cancel(std::move(target));
            } else {
                spdlog::info("C{} cancel request matches no active query", id_);
            }
            co_return SessionEnd{EndReason::CancelRequest, {}, {}, std::nullopt};
        }
        if (tls.mode == config::ClientTlsMode::Require && !client_.is_tls())
            co_return SessionEnd::because(EndReason::NotAuthorized, "TLS is required to connect to sluice",
                                          "Connect with TLS (libpq: sslmode=require or stricter).");
        login_->startup = std::get<p::StartupMessage>(std::move(*packet));
        co_return std::nullopt;
    }
}

awaitable<bool> ClientSession::first_byte_is_tls_handshake() {
    constexpr unsigned char kTlsHandshakeRecord = 0x16;  // no startup packet is that long
    auto [ec] = co_await client_.socket().async_wait(tcp::socket::wait_read, use_tuple);
    if (ec) co_return false;  // the read that follows reports it
    unsigned char byte = 0;
    error_code peek_ec;
    std::size_t n = client_.socket().receive(asio::buffer(&byte, 1), tcp::socket::message_peek, peek_ec);
    co_return !peek_ec && n == 1 && byte == kTlsHandshakeRecord;
}

awaitable<std::optional<SessionEnd>> ClientSession::accept_tls(std::shared_ptr<const TlsContext> tls, bool direct) {
    std::string error;
    if (!co_await client_.start_tls(TlsEngine::server(std::move(tls)), error)) {
        spdlog::info("C{} TLS handshake failed: {}", id_, error);
        // The handshake's alert told the client; an ErrorResponse in plaintext would be garbage to it.
        auto end = SessionEnd::because(EndReason::ProtocolViolation, "TLS handshake failed: " + error);
        end.client_told = true;
        co_return end;
    }
    if (direct && client_.tls()->alpn() != "postgresql") {
        auto end = SessionEnd::because(EndReason::ProtocolViolation,
                                       "direct TLS connection without ALPN \"postgresql\"",
                                       "Use sslnegotiation=direct with a PostgreSQL 17 or newer client.");
        co_return end;
    }
    if (config_->logging.log_connections)
        spdlog::info("C{} TLS {} established{}", id_, client_.tls()->version(), direct ? " (direct)" : "");
    co_return std::nullopt;
}

awaitable<std::optional<SessionEnd>> ClientSession::log_in() {
    auto negotiation = p::negotiate_version(login_->startup, p::kProtocol32);
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
    // Locals of the login's frame: after it, the pool's key names them.
    const std::string user(login_->startup.user());
    const std::string database_name(login_->startup.database());
    if (client_.is_tls() && config_->client_tls.client_cert == config::ClientCertCheck::VerifyFull) {
        // The handshake checked the chain; verify-full also ties the certificate to the user.
        auto cn = client_.tls()->peer_common_name();
        if (!cn || *cn != user)
            co_return SessionEnd::because(EndReason::NotAuthorized,
                                          "the client certificate's CN \"" + cn.value_or("") +
                                              "\" does not match user \"" + user + "\"",
                                          "Log in as the user the certificate names (client_tls.client_cert = \"verify-full\").");
    }

    if (ctx_.shutting_down) co_return SessionEnd::because(EndReason::ShuttingDown, "sluice is shutting down");
    if (auto replication = login_->startup.get("replication");
        replication && *replication != "false" && *replication != "off" && *replication != "0" && *replication != "no")
        co_return SessionEnd::because(EndReason::NotSupported, "replication connections are not supported by sluice",
                                      "Connect replication clients to PostgreSQL directly.");

    const config::Database* database = config_->find_database(database_name);
    auto auth = co_await authenticate_client(client_, decoder_, *config_, database, user, ctx_.auth_query);
    if (auth.failure) co_return std::move(auth.failure);
    decoder_.set_max_message_size(kMaxClientMessage);  // authenticated: big Binds and COPY may come
    if (!database)
        co_return SessionEnd::because(EndReason::UnknownDatabase,
                                      "database \"" + database_name + "\" does not exist",
                                      "sluice serves only the databases in its configuration.");

    auto gucs = startup_gucs(login_->startup);
    if (!gucs.error.empty()) co_return SessionEnd::because(EndReason::InvalidStartupParameter, gucs.error);

    pool_ = ctx_.router.pool_for(*database, user, auth.upstream);
    auto application_name = login_->startup.get("application_name");
    limits_ = Limits(config_->timeouts_for(database_name, user, application_name ? *application_name : std::string_view{}));
    session_state_ = config_->session_state_for(*database, user);
    if (auto policy = config_->guard_for(database_name, user, application_name ? *application_name : std::string_view{});
        policy.mode != config::GuardMode::Off) {
        guard_ = std::make_unique<QueryGuard>(policy, config_->guard,
                                              GuardClient{peer(), user, database_name, application_name ? std::string(*application_name) : ""},
                                              ctx_.analyses, *ctx_.audit_log, ctx_.guard_counters);
    }
    make_relay();

    // The client must see the server's real parameters, and its own settings as the server spells
    // them, and a bad setting must fail the login as it would on PostgreSQL: check them on a
    // server unless this pool has seen them all before.
    login_->startup_settings = std::move(gucs.values);
    std::shared_ptr<const std::string> statuses;
    if (auto known = pool_->known_welcome(login_->startup_settings)) {
        settings_.share(std::move(known->settings));
        settings_.fingerprint = known->fingerprint;
        statuses = std::move(known->statuses);
    } else {
        auto defaults = pool_->defaults();
        const bool checked = defaults->empty() || !apply_known_settings(*defaults);
        if (checked) {
            auto lent = co_await lend_server();
            if (!lent.lease) co_return std::move(lent.failure);
            if (defaults->empty()) {
                // The pool's first server (this login's, or the one it waited for) told the defaults:
                // check again, on a server synced to them if some setting is still unknown.
                defaults = pool_->defaults();
                if (!apply_known_settings(*defaults)) {
                    lent.lease.give_back();
                    lent = co_await lend_server();
                    if (!lent.lease) co_return std::move(lent.failure);
                }
            }
            lent.lease.give_back();
        }
        auto built = std::make_shared<std::string>();
        built->reserve(512);  // a dozen ParameterStatus messages: one allocation, not one per doubling
        for (const auto& [name, value] : *defaults) {
            auto mine = settings_.params().find(name);
            p::ParameterStatus{name, mine != settings_.params().end() ? std::string_view(mine->second) : value}.encode(*built);
        }
        settings_.share(pool_->shared_settings(settings_.current(), settings_.fingerprint));
        // Only what the pool knew without asking a server: a checked login may have learned a spelling.
        if (!checked)
            pool_->remember_welcome(login_->startup_settings, {settings_.current(), settings_.fingerprint, built});
        statuses = std::move(built);
    }

    const auto cancel_secret = ctx_.cancels.issue(cancel_slot_, version_ >= p::kProtocol32);

    std::string out;
    out.reserve(statuses->size() + 64);
    p::encode_authentication(p::AuthenticationOk{}, out);
    out += *statuses;
    p::BackendKeyData{cancel_slot_.process_id(), cancel_secret}.encode(out);
    p::ReadyForQuery{p::TxStatus::Idle}.encode(out);
    if (!co_await send_to_client(out)) co_return SessionEnd::closed();
    if (config_->logging.log_connections)
        spdlog::info("C{} logged in: user \"{}\" database \"{}\" protocol 3.{}", id_, user, database_name, version_.minor);
    login_.reset();  // everything needed from it is in settings_ now; idle clients stay small
    co_return std::nullopt;
}

bool ClientSession::apply_known_settings(const ParamMap& defaults) {
    settings_.edit() = initial_client_params(defaults, login_->startup_settings);
    bool all_known = true;
    for (const auto& [name, value] : login_->startup_settings) {
        if (is_plain_application_name(name, value)) continue;
        if (auto spelled = pool_->known_setting(name, value))
            settings_.edit().insert_or_assign(name, std::move(*spelled));
        else
            all_known = false;
    }
    settings_.refresh();
    return all_known;
}

void ClientSession::learn_server_spelling(ServerConnection& server, const std::vector<std::string>& names,
                                          const std::vector<std::optional<std::string>>& values) {
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        if (!values[i]) continue;
        const auto& name = names[i];
        // The client's own spelling, while its login still has it (a later sync has nothing to add).
        if (login_) {
            if (auto asked = login_->startup_settings.find(name); asked != login_->startup_settings.end())
                pool_->remember_setting(name, asked->second, *values[i]);
        }
        settings_.edit().insert_or_assign(name, *values[i]);
        server.params().insert_or_assign(name, *values[i]);
    }
    settings_.refresh();
}

void ClientSession::make_relay() {
    relay_ = std::make_unique<Relay>(client_, settings_, statements_, cancel_slot_,
                                     pool_->settings().mode == config::PoolMode::Session ? Lending::Session
                                                                                         : Lending::Transaction,
                                     pool_->settings().max_prepared_statements);
    if (pool_->settings().mode == config::PoolMode::Transaction) {
        const auto policy = session_state_;
        relay_->watch_session_state(ctx_.analyses, policy, [this, policy](std::string_view why) {
            ++ctx_.pins;
            spdlog::info("C{} keeps its server until it disconnects ({}): {}", id_,
                         policy == config::SessionStatePolicy::Pin ? "session_state = \"pin\"" : "state that cannot be replayed",
                         why);
        });
    }
    relay_->enforce(limits_.get(), config_->timeouts.cancel_grace, weak_from_this());
    if (guard_) relay_->guard_with(*guard_);
    relay_->on_idle = [this] {
        // A session told to stop while in a transaction stops once it is over.
        if (stopping()) client_.cancel();
        note_if_idle();
    };
}

}  // namespace sluice::proxy
