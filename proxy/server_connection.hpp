#pragma once
// One connection to an upstream PostgreSQL: connect, log in as a client (cleartext, MD5,
// SCRAM-SHA-256), and the state sluice keeps about it while it moves between clients.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frame_scanner.hpp"
#include "proxy/asio.hpp"
#include "proxy/prepared_statements.hpp"
#include "proxy/read_buffer.hpp"
#include "proxy/session_params.hpp"
#include "proxy/stream.hpp"
#include "proxy/tls_context.hpp"

namespace sluice::proxy {

// How sluice logs in to the upstream for one pool.
struct ServerCredentials {
    std::string user;
    std::optional<std::string> password;  // plaintext: answers cleartext, MD5 and SCRAM
    std::optional<std::string> md5_secret;  // "md5...": answers MD5 challenges
    std::optional<protocol::auth::ScramClient::Keys> scram_keys;  // a client's keys, recovered by SCRAM
};

// Where and what to connect to for one pool.
struct UpstreamTarget {
    std::vector<config::HostPort> hosts;
    std::string database;
    // Startup parameters besides user/database (options, application_name, ... from the URL).
    std::vector<std::pair<std::string, std::string>> parameters;
    config::Duration connect_timeout{std::chrono::seconds(5)};
    config::Duration write_timeout{std::chrono::seconds(60)};  // timeouts.server_write
    config::Tcp tcp;  // keepalive on the connection
    // TLS as libpq's sslmode; `tls` is made once per target (nullptr: sslmode=disable, or it
    // could not be made, and tls_error says why).
    config::SslMode sslmode = config::SslMode::Disable;
    bool sni = true;
    config::ChannelBinding channel_binding = config::ChannelBinding::Prefer;
    std::shared_ptr<const TlsContext> tls;
    std::string tls_error;
};

struct BackendKey {
    std::int32_t process_id = 0;
    std::string secret;
};

// Where a CancelRequest for one server goes, made once per server at login. Shared with the
// cancel path so that lending a server costs no copies.
struct CancelTarget {
    config::HostPort endpoint;  // as configured, for logs
    tcp::endpoint address;      // as connected: no new DNS lookup
    BackendKey key;
    // Set when the server's connection uses TLS: the cancel request goes over TLS the same way.
    std::shared_ptr<const TlsContext> tls;
    std::string sni;
    std::string verify_host;
    // Cancel requests on their way. While one is, the server must not be lent to another client:
    // the cancel could hit that client's query.
    mutable std::atomic<int> in_flight{0};
};

class ServerConnection;
class TlsEngine;

// Sends SSLRequest and reads the one-byte answer: true for 'S'. False with `answer_error` empty
// for 'N', set when the exchange failed.
awaitable<bool> ask_for_tls(Stream& stream, std::string& answer_error);
std::unique_ptr<TlsEngine> upstream_tls_engine(const std::shared_ptr<const TlsContext>& context, const std::string& sni,
                                               const std::string& verify_host);

// How far one connect attempt got: a timeout names it, because "the server never answered the
// startup packet" and "the TCP connect hung" send an operator to different places.
enum class ConnectStep : std::uint8_t { Resolving, Connecting, Tls, Startup, Authenticating, Starting };
const char* describe(ConnectStep step) noexcept;

struct ConnectOutcome {
    std::unique_ptr<ServerConnection> connection;
    std::string error;  // why it failed, for logs and the client
    // The upstream's own ErrorResponse during login (bad password, unknown database, too many
    // connections); forwarded to the client as it is.
    std::optional<protocol::ErrorFields> server_error;
    // Retrying will not help: the upstream failed to authenticate itself, asked for more than
    // sluice will do, or asked for credentials sluice does not have.
    bool permanent = false;
    // The attempt went to TLS (the server answered the SSLRequest 'S'): libpq's "prefer" then
    // tries again in plaintext if it fails.
    bool tried_tls = false;
};

class ServerConnection {
public:
    static awaitable<ConnectOutcome> connect(const UpstreamTarget& target, const ServerCredentials& credentials);

    ServerConnection(tcp::socket socket, config::HostPort endpoint);

