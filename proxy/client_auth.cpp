#include "proxy/client_auth.hpp"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/md5.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/tls_engine.hpp"

namespace sluice::proxy {

namespace p = protocol;
namespace auth = protocol::auth;

namespace {

// Deriving a SCRAM secret from a plaintext password costs 4096 HMAC rounds: do it once per password.
auth::ScramSecret scram_secret_for_plaintext(std::string_view user, std::string_view password) {
    static std::mutex mutex;
    static std::map<std::string, auth::ScramSecret, std::less<>> cache;
    std::string key = auth::sha256(std::string(user) + '\0' + std::string(password));
    std::lock_guard lock(mutex);
    auto it = cache.find(key);
    if (it != cache.end()) return it->second;
    auto secret = auth::ScramSecret::from_password(password);
    cache.emplace(std::move(key), secret);
    return secret;
}

// A stand-in secret for users that do not exist, stable per user name so that repeated probes
// see the same salt, and useless for logging in (its keys are random).
auth::ScramSecret mock_secret(std::string_view user) {
    static const std::string nonce = auth::random_bytes(32);
    auth::ScramSecret s;
    s.iterations = auth::kDefaultScramIterations;
    s.salt = auth::sha256(nonce + std::string(user)).substr(0, 16);
    s.stored_key = auth::random_bytes(32);
    s.server_key = auth::random_bytes(32);
    return s;
}

// PostgreSQL's own limits on a role name: NAMEDATALEN - 1 bytes, no NUL (the startup packet
// cannot carry one, but a name that reached here is checked anyway), not empty. A name that no
// role can have fails like an unknown user, and is never sent upstream to be looked up.
constexpr std::size_t kMaxRoleNameBytes = 63;

bool could_be_role_name(std::string_view user) noexcept {
    return !user.empty() && user.size() <= kMaxRoleNameBytes && user.find('\0') == std::string_view::npos;
}

// An MD5 secret no password matches (random), for the MD5 exchange of an unknown user. The
// salt of that exchange is random per attempt, as for a real user.
std::string mock_md5_secret() { return "md5" + auth::hex_encode(auth::random_bytes(16)); }

SessionEnd auth_failed(std::string_view user) {
    return SessionEnd::because(EndReason::AuthFailed,
                               "password authentication failed for user \"" + std::string(user) + "\"");
}

awaitable<bool> send(Stream& stream, const std::string& bytes) {
    auto [ec, n] = co_await stream.write_all(asio::buffer(bytes));
    co_return !ec;
}

// The client's next 'p' message body, or why there is none.
struct PasswordRead {
    std::optional<std::string_view> body;
    std::string error;  // set when body is empty: it went away, sent something else or too much
};

awaitable<PasswordRead> read_password_message(Stream& stream, p::FrameDecoder& decoder, std::string_view expected) {
    std::string error;
    auto frame = co_await read_frame(stream, decoder, error, p::kPasswordTurnEnd);
    if (!frame) co_return PasswordRead{std::nullopt, "expected " + std::string(expected) + ": " + error};
    if (frame->tag != static_cast<char>(p::FrontendTag::Password))
        co_return PasswordRead{std::nullopt, "expected " + std::string(expected) + ", got message type '" +
                                                 std::string(1, frame->tag) + "'"};
    co_return PasswordRead{frame->body, {}};
}

constexpr std::string_view kSaslResponse = "a SASL response during authentication";
constexpr std::string_view kPasswordMessage = "a password message during authentication";

struct ScramOutcome {
    bool ok = false;
    std::string protocol_error;  // non-empty: the client broke the protocol (08P01), and how
    std::string client_key;
};

awaitable<ScramOutcome> run_scram(Stream& stream, p::FrameDecoder& decoder, const auth::ScramSecret& secret) {
    ScramOutcome outcome;
    std::string out;
    // Over TLS, SCRAM-SHA-256-PLUS binds the exchange to sluice's certificate (tls-server-end-point).
    std::optional<std::string> binding;
    if (const TlsEngine* tls = stream.tls())
        if (auto hash = auth::tls_server_end_point(tls->own_certificate_der())) binding = std::move(*hash);
    if (binding)
        p::encode_authentication(p::AuthenticationSASL{{auth::kScramSha256Plus, auth::kScramSha256}}, out);
    else
        p::encode_authentication(p::AuthenticationSASL{{auth::kScramSha256}}, out);
    if (!co_await send(stream, out)) co_return outcome;

    auto read = co_await read_password_message(stream, decoder, kSaslResponse);
    if (!read.body) {
        outcome.protocol_error = std::move(read.error);
        co_return outcome;
    }
    auto initial = p::SASLInitialResponse::decode(*read.body);
    if (!initial || !initial->data) {
        outcome.protocol_error = "malformed SASLInitialResponse";
        co_return outcome;
    }
    auth::ScramServer server(secret, std::move(binding));
    auto first = server.server_first(initial->mechanism, *initial->data);
    if (!first) co_return outcome;
    out.clear();
    p::encode_authentication(p::AuthenticationSASLContinue{*first}, out);
    if (!co_await send(stream, out)) co_return outcome;

    read = co_await read_password_message(stream, decoder, kSaslResponse);
    if (!read.body) {
        outcome.protocol_error = std::move(read.error);
        co_return outcome;
    }
    auto response = p::SASLResponse::decode(*read.body);
    if (!response) {
        outcome.protocol_error = "malformed SASLResponse";
        co_return outcome;
    }
    auto final_msg = server.server_final(response->data);
    if (!final_msg) co_return outcome;
    out.clear();
    p::encode_authentication(p::AuthenticationSASLFinal{*final_msg}, out);
    if (!co_await send(stream, out)) co_return outcome;
    outcome.ok = true;
    outcome.client_key = server.client_key();
    co_return outcome;
}

struct Md5Outcome {
    bool ok = false;
    std::string protocol_error;  // as in ScramOutcome
};

awaitable<Md5Outcome> run_md5(Stream& stream, p::FrameDecoder& decoder, std::string_view md5_secret) {
    auto salt = auth::random_bytes(4);
    std::string out;
    p::encode_authentication(p::AuthenticationMD5Password{salt}, out);
    if (!co_await send(stream, out)) co_return Md5Outcome{false, "could not send the MD5 challenge"};
    auto read = co_await read_password_message(stream, decoder, kPasswordMessage);
    if (!read.body) co_return Md5Outcome{false, std::move(read.error)};
    auto pw = p::PasswordMessage::decode(*read.body);
    if (!pw) co_return Md5Outcome{false, "malformed password message"};
    co_return Md5Outcome{auth::md5_verify(md5_secret, salt, pw->password), {}};
}

SessionEnd protocol_violation(std::string why) {
    return SessionEnd::because(EndReason::ProtocolViolation, std::move(why));
}

}  // namespace

awaitable<ClientAuthResult> authenticate_client(Stream& stream, p::FrameDecoder& decoder,
                                                const config::Config& config, const config::Database* database,
                                                std::string_view user, AuthQueryCache* auth_query) {
    ClientAuthResult result;
    const config::User* known = config.find_user(user);
    const config::UpstreamUrl* url = database ? &database->upstream : nullptr;

    // What sluice logs in to the upstream as: the URL's credentials when it has them, else the
    // client's own (its password, MD5 secret, or SCRAM keys) pass through.
    result.upstream.user = url && url->user ? *url->user : std::string(user);
    if (url && url->password) result.upstream.password = *url->password;
    auto pass_through = [&](std::string_view secret) {
        if (url && url->password) return;
        if (auth::ScramSecret::looks_like(secret)) return;  // keys are filled in after the exchange
        if (auth::is_md5_secret(secret)) result.upstream.md5_secret = std::string(secret);
        else result.upstream.password = std::string(secret);
    };

    switch (config.auth.method) {
    case config::AuthMethod::Trust:
        if (!config.auth.users.empty() && !known) {
            result.failure = SessionEnd::because(EndReason::NotAuthorized,
                                                 "role \"" + std::string(user) + "\" is not allowed to connect");
            co_return result;
        }
        if (known) pass_through(known->password);
        co_return result;

    case config::AuthMethod::Md5:
    case config::AuthMethod::ScramSha256: {
        std::string secret;
        if (known) {
            secret = known->password;
        } else if (!could_be_role_name(user)) {
            spdlog::info("login refused: \"{}\" is not a valid role name", user);
        } else if (auth_query && database) {
            auto found = co_await auth_query->lookup(*database, std::string(user));
            if (found.status == AuthQueryResult::Status::Failed) {
                // Not the client's fault, and the same for every name: say what happened.
                spdlog::warn("login of \"{}\" failed: {}", user, found.reason);
                result.failure = SessionEnd::because(
                    EndReason::ServerUnavailable, "could not look up user \"" + std::string(user) + "\": " + found.reason,
                    "sluice looks up users not in its configuration with auth_query; check the upstream and "
                    "auth.auth_query, then try again.");
                co_return result;
            }
            if (found.status == AuthQueryResult::Status::Found) secret = std::move(found.secret);
            else spdlog::info("login refused for \"{}\": {}", user, found.reason);
        } else {
            spdlog::info("login refused: unknown user \"{}\"", user);
        }
        if (secret.empty()) {
            // The exchange a real user of this method gets, then the same failure: no hint that
            // the user is unknown.
            if (config.auth.method == config::AuthMethod::Md5) {
                auto outcome = co_await run_md5(stream, decoder, mock_md5_secret());
                result.failure =
                    outcome.protocol_error.empty() ? auth_failed(user) : protocol_violation(outcome.protocol_error);
                co_return result;
            }
            auto outcome = co_await run_scram(stream, decoder, mock_secret(user));
            result.failure =
                outcome.protocol_error.empty() ? auth_failed(user) : protocol_violation(outcome.protocol_error);
            co_return result;
        }
        pass_through(secret);
        bool use_md5 = config.auth.method == config::AuthMethod::Md5 && !auth::ScramSecret::looks_like(secret);
        if (use_md5) {
            std::string md5 = auth::is_md5_secret(secret) ? secret : auth::md5_secret(secret, user);
            auto outcome = co_await run_md5(stream, decoder, md5);
            if (!outcome.protocol_error.empty()) result.failure = protocol_violation(outcome.protocol_error);
            else if (!outcome.ok) result.failure = auth_failed(user);
            co_return result;
        }
        if (auth::is_md5_secret(secret)) {
            // As PostgreSQL: an MD5 secret cannot verify SCRAM, and sluice does not downgrade.
            spdlog::warn("user \"{}\" has an MD5 secret but auth.method is scram-sha-256: login refused", user);
            co_await run_scram(stream, decoder, mock_secret(user));
            result.failure = auth_failed(user);
            co_return result;
        }
        auth::ScramSecret scram;
        if (auth::ScramSecret::looks_like(secret)) {
            auto parsed = auth::ScramSecret::parse(secret);
            if (!parsed) {
                spdlog::error("user \"{}\" has a malformed SCRAM secret: {}", user, parsed.error().message);
                result.failure = auth_failed(user);
                co_return result;
            }
            scram = *parsed;
        } else {
            scram = scram_secret_for_plaintext(user, secret);
        }
        auto outcome = co_await run_scram(stream, decoder, scram);
        if (!outcome.protocol_error.empty()) {
            result.failure = protocol_violation(outcome.protocol_error);
        } else if (!outcome.ok) {
            result.failure = auth_failed(user);
        } else if (auth::ScramSecret::looks_like(secret) && !(url && url->password)) {
            result.upstream.scram_keys = auth::ScramClient::Keys{outcome.client_key, scram.server_key};
        }
        co_return result;
    }
    }
    co_return result;
}

}  // namespace sluice::proxy
