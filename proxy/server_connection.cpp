#include "proxy/server_connection.hpp"

#include <spdlog/spdlog.h>

#include <netdb.h>

#include <cstring>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "protocol/auth/md5.hpp"
#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "protocol/startup.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/tcp_keepalive.hpp"
#include "proxy/thread_handoff.hpp"
#include "proxy/tls_engine.hpp"
#include "proxy/transaction_tracker.hpp"

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;
namespace p = protocol;

namespace {

constexpr std::size_t kServerReadBuffer = 64 * 1024;
constexpr std::size_t kMaxInspected = 1024 * 1024;  // ReadyForQuery, ParameterStatus, errors...
std::atomic<std::uint64_t> next_server_id{1};

// A host name's addresses, looked up on a thread of its own (getaddrinfo blocks until DNS answers or
// gives up, and cannot be cancelled) and awaited through a Handoff, so that the attempt's deadline
// ends the wait; a lookup whose attempt has given up finishes on its own, unread. Lookups do not
// wait behind one another, and sluice does not wait for one when it stops.
// Empty, with `error` set, when there are none.
awaitable<std::vector<tcp::endpoint>> look_up(const config::HostPort& hp, std::string& error) {
    // A DNS that does not answer holds a thread per lookup until getaddrinfo gives up.
    constexpr int kLookupsAtOnce = 64;
    static std::atomic<int> in_flight{0};
    struct Lookup : Handoff {
        std::string host, port;
        int status = 0;  // getaddrinfo's
        std::vector<tcp::endpoint> endpoints;
    };
    if (in_flight.fetch_add(1, std::memory_order_relaxed) >= kLookupsAtOnce) {
        in_flight.fetch_sub(1, std::memory_order_relaxed);
        error = "too many host name lookups waiting for DNS (" + std::to_string(kLookupsAtOnce) + ")";
        co_return std::vector<tcp::endpoint>{};
    }
    std::shared_ptr<Lookup> lookup;
    try {
        lookup = std::make_shared<Lookup>();
        lookup->host = hp.host;
        lookup->port = std::to_string(hp.port);
        std::thread([lookup] {
            ::addrinfo hints{};
            hints.ai_family = AF_UNSPEC;
            hints.ai_socktype = SOCK_STREAM;
            hints.ai_flags = AI_ADDRCONFIG;  // as Asio's resolver: no IPv6 answers on a host without IPv6
            ::addrinfo* list = nullptr;
            lookup->status = ::getaddrinfo(lookup->host.c_str(), lookup->port.c_str(), &hints, &list);
            for (auto* a = list; a != nullptr; a = a->ai_next) {
                tcp::endpoint endpoint;
                if (a->ai_addrlen > endpoint.capacity()) continue;
                std::memcpy(endpoint.data(), a->ai_addr, a->ai_addrlen);
                endpoint.resize(a->ai_addrlen);
                lookup->endpoints.push_back(endpoint);
            }
            if (list != nullptr) ::freeaddrinfo(list);
            in_flight.fetch_sub(1, std::memory_order_relaxed);
            lookup->raise();
        }).detach();
    } catch (const std::exception& e) {  // no eventfd, no thread (it never started): out of descriptors or memory
        in_flight.fetch_sub(1, std::memory_order_relaxed);
        error = std::string("cannot start the lookup: ") + e.what();
        co_return std::vector<tcp::endpoint>{};
    }
    if (auto ec = co_await Handoff::wait(lookup, true)) {
        error = ec.message();
        co_return std::vector<tcp::endpoint>{};
    }
    if (lookup->status != 0) error = ::gai_strerror(lookup->status);
    else if (lookup->endpoints.empty()) error = "no addresses";
    co_return std::move(lookup->endpoints);
}

// One attempt at one host: resolve a name (every time: DNS may have moved), connect, nothing else.
awaitable<std::optional<tcp::socket>> open_socket(const config::HostPort& hp, const config::Tcp& tcp_options,
                                                  std::string& error, ConnectStep& step) {
    auto ex = co_await asio::this_coro::executor;
    tcp::socket socket(ex);
    error_code cec;
    // An address is not looked up: a slow DNS (look_up) never holds it up.
    error_code not_address;
    if (auto address = asio::ip::make_address(hp.host, not_address); !not_address) {
        step = ConnectStep::Connecting;
        std::tie(cec) = co_await socket.async_connect(tcp::endpoint(address, hp.port), use_tuple);
    } else {
        step = ConnectStep::Resolving;
        std::string why;
        auto endpoints = co_await look_up(hp, why);
        if (endpoints.empty()) {
            error = "could not resolve \"" + hp.host + "\": " + why;
            co_return std::nullopt;
        }
        step = ConnectStep::Connecting;
        tcp::endpoint connected;
        std::tie(cec, connected) = co_await asio::async_connect(socket, endpoints, use_tuple);
    }
    if (cec) {
        error = "could not connect to " + hp.host + ":" + std::to_string(hp.port) + ": " + cec.message();
        co_return std::nullopt;
    }
    socket.set_option(tcp::no_delay(true));
    apply_keepalive(socket, tcp_options);
    co_return std::optional<tcp::socket>(std::move(socket));
}

// Over a plaintext upstream link, a cleartext password request sends the password in the clear.
// Allowed, because a trusted local upstream (pg_hba "password" on 127.0.0.1 or a
// private network) is a legitimate setup, but said once per server and user: often enough to be
// seen, not once per connection. The set is bounded by the configured databases and users.
void warn_cleartext_once(const config::HostPort& endpoint, const std::string& user) {
    static std::mutex mutex;
    static std::set<std::string> warned;
    {
        std::lock_guard lock(mutex);
        if (warned.size() >= 10'000) return;
        if (!warned.insert(endpoint.host + ":" + std::to_string(endpoint.port) + "\n" + user).second) return;
    }
    spdlog::warn("server {}:{} asked for a cleartext password over an unencrypted connection; sending the password "
                 "of user \"{}\" readable by anyone on the network path (use md5 or scram-sha-256 in its pg_hba.conf)",
                 endpoint.host, endpoint.port, user);
}

bool is_ip_address(const std::string& host) {
    error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

const char* sslmode_name(config::SslMode mode) noexcept {
    switch (mode) {
    case config::SslMode::Disable: return "disable";
    case config::SslMode::Allow: return "allow";
    case config::SslMode::Prefer: return "prefer";
    case config::SslMode::Require: return "require";
    case config::SslMode::VerifyCa: return "verify-ca";
    case config::SslMode::VerifyFull: return "verify-full";
    }
    return "?";
}

}  // namespace

const char* describe(ConnectStep step) noexcept {
    switch (step) {
    case ConnectStep::Resolving: return "resolving the host name";
    case ConnectStep::Connecting: return "the TCP connect had not completed";
    case ConnectStep::Tls: return "during the TLS handshake";
    case ConnectStep::Startup: return "the server had not answered the startup packet";
    case ConnectStep::Authenticating: return "the server had not answered sluice's authentication response";
    case ConnectStep::Starting: return "authenticated; the server had not sent ReadyForQuery";
    }
    return "?";
}

std::unique_ptr<TlsEngine> upstream_tls_engine(const std::shared_ptr<const TlsContext>& context, const std::string& sni,
                                               const std::string& verify_host) {
    return TlsEngine::client(context, sni, verify_host);
}

awaitable<bool> ask_for_tls(Stream& stream, std::string& answer_error) {
    std::string out;
    p::SslRequest{}.encode(out);
    if (auto [ec, n] = co_await stream.write_all(asio::buffer(out)); ec) {
        answer_error = "could not send SSLRequest: " + ec.message();
        co_return false;
    }
    // One byte, no more: what follows an 'S' is the server's part of the handshake, and bytes
    // before it would be plaintext smuggled into the TLS stream.
    char answer = 0;
    auto [ec, n] = co_await stream.read_some(asio::buffer(&answer, 1));
    if (ec || n != 1) {
        answer_error = "server closed the connection after SSLRequest" + (ec ? ": " + ec.message() : std::string());
        co_return false;
    }
    if (answer == 'S') co_return true;
    if (answer != 'N') answer_error = std::string("server answered SSLRequest with '") + answer + "'";
    co_return false;
}

std::bitset<256> relay_inspected_tags() noexcept {
    std::bitset<256> b;
    for (auto t : {p::BackendTag::ReadyForQuery, p::BackendTag::ParameterStatus, p::BackendTag::ErrorResponse,
                   p::BackendTag::CopyInResponse, p::BackendTag::CopyOutResponse, p::BackendTag::CopyBothResponse})
        b.set(static_cast<unsigned char>(t));
    return b | TransactionTracker::server_tags();
}

ServerConnection::ServerConnection(tcp::socket socket, config::HostPort endpoint)
    : stream_(std::move(socket)),
      id_(next_server_id.fetch_add(1, std::memory_order_relaxed)),
      endpoint_(std::move(endpoint)),
      created_(Clock::now()),
      last_used_(created_),
      read_buffer_(kServerReadBuffer),
      scanner_(relay_inspected_tags(), kMaxInspected) {}

awaitable<ConnectOutcome> ServerConnection::connect(const UpstreamTarget& target,
                                                    const ServerCredentials& credentials) {
    auto ex = co_await asio::this_coro::executor;
    std::string last_error = "no upstream host configured";
    for (const auto& hp : target.hosts) {
        asio::steady_timer deadline(ex, target.connect_timeout);
        // The attempt is over (cancelled) before `||` returns: `step` outlives it.
        ConnectStep step = ConnectStep::Resolving;
        auto attempt = [&](const UpstreamTarget& as) -> awaitable<ConnectOutcome> {
            std::string error;
            auto socket = co_await open_socket(hp, as.tcp, error, step);
            if (!socket) co_return ConnectOutcome{nullptr, error, std::nullopt};
            auto conn = std::make_unique<ServerConnection>(std::move(*socket), hp);
            conn->stream().set_write_timeout(as.write_timeout);
            auto* raw = conn.get();
            co_return co_await raw->login(as, credentials, std::move(conn), step);
        };
        auto result = co_await (attempt(target) || deadline.async_wait(use_tuple));
        if (result.index() == 1) {
            last_error = "timed out connecting to " + hp.host + ":" + std::to_string(hp.port) + " after " +
                         std::to_string(target.connect_timeout.count()) + "ms (" + describe(step) + ")";
            continue;
        }
        auto outcome = std::get<0>(std::move(result));
        // libpq's second tries: "prefer" again in plaintext when TLS was tried and failed (the
        // handshake, or the login over it); "allow" again with TLS when the plaintext login was refused.
        std::optional<config::SslMode> second;
        if (!outcome.connection && target.sslmode == config::SslMode::Prefer && outcome.tried_tls)
            second = config::SslMode::Disable;
        else if (!outcome.connection && target.sslmode == config::SslMode::Allow && outcome.server_error && target.tls)
            second = config::SslMode::Require;
        if (second) {
            spdlog::info("server {}:{}: {}; trying again {} (sslmode={})", hp.host, hp.port, outcome.error,
                         *second == config::SslMode::Disable ? "without TLS" : "with TLS", sslmode_name(target.sslmode));
            UpstreamTarget again = target;
            again.sslmode = *second;
            deadline.expires_after(target.connect_timeout);
            auto retried = co_await (attempt(again) || deadline.async_wait(use_tuple));
            if (retried.index() == 0) outcome = std::get<0>(std::move(retried));
        }
        if (outcome.connection || outcome.server_error || outcome.permanent) co_return outcome;
        last_error = std::move(outcome.error);
    }
    co_return ConnectOutcome{nullptr, last_error, std::nullopt};
}

awaitable<ConnectOutcome> ServerConnection::login(const UpstreamTarget& target, const ServerCredentials& credentials,
                                                  std::unique_ptr<ServerConnection> self, ConnectStep& step) {
    // `self` stays here unless the login succeeds (then the outcome holds it): this object lives
    // until the outcome is stamped.
    auto outcome = co_await login_steps(target, credentials, self, step);
    outcome.tried_tls = tls_tried_;
    co_return outcome;
}

awaitable<ConnectOutcome> ServerConnection::login_steps(const UpstreamTarget& target, const ServerCredentials& credentials,
                                                        std::unique_ptr<ServerConnection>& self, ConnectStep& step) {
    auto failed = [](std::string why) { return ConnectOutcome{nullptr, std::move(why), std::nullopt}; };
    // Failures that the next attempt would meet again; logged here, where the detail is known.
    auto refused = [this, &credentials](std::string why) {
        spdlog::error("server {}:{} (user \"{}\"): {}", endpoint_.host, endpoint_.port, credentials.user, why);
        return ConnectOutcome{nullptr, std::move(why), std::nullopt, true};
    };
    auto not_authenticated = [&](std::string_view why) {
        return refused("the upstream server failed to authenticate itself: " + std::string(why));
    };

    step = ConnectStep::Tls;
    if (auto tls = co_await negotiate_tls(target); !tls.error.empty())
        co_return tls.permanent ? refused(std::move(tls.error)) : failed(std::move(tls.error));
    const bool bound_required = target.channel_binding == config::ChannelBinding::Require;

    p::StartupMessage startup;
    startup.version = p::kProtocol30;
    startup.parameters.emplace_back("user", credentials.user);
    startup.parameters.emplace_back("database", target.database);
    for (const auto& kv : target.parameters) startup.parameters.push_back(kv);
    std::string out;
    startup.encode(out);
    step = ConnectStep::Startup;
    if (auto [ec, n] = co_await stream_.write_all(asio::buffer(out)); ec)
        co_return failed("could not send startup packet: " + ec.message());

    p::FrameDecoder decoder(kMaxInspected);
    std::optional<p::auth::ScramClient> scram;
    std::string error;
    for (;;) {
        auto frame = co_await read_frame(stream_, decoder, error);
        if (!frame) co_return failed("server closed the connection during login: " + error);
        out.clear();
        switch (static_cast<p::BackendTag>(frame->tag)) {
        case p::BackendTag::Authentication: {
            auto auth = p::decode_authentication(frame->body);
            if (!auth) co_return failed("malformed authentication request: " + auth.error().message);
            if (std::holds_alternative<p::AuthenticationOk>(*auth)) {
                // As libpq: once SCRAM started, only a verified server-final-message proves that
                // the server knows the password; an AuthenticationOk before it proves nothing.
                if (scram && !scram->server_verified())
                    co_return not_authenticated("AuthenticationOk before a verified SCRAM server-final-message");
                if (bound_required && !(scram && scram->mechanism() == p::auth::kScramSha256Plus))
                    co_return not_authenticated("channel_binding=require, but the server authenticated without "
                                                "channel binding");
                step = ConnectStep::Starting;
                break;
            }
            if (bound_required && !std::holds_alternative<p::AuthenticationSASL>(*auth) &&
                !std::holds_alternative<p::AuthenticationSASLContinue>(*auth) &&
                !std::holds_alternative<p::AuthenticationSASLFinal>(*auth)) {
                co_return not_authenticated("channel_binding=require, but the server asked for a password "
                                            "without SCRAM-SHA-256-PLUS");
            }
            if (std::holds_alternative<p::AuthenticationCleartextPassword>(*auth)) {
                if (!credentials.password)
                    co_return refused("server asked for a cleartext password and none is configured for user \"" +
                                      credentials.user + "\"");
                if (!stream_.is_tls()) warn_cleartext_once(endpoint_, credentials.user);
                p::PasswordMessage{*credentials.password}.encode(out);
            } else if (auto* md5 = std::get_if<p::AuthenticationMD5Password>(&*auth)) {
                std::string secret = credentials.md5_secret ? *credentials.md5_secret
                                     : credentials.password
                                         ? p::auth::md5_secret(*credentials.password, credentials.user)
                                         : std::string();
                if (secret.empty())
                    co_return refused("server asked for an MD5 password and none is configured for user \"" +
                                      credentials.user + "\"");
                auto response = p::auth::md5_response(secret, md5->salt);
                p::PasswordMessage{response}.encode(out);
            } else if (auto* sasl = std::get_if<p::AuthenticationSASL>(&*auth)) {
                bool offered = false;
                bool plus_offered = false;
                for (auto m : sasl->mechanisms) {
                    offered |= m == p::auth::kScramSha256;
                    plus_offered |= m == p::auth::kScramSha256Plus;
                }
                // SCRAM-SHA-256-PLUS binds the exchange to the server's certificate: a TLS
                // man in the middle cannot relay it.
                std::optional<std::string> binding;
                const bool may_bind = stream_.is_tls() && target.channel_binding != config::ChannelBinding::Disable;
                if (may_bind && plus_offered) {
                    auto hash = p::auth::tls_server_end_point(stream_.tls()->peer_certificate_der());
                    if (!hash) co_return not_authenticated("cannot bind SCRAM to its certificate: " + hash.error().message);
                    binding = std::move(*hash);
                }
                if (bound_required && !binding)
                    co_return not_authenticated(stream_.is_tls() ? "channel_binding=require, but the server does not offer SCRAM-SHA-256-PLUS"
                                                                 : "channel_binding=require, but the connection is not TLS");
                if (!offered && !binding) co_return refused("server offers no SASL mechanism sluice supports");
                if (scram) co_return not_authenticated("a second SASL exchange was started");
                if (credentials.password) scram.emplace(*credentials.password, std::move(binding), may_bind);
                else if (credentials.scram_keys) scram.emplace(*credentials.scram_keys, std::move(binding), may_bind);
                else co_return refused("server asked for SCRAM and no password or SCRAM keys are available for user \"" +
                                       credentials.user + "\"");
                auto first = scram->client_first();
                p::SASLInitialResponse{scram->mechanism(), std::string_view(first)}.encode(out);
            } else if (auto* cont = std::get_if<p::AuthenticationSASLContinue>(&*auth)) {
                if (!scram) co_return not_authenticated("SASLContinue without a SASL exchange");
                // Refuses absurd iteration counts before hashing (kMaxScramIterations).
                auto final_msg = scram->client_final(cont->data);
                if (!final_msg) co_return not_authenticated(final_msg.error().message);
                p::SASLResponse{*final_msg}.encode(out);
            } else if (auto* fin = std::get_if<p::AuthenticationSASLFinal>(&*auth)) {
                if (!scram) co_return not_authenticated("SASLFinal without a SASL exchange");
                if (auto ok = scram->verify_server_final(fin->data); !ok)
                    co_return not_authenticated(ok.error().message);
            } else {
                co_return refused("server asked for an authentication method sluice does not support");
            }
            if (!out.empty()) {
                step = ConnectStep::Authenticating;
                if (auto [ec, n] = co_await stream_.write_all(asio::buffer(out)); ec)
                    co_return failed("could not send authentication response: " + ec.message());
            }
            break;
        }
        case p::BackendTag::ParameterStatus: {
            auto ps = p::ParameterStatus::decode(frame->body);
            if (!ps) co_return failed("malformed ParameterStatus from server");
            params_.insert_or_assign(std::string(ps->name), std::string(ps->value));
            break;
        }
        case p::BackendTag::BackendKeyData: {
            auto key = p::BackendKeyData::decode(frame->body);
            if (!key) co_return failed("malformed BackendKeyData from server");
            key_ = BackendKey{key->process_id, std::string(key->secret_key)};
            break;
        }
        case p::BackendTag::ErrorResponse: {
            auto err = p::ErrorFields::decode(frame->body);
            if (!err) co_return failed("malformed ErrorResponse from server during login");
            ConnectOutcome o{nullptr, "server rejected login: " + std::string(err->message()), std::move(*err)};
            co_return o;
        }
        case p::BackendTag::NoticeResponse:
        case p::BackendTag::NegotiateProtocolVersion:
            break;
        case p::BackendTag::ReadyForQuery:
            if (decoder.buffered() != 0) co_return failed("server sent data after ReadyForQuery during login");
            {
                error_code ec;
                auto target = std::make_shared<CancelTarget>();
                target->endpoint = endpoint_;
                target->address = stream_.socket().remote_endpoint(ec);
                target->key = key_;
                if (stream_.is_tls()) {
                    target->tls = tls_context_;
                    target->sni = tls_sni_;
                    target->verify_host = tls_verify_host_;
                }
                cancel_target_ = std::move(target);
            }
            co_return ConnectOutcome{std::move(self), {}, std::nullopt};
        default:
            co_return failed("unexpected message '" + std::string(1, frame->tag) + "' from server during login");
        }
    }
}

awaitable<ServerConnection::TlsOutcome> ServerConnection::negotiate_tls(const UpstreamTarget& target) {
    // libpq: "allow" starts in plaintext (and sluice does not retry with TLS); no TLS over unix sockets.
    if (target.sslmode == config::SslMode::Disable || target.sslmode == config::SslMode::Allow) co_return TlsOutcome{};
    if (!endpoint_.host.empty() && endpoint_.host.front() == '/') co_return TlsOutcome{};
    const std::string where = endpoint_.host + ":" + std::to_string(endpoint_.port);
    if (!target.tls) co_return TlsOutcome{"TLS to " + where + " cannot be set up: " + target.tls_error, true};
    const bool required = target.sslmode != config::SslMode::Prefer;
    std::string error;
    if (!co_await ask_for_tls(stream_, error)) {
        if (!error.empty()) co_return TlsOutcome{std::move(error), false};
        if (required)
            co_return TlsOutcome{"the server " + where + " does not accept TLS (sslmode=" +
                                     sslmode_name(target.sslmode) + ")",
                                 true};
        co_return TlsOutcome{};  // prefer: plaintext it is
    }
    // SNI whenever the host is a name (Neon routes on it); the name or address checked under verify-full.
    tls_context_ = target.tls;
    tls_sni_ = target.sni && !is_ip_address(endpoint_.host) ? endpoint_.host : std::string();
    tls_verify_host_ = target.sslmode == config::SslMode::VerifyFull ? endpoint_.host : std::string();
    tls_tried_ = true;
    if (!co_await stream_.start_tls(upstream_tls_engine(tls_context_, tls_sni_, tls_verify_host_), error)) {
        // A certificate that fails the check fails the next attempt too; a reset may not.
        std::string problem = stream_.tls() ? stream_.tls()->certificate_problem() : std::string();
        if (!problem.empty()) co_return TlsOutcome{"TLS to " + where + " failed: " + problem + " (" + error + ")", true};
        co_return TlsOutcome{"TLS to " + where + " failed: " + error, false};
    }
    co_return TlsOutcome{};
}

bool is_transient_login_error(const protocol::ErrorFields& error) noexcept {
    auto code = error.code();
    // Starting up or shutting down (57P01..57P03), or momentarily out of connection slots.
    return code.starts_with("57P0") || code == "53300";
}

awaitable<ServerConnection::QuietResult> ServerConnection::run_quietly(std::string_view sql) {
    QuietResult result;
    std::string out;
    p::Query{sql}.encode(out);
    if (auto [ec, n] = co_await stream_.write_all(asio::buffer(out)); ec) co_return result;
    p::FrameDecoder decoder(kMaxInspected);
    std::string error;
    for (;;) {
        auto frame = co_await read_frame(stream_, decoder, error);
        if (!frame) co_return result;
        switch (static_cast<p::BackendTag>(frame->tag)) {
        case p::BackendTag::ErrorResponse:
            if (!result.error) {
                auto err = p::ErrorFields::decode(frame->body);
                if (err) result.error = std::move(*err);
            }
            break;
        case p::BackendTag::ParameterStatus:
            if (auto ps = p::ParameterStatus::decode(frame->body))
                params_.insert_or_assign(std::string(ps->name), std::string(ps->value));
            break;
        case p::BackendTag::DataRow:
            if (result.first_row.empty()) {
                if (auto row = p::DataRow::decode(frame->body))
                    for (const auto& v : row->values)
                        result.first_row.push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
            }
            break;
        case p::BackendTag::ReadyForQuery: {
            auto rfq = p::ReadyForQuery::decode(frame->body);
            result.ok = rfq && rfq->status == p::TxStatus::Idle && decoder.buffered() == 0;
            co_return result;
        }
        case p::BackendTag::CopyInResponse:
        case p::BackendTag::CopyOutResponse:
        case p::BackendTag::CopyBothResponse:
            co_return result;  // never started by sluice's own statements: the stream is not ours
        default:
            break;
        }
    }
}

}  // namespace sluice::proxy