    Stream& stream() noexcept { return stream_; }
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }
    [[nodiscard]] const config::HostPort& endpoint() const noexcept { return endpoint_; }
    [[nodiscard]] const BackendKey& key() const noexcept { return key_; }
    // Where cancel requests for this server go (set at login).
    [[nodiscard]] const std::shared_ptr<const CancelTarget>& cancel_target() const noexcept { return cancel_target_; }
    [[nodiscard]] bool cancel_in_flight() const noexcept {
        return cancel_target_ && cancel_target_->in_flight.load(std::memory_order_acquire) > 0;
    }
    // The last client may have changed the session's role (SET ROLE, SET SESSION AUTHORIZATION):
    // reset before the server is lent again.
    [[nodiscard]] bool role_may_have_changed() const noexcept { return role_may_have_changed_; }
    void set_role_may_have_changed(bool v) noexcept { role_may_have_changed_ = v; }
    // Settings the server has now: reported at login or by ParameterStatus, or set by sluice.
    ParamMap& params() noexcept { return params_; }
    [[nodiscard]] Clock::time_point created() const noexcept { return created_; }
    [[nodiscard]] Clock::time_point last_used() const noexcept { return last_used_; }
    void touch(Clock::time_point now) noexcept { last_used_ = now; }
    // The fingerprint of the client settings this server was last made to match (0: unknown).
    [[nodiscard]] std::uint64_t synced_to() const noexcept { return synced_to_; }
    void set_synced_to(std::uint64_t fingerprint) noexcept { synced_to_ = fingerprint; }
    // After DISCARD ALL: every setting is back to what it was at login.
    void reset_params(ParamMap defaults) {
        params_ = std::move(defaults);
        synced_to_ = 0;
    }

    // The named statements sluice prepared on this server (transaction mode).
    ServerStatements& statements() noexcept { return statements_; }

    // Where responses are read into, and the scanner that finds message boundaries in them.
    ReadBuffer& read_buffer() noexcept { return read_buffer_; }
    protocol::FrameScanner& scanner() noexcept { return scanner_; }

    // Runs a simple query whose results nobody sees (session parameter sync, DISCARD ALL, health
    // check). Returns the first ErrorResponse if the server raised one; throws nothing. `ok` is
    // false when the connection broke or the server did not end idle.
    struct QuietResult {
        bool ok = false;
        std::optional<protocol::ErrorFields> error;
        std::vector<std::optional<std::string>> first_row;  // the first DataRow, if any
    };
    awaitable<QuietResult> run_quietly(std::string_view sql);

private:
    struct TlsOutcome {
        std::string error;  // empty: the connection may go on (over TLS or not)
        bool permanent = false;  // the next attempt would fail the same way (a certificate, sslmode)
    };
    // SSLRequest and the handshake as sslmode asks.
    awaitable<TlsOutcome> negotiate_tls(const UpstreamTarget& target);
    awaitable<ConnectOutcome> login(const UpstreamTarget& target, const ServerCredentials& credentials,
                                    std::unique_ptr<ServerConnection> self, ConnectStep& step);
    awaitable<ConnectOutcome> login_steps(const UpstreamTarget& target, const ServerCredentials& credentials,
                                          std::unique_ptr<ServerConnection>& self, ConnectStep& step);

    Stream stream_;
    std::uint64_t id_;
    config::HostPort endpoint_;
    BackendKey key_;
    std::shared_ptr<const CancelTarget> cancel_target_;
    // The TLS of this connection, for its cancel requests.
    std::shared_ptr<const TlsContext> tls_context_;
    std::string tls_sni_;
    std::string tls_verify_host_;
    bool tls_tried_ = false;  // the server accepted the SSLRequest and a handshake began
    bool role_may_have_changed_ = false;
    ParamMap params_;
    std::uint64_t synced_to_ = 0;
    Clock::time_point created_;
    Clock::time_point last_used_;
    ReadBuffer read_buffer_;
    protocol::FrameScanner scanner_;
    ServerStatements statements_;
};

// An upstream login error worth retrying (the server is restarting or briefly full), as opposed
// to one that will not change (bad password, unknown database).
bool is_transient_login_error(const protocol::ErrorFields& error) noexcept;

// The bit set of backend tags the relay inspects.
std::bitset<256> relay_inspected_tags() noexcept;

}  // namespace sluice::proxy
