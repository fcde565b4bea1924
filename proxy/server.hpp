#pragma once
// The sluice server: listener, worker threads, signals, pool upkeep and graceful shutdown.
#include <atomic>
#include <memory>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/auth_query.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/client_count.hpp"
#include "proxy/handshake_executor.hpp"
#include "proxy/heap_trim.hpp"
#include "proxy/parking_lot.hpp"
#include "proxy/proxy_context.hpp"
#include "proxy/router.hpp"

namespace sluice::proxy {

class ClientSession;

class Server {
public:
    explicit Server(std::shared_ptr<const config::Config> config);
    ~Server();

    // Listens and serves until SIGINT/SIGTERM (or stop()); returns the process exit code.
    int run();
    void stop();

private:
    awaitable<void> accept_loop(tcp::acceptor& acceptor);
    awaitable<void> maintenance_loop();
    // Every 100 ms: ends the pool waits past query_wait or reserve_timeout, and parks the
    // sessions whose clients have been idle between transactions for a while.
    awaitable<void> idle_sweep_loop();
    awaitable<void> shutdown();
    void spawn_session(Stream client, ClientCount::Taken taken);
    void wait_for_reload();
    void reload_certificates();

    std::shared_ptr<const config::Config> config_;
    unsigned workers_;
    // Before io_: sessions still queued in io_ when it is destroyed give their places back here.
    ClientCount clients_;
    std::atomic<std::uint64_t> dropped_{0};  // sockets closed unread since the last report
    asio::io_context io_;
    UpstreamTls upstream_tls_;  // before the router and auth_query, which use it
    Router router_;
    CancelRegistry cancels_;
    std::unique_ptr<AuthQueryCache> auth_query_;
    ProxyContext context_;
    // After context_ (destroyed before it): sessions still parked when the server goes end here.
    ParkingLot parking_;
    std::vector<std::unique_ptr<tcp::acceptor>> acceptors_;
    asio::signal_set signals_;
    asio::signal_set reload_signal_;  // SIGHUP: client_tls certificates read again
    std::atomic<std::uint64_t> next_session_id_{1};
    // Read by the maintenance and idle-sweep loops, which run on any worker thread.
    std::atomic<bool> stopping_{false};
    // Last: stopped and joined first, while io_ and the sessions it abandons still exist.
    HandshakeThread handshakes_;
    HeapTrimmer heap_;  // used by idle_sweep_loop only
    bool check_trim_next_tick_ = false;  // idle_sweep_loop parked a burst of clients
};

}  // namespace sluice::proxy
