#pragma once
// One client connection, start to end. The session coroutine reads like the protocol flow:
// startup -> authenticate (client_login.cpp) -> serve transactions -> finish. Serving forwards
// the client's messages through the Relay, which owns the server lent to this client
// (server_lending.cpp lends one in sync with the client's settings) and streams its responses back.
//
// Client messages are seen here, one by one, before any server is attached: the place for
// policies that act on them (query guard, prepared statements, statement timers).
#include <array>
#include <atomic>
#include <chrono>
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
#include "proxy/session_registry.hpp"
#include "proxy/stream.hpp"

namespace sluice::proxy {

// How often the server looks for idle clients to park (ClientSession::park_if_idle); a client is
// parked after one to two periods of silence between transactions.
inline constexpr std::chrono::milliseconds kIdleSweepPeriod{100};

// Largest client message accepted once logged in (a Bind with big parameters, a CopyData chunk).
inline constexpr std::size_t kMaxClientMessage = 64 * 1024 * 1024;

class ClientSession : public std::enable_shared_from_this<ClientSession>, public SessionRegistry::Entry {
public:
    // `taken`: this socket's count against max_client_connections, held until the session is
    // gone, and what it may do.
    ClientSession(ProxyContext& context, Stream client, std::uint64_t id, ClientCount::Taken taken);
    ~ClientSession();

    awaitable<void> run();
    // From any thread: end the session at its next idle point (shutdown).
    void request_shutdown();
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

    // Parking. Thousands of clients sit idle between transactions for most of their lives; a parked
    // one holds no coroutine frames, buffers or relay, only this object, its socket waiting in the
    // parking lot (no operation pending), and its serving coroutine starts again when the client speaks.
    // The idle_clock step at which the session began waiting for its client between transactions
    // (or for its first query), without a server and with nothing buffered; 0 when it is not.
    [[nodiscard]] std::uint32_t idle_since_tick() const noexcept { return idle_tick_.load(std::memory_order_relaxed); }
    // From any thread: park the session if it is still waiting as idle_since_tick() said.
    void park_if_idle();
    // The parking lot's resume (parking_lot.hpp) for sessions: serving starts again on the
    // session's executor.
    static void resume(std::shared_ptr<void> owner, bool interrupted);

private:
    // The login, within timeouts.client_login; a SessionEnd when it failed.
    awaitable<std::optional<SessionEnd>> log_in_in_time();
    // Serves transactions until the session ends (then finish()) or is parked.
    awaitable<void> serve_or_park();
    // nullopt: parked.
    awaitable<std::optional<SessionEnd>> serve();
    // After the login, with nothing from the client yet: a wait in the reactor, until the client
    // speaks or the idle sweep parks the session.
    void wait_for_first_query();
    void park();
    // Nothing buffered: the decoder's and TLS's buffers and the relay go (the relay's memory only,
    // if a timer or a server task still needs it).
    void release_idle_memory();
    static void spawn_serving(std::shared_ptr<ClientSession> self);
    // Stamps idle_tick_ when the session waits for its client with nothing held for it: no server
    // (one may still be on its way back when the wait begins), nothing buffered.
    void note_if_idle();
    // Nothing the client sent waits in sluice (decoder, TLS): its next bytes are all in the socket.
    [[nodiscard]] bool nothing_buffered() const noexcept { return decoder_.pending().empty() && client_.nothing_buffered(); }
    // The relay for this client's pool (after login, and again after a park that dropped it).
    void make_relay();
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
    // `taken`: a server the caller already took from the pool (try_lend_idle, acquire), to sync
    // first; it waits for one (query_wait) otherwise.
    awaitable<Lent> lend_server(Lease taken = {});
    static Clock::time_point deadline_after(config::Duration d);
    [[nodiscard]] Clock::time_point query_wait_deadline() const;
    // The server's settings are the client's already (or are set per transaction): lend it as is.
    [[nodiscard]] bool settings_match(const ServerConnection& server) const;

    awaitable<bool> send_to_client(const std::string& bytes);
    // Answers a lone Parse + Sync of a named statement when no server is free, so that a client
    // preparing outside a transaction does not wait for one; nullopt when that is not the case.
    std::optional<std::string> prepare_without_server();
    [[nodiscard]] SessionEnd too_many_clients() const;

    // The client's address, for logs ("unknown" once the socket is closed): asked of the socket
    // when needed, not kept by every idle client.
    [[nodiscard]] std::string peer();

    // The timeouts for this client, kept for each relay made, as 32-bit milliseconds (up to 49
    // days; a longer one saturates there): half of config::SessionTimeouts in every idle client.
    class Limits {
    public:
        Limits() noexcept : Limits(config::SessionTimeouts{}) {}
        explicit Limits(const config::SessionTimeouts& t) noexcept;
        [[nodiscard]] config::SessionTimeouts get() const noexcept;

    private:
        std::array<std::uint32_t, 5> ms_;
    };

    // What every idle client keeps is this object: members are ordered so that none pads another.
    ProxyContext& ctx_;
    std::shared_ptr<const config::Config> config_;
    Stream client_;
    std::uint64_t id_;
    protocol::FrameDecoder decoder_;
    // What only the login needs, dropped once it is done (idle clients stay small).
    struct Login {
        protocol::StartupMessage startup;
        ParamMap startup_settings;  // the GUCs of its StartupMessage
    };
    std::unique_ptr<Login> login_ = std::make_unique<Login>();
    std::shared_ptr<Pool> pool_;
    ClientSettings settings_;  // what the client believes its session settings are
    ClientStatements statements_;  // its named prepared statements (transaction mode)
    CancelSlot cancel_slot_;  // listed in ctx_.cancels from login to the destructor
    ClientCount::Place place_;
    std::unique_ptr<QueryGuard> guard_;  // when [guard] is on for this client
    std::unique_ptr<Relay> relay_;  // made once the pool (and so the lending mode) is known
    Limits limits_;  // for this database, user and application_name
    protocol::ProtocolVersion version_ = protocol::kProtocol30;
    config::SessionStatePolicy session_state_{};  // for this database and user (each relay made)
    std::atomic<std::uint32_t> idle_tick_{0};  // see idle_since_tick()
    Admission admission_;
    std::atomic<bool> shutdown_requested_{false};
    bool park_requested_ = false;      // park_if_idle() interrupted the wait for the client
    bool waiting_for_client_ = false;  // serve() is in its read of the client
};

}  // namespace sluice::proxy
