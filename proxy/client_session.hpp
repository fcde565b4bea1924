#pragma once
// One client connection, start to end. The session coroutine reads like the protocol flow:
// startup -> authenticate -> serve transactions -> finish. While a server is lent, a second
// coroutine (the pump) streams its responses to the client and gives it back to the pool at the
// ReadyForQuery that ends the transaction.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "protocol/frame_decoder.hpp"
#include "protocol/startup.hpp"
#include "proxy/asio.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/pool.hpp"
#include "proxy/proxy_context.hpp"
#include "proxy/session_end.hpp"
#include "proxy/session_params.hpp"
#include "proxy/stream.hpp"
#include "proxy/transaction_tracker.hpp"

namespace sluice::proxy {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
public:
    ClientSession(ProxyContext& context, tcp::socket socket, std::uint64_t id);
    ~ClientSession();

    awaitable<void> run();
    // From any thread: end the session at its next idle point (shutdown).
    void request_shutdown();
    [[nodiscard]] std::uint64_t id() const noexcept { return id_; }

private:
    awaitable<SessionEnd> run_phases();
    awaitable<std::optional<SessionEnd>> read_startup();
    awaitable<std::optional<SessionEnd>> log_in();
    awaitable<SessionEnd> serve();
    awaitable<void> finish(const SessionEnd& end);

    // Lends a server to this client and makes its settings match the client's.
    awaitable<std::optional<SessionEnd>> attach_server();
    void detach_server(bool clean, std::string_view reason);
    awaitable<void> pump();
    void start_pump();
    // The client is leaving: reset and return an idle server, or close one mid-transaction.
    awaitable<void> let_go_of_server();
    // The client is gone while the pump runs: let the pump return or close the server.
    void abandon_to_pump();
    awaitable<void> end_pump_for_gone_client();
    // client_params_ from the pool's defaults and the client's startup settings, spelled as the
    // server spells them where the pool knows; false if some setting was never checked.
    bool apply_known_settings(const ParamMap& defaults);
    void learn_server_spelling(const std::vector<std::string>& names,
                               const std::vector<std::optional<std::string>>& values);

    awaitable<bool> send_to_client(const std::string& bytes);

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
    ParamMap client_params_;  // what the client believes its session settings are
    ParamMap startup_settings_;
    std::uint64_t client_fingerprint_ = 0;  // of client_params_  // the GUCs of its StartupMessage, until login completes
    std::shared_ptr<CancelSlot> cancel_slot_;
    BackendKey cancel_key_;
    bool registered_cancel_key_ = false;
    bool counted_ = false;

    // The lent server; the pump runs exactly while a transaction is in flight on it.
    std::unique_ptr<ServerConnection> server_;
    TransactionTracker tracker_;
    bool pump_running_ = false;
    bool client_gone_ = false;
    bool server_said_fatal_ = false;
    std::optional<SessionEnd> pump_end_;  // the pump ended the session (and told the client)
    std::atomic<bool> shutdown_requested_{false};
};

}  // namespace sluice::proxy
