#pragma once
// One client connection, start to end. The session coroutine reads like the protocol flow:
// startup -> authenticate (client_login.cpp) -> serve transactions -> finish. Serving forwards
// the client's messages through the Relay, which owns the server lent to this client
// (server_lending.cpp lends one in sync with the client's settings) and streams its responses back.
//
// Client messages are seen here, one by one, before any server is attached: the place for
// policies that act on them (query guard, prepared statements, statement timers).
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "protocol/frame_decoder.hpp"
#include "protocol/startup.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/client_count.hpp"
#include "proxy/pool.hpp"
#include "proxy/prepared_statements.hpp"
#include "proxy/query_guard.hpp"
#include "proxy/proxy_context.hpp"
#include "proxy/relay.hpp"
#include "proxy/session_end.hpp"
#include "proxy/session_params.hpp"
#include "proxy/stream.hpp"

namespace sluice::proxy {

// Largest client message accepted once logged in (a Bind with big parameters, a CopyData chunk).
inline constexpr std::size_t kMaxClientMessage = 64 * 1024 * 1024;

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    // `place`: this socket's count against max_client_connections, held until the session is gone.
    ClientSession(ProxyContext& context, tcp::socket socket, std::uint64_t id, ClientCount::Place place);
    ~ClientSession();

    awaitable<void> run();
    // From any thread: end the session at its next idle point (shutdown).
    void request_shutdown();
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

private:
    awaitable<SessionEnd> run_phases();
    awaitable<SessionEnd> serve();
    awaitable<void> finish(const SessionEnd& end);
    [[nodiscard]] bool stopping() const noexcept;

    // client_login.cpp
    awaitable<std::optional<SessionEnd>> read_startup();
    awaitable<bool> first_byte_is_tls_handshake();
    // The TLS handshake as the server with `tls` (sluice's certificate as this login began);
    // `direct`: without an SSLRequest first (ALPN required).
    awaitable<std::optional<SessionEnd>> accept_tls(std::shared_ptr<const TlsContext> tls, bool direct);
    awaitable<std::optional<SessionEnd>> log_in();
    // settings_ from the pool's defaults and the client's startup settings, spelled as the
    // server spells them where the pool knows; false if some setting was never checked.
    bool apply_known_settings(const ParamMap& defaults);
    void learn_server_spelling(ServerConnection& server, const std::vector<std::string>& names,
                               const std::vector<std::optional<std::string>>& values);

    // server_lending.cpp: a server from the pool, made to match the client's settings.
    struct Lent {
        Lease lease;
        std::optional<SessionEnd> failure;  // set when the lease is empty
    };
    // `taken`: a server the caller already took from the pool (try_lend_idle), to sync first.
    awaitable<Lent> lend_server(Lease taken = {});

    awaitable<bool> send_to_client(const std::string& bytes);
    // Answers a lone Parse + Sync of a named statement when no server is free, so that a client
    // preparing outside a transaction does not wait for one; nullopt when that is not the case.
    std::optional<std::string> prepare_without_server();
    [[nodiscard]] SessionEnd too_many_clients() const;

    ProxyContext& ctx_;
    std::shared_ptr<const config::Config> config_;
    Stream client_;
    std::uint64_t id_;
    std::string peer_;
    protocol::FrameDecoder decoder_;
    protocol::StartupMessage startup_;
    protocol::ProtocolVersion version_ = protocol::kProtocol30;
    std::string user_;
    std::string database_;
    std::shared_ptr<Pool> pool_;
    config::SessionTimeouts limits_;  // for this database, user and application_name
    ClientSettings settings_;  // what the client believes its session settings are
    ClientStatements statements_;  // its named prepared statements (transaction mode)
    ParamMap startup_settings_;  // the GUCs of its StartupMessage, until login completes
    std::shared_ptr<CancelSlot> cancel_slot_;
    BackendKey cancel_key_;
    bool registered_cancel_key_ = false;
    ClientCount::Place place_;
    std::optional<QueryGuard> guard_;  // when [guard] is on for this client
    std::optional<Relay> relay_;  // made once the pool (and so the lending mode) is known
    std::atomic<bool> shutdown_requested_{false};
};

}  // namespace sluice::proxy
