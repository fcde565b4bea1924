#include "proxy/server.hpp"

#include "proxy/log_exception.hpp"

#include <spdlog/spdlog.h>

#include <thread>

#include "proxy/client_session.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {

namespace {

// Sockets past max_client_connections answered 53300 at once (each for at most a second); more
// than that is a flood, and those are closed unread so that it costs no more descriptors.
constexpr std::uint32_t kRefusalsAtOnce = 64;

}  // namespace

Server::Server(std::shared_ptr<const config::Config> config)
    : config_(std::move(config)),
      workers_(config_->listen.workers ? config_->listen.workers : std::max(1u, std::thread::hardware_concurrency())),
      clients_(config_->listen.max_client_connections, kRefusalsAtOnce),
      // One thread runs everything: the reactor and the scheduler may skip their locks. Nothing
      // else may post to io_ then: the handshake and lookup threads hand their results back
      // through eventfds (thread_handoff.hpp), and Asio's signal_set is read on io_'s own thread.
      io_(workers_ == 1 ? BOOST_ASIO_CONCURRENCY_HINT_UNSAFE : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT),
      upstream_tls_(*config_),
      router_(io_.get_executor(), config_, upstream_tls_),
      context_{config_, router_, cancels_},
      parking_(io_, &ClientSession::resume),
      signals_(io_, SIGINT, SIGTERM),
      reload_signal_(io_, SIGHUP) {
    // Before any thread starts (see worker_mutex.hpp).
    WorkerMutex::set_single_worker(workers_ == 1);
    context_.parking = &parking_;
    if (config_->auth.auth_query) {
        auth_query_ = std::make_unique<AuthQueryCache>(io_.get_executor(), *config_->auth.auth_query, upstream_tls_);
        context_.auth_query = auth_query_.get();
    }
}

Server::~Server() = default;

int Server::run() {
    const auto& listen = config_->listen;
    if (config_->client_tls.mode != config::ClientTlsMode::Disable) {
        std::string error;
        context_.set_client_tls(TlsContext::for_clients(config_->client_tls, error));
        if (!context_.client_tls_now()) {
            spdlog::critical("{}: client_tls: {}", config_->source, error);
            return 1;
        }
    }
    // Logins to such a database fail with this reason; the operator sees it before the first one.
    for (const auto& database : config_->databases)
        if (auto tls = upstream_tls_.for_url(database.upstream); !tls.error.empty())
            spdlog::error("database \"{}\": TLS to its upstream cannot be set up: {}", database.name, tls.error);
    try {
        auto address = asio::ip::make_address(listen.address);
        // With several workers on a strand of its own: shutdown() closes it from whichever thread
        // runs the signal, while its accept loop may be starting the next accept on another.
        auto acceptor = workers_ == 1 ? std::make_unique<tcp::acceptor>(io_)
                                      : std::make_unique<tcp::acceptor>(asio::make_strand(io_));
        tcp::endpoint endpoint(address, listen.port);
        acceptor->open(endpoint.protocol());
        acceptor->set_option(tcp::acceptor::reuse_address(true));
        acceptor->bind(endpoint);
        acceptor->listen(4096);
        acceptors_.push_back(std::move(acceptor));
    } catch (const std::exception& e) {
        spdlog::critical("cannot listen on {}:{}: {}", listen.address, listen.port, e.what());
        return 1;
    }
    try {
        context_.audit_log = std::make_unique<AuditLog>(config_->guard.audit_log);
        const auto& guard = config_->guard;
        if (guard.mode != config::GuardMode::Off || !guard.overrides.empty()) {
            spdlog::info("query guard: {} ({} custom rule{}, {} override{}), audit log {}",
                         guard.mode == config::GuardMode::Enforce ? "enforce"
                         : guard.mode == config::GuardMode::Audit ? "audit"
                                                                   : "off unless an override turns it on",
                         guard.custom.size(), guard.custom.size() == 1 ? "" : "s", guard.overrides.size(),
                         guard.overrides.size() == 1 ? "" : "s", guard.audit_log);
        }
    } catch (const std::exception& e) {
        spdlog::critical("{}", e.what());
        return 1;
    }
    for (auto& a : acceptors_) asio::co_spawn(a->get_executor(), accept_loop(*a), log_exception("accept loop"));
    asio::co_spawn(io_, maintenance_loop(), log_exception("pool maintenance"));
    asio::co_spawn(io_, idle_sweep_loop(), log_exception("idle sweep"));
    signals_.async_wait([this](const error_code& ec, int signo) {
        if (ec) return;
        spdlog::info("received signal {}: shutting down", signo);
        asio::co_spawn(io_, shutdown(), log_exception("shutdown"));
    });
    wait_for_reload();

    unsigned workers = workers_;
    spdlog::info("sluice listening on {}:{} with {} worker thread{}", listen.address, listen.port, workers,
                 workers == 1 ? "" : "s");
    std::vector<std::thread> threads;
    for (unsigned i = 1; i < workers; ++i) threads.emplace_back([this] { io_.run(); });
    io_.run();
    for (auto& t : threads) t.join();
    spdlog::info("sluice stopped");
    return 0;
}

void Server::wait_for_reload() {
    reload_signal_.async_wait([this](const error_code& ec, int) {
        if (ec) return;
        reload_certificates();
        wait_for_reload();
    });
}

void Server::reload_certificates() {
    // Only the certificate files are read again (the rest of the config needs a restart):
    // sessions keep the certificate they logged in with; new logins get the new one. The same
    // for the upstreams' files: server connections made from now on use them.
    auto upstream = upstream_tls_.reload();
    for (const auto& problem : upstream.problems)
        spdlog::error("received SIGHUP: upstream TLS: {}; the running certificates stay in use", problem);
    if (upstream.made > 0) spdlog::info("received SIGHUP: upstream TLS certificates read again ({} set{} of settings)",
                                        upstream.made, upstream.made == 1 ? "" : "s");
    if (config_->client_tls.mode == config::ClientTlsMode::Disable) {
        spdlog::info("received SIGHUP: no [client_tls] certificates to reload (other settings take a restart)");
        return;
    }
    std::string error;
    auto fresh = TlsContext::for_clients(config_->client_tls, error);
    if (!fresh) {
        spdlog::error("received SIGHUP: client_tls: {}; the running certificates stay in use", error);
        return;
    }
    context_.set_client_tls(std::move(fresh));
    spdlog::info("received SIGHUP: client_tls certificates reloaded from \"{}\" (other settings take a restart)",
                 config_->client_tls.cert_file);
}

void Server::stop() {
    asio::co_spawn(io_, shutdown(), log_exception("shutdown"));
}

awaitable<void> Server::accept_loop(tcp::acceptor& acceptor) {
    for (;;) {
        // A session's coroutines (reader and pump) must not run at once: a strand serializes them
        // when several threads run the io_context; with one thread there is nothing to serialize.
        tcp::socket socket = workers_ == 1 ? tcp::socket(io_) : tcp::socket(asio::make_strand(io_));
        auto [ec] = co_await acceptor.async_accept(socket, use_tuple);
        if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
        if (ec) {
            // Out of descriptors (EMFILE) or similar: back off instead of spinning.
            spdlog::warn("accept failed: {}", ec.message());
            asio::steady_timer pause(io_, std::chrono::milliseconds(100));
            co_await pause.async_wait(use_tuple);
            continue;
        }
        auto taken = clients_.take();
        if (taken.admission == Admission::Dropped) {
            error_code ignored;
            socket.close(ignored);
            dropped_.fetch_add(1, std::memory_order_relaxed);  // reported by maintenance_loop
            continue;
        }
        spawn_session(Stream(std::move(socket)), std::move(taken));
    }
}

void Server::spawn_session(Stream client, ClientCount::Taken taken) {
    auto executor = client.executor();
    auto id = next_session_id_.fetch_add(1, std::memory_order_relaxed);
    // Listed in context_.sessions until its destructor (also while parked).
    auto session = std::make_shared<ClientSession>(context_, std::move(client), id, std::move(taken));
    asio::co_spawn(executor, [session]() { return session->run(); }, log_exception("session C" + std::to_string(id)));
}

awaitable<void> Server::maintenance_loop() {
    asio::steady_timer timer(io_);
    for (;;) {
        timer.expires_after(std::chrono::seconds(1));
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec || stopping_) co_return;
        router_.maintain_all();
        // One line a second for a flood, not one per socket.
        if (auto dropped = dropped_.exchange(0, std::memory_order_relaxed))
            spdlog::warn("closed {} connection{} unread: max_client_connections ({}) reached", dropped,
                         dropped == 1 ? "" : "s", clients_.limit());
    }
}

namespace {
constexpr std::uint32_t kTicksPerTrimCheck = 1000 / kIdleSweepPeriod.count();
// Parked by one sweep: what they held is free by the next one, which checks for a trim then.
constexpr std::size_t kParkedBurst = 64;
}  // namespace

awaitable<void> Server::idle_sweep_loop() {
    asio::steady_timer timer(io_);
    for (;;) {
        timer.expires_after(kIdleSweepPeriod);
        auto [ec] = co_await timer.async_wait(use_tuple);
        if (ec || stopping_) co_return;
        router_.wake_overdue_waiters();
        const auto now = context_.idle_clock.fetch_add(1, std::memory_order_relaxed) + 1;
        // Stamped two steps ago or earlier: idle for one full period at least.
        auto idle = context_.sessions.select([now](const ClientSession& s) {
            auto since = s.idle_since_tick();
            return since != 0 && now - since >= 2;
        });
        for (auto& session : idle) session->park_if_idle();
        // Once a second, and after a burst of parks: what a burst of clients left free goes back
        // to the system.
        const bool after_parks = std::exchange(check_trim_next_tick_, idle.size() >= kParkedBurst);
        if ((now % kTicksPerTrimCheck == 0 || after_parks) && heap_.maybe_trim())
            spdlog::debug("returned free heap memory to the system (RSS now {} KiB)", resident_bytes() / 1024);
    }
}

awaitable<void> Server::shutdown() {
    if (stopping_.exchange(true)) co_return;
    context_.shutting_down = true;
    // Each closes on its own executor (a strand with several workers), never beside its accept
    // loop; a client accepted just before that is told the pooler is shutting down at its login.
    for (auto& a : acceptors_) {
        asio::post(a->get_executor(), [&acceptor = *a] {
            error_code ec;
            acceptor.close(ec);
        });
    }
    for (auto& session : context_.sessions.select([](const ClientSession&) { return true; })) session->request_shutdown();
    // Let transactions in flight finish, for a while.
    asio::steady_timer timer(io_);
    for (int i = 0; i < 300; ++i) {
        if (context_.sessions.empty()) break;
        timer.expires_after(std::chrono::milliseconds(100));
        co_await timer.async_wait(use_tuple);
    }
    router_.close_all();
    signals_.cancel();
    reload_signal_.cancel();
    if (auto summary = guard_summary(context_.guard_counters, config_->guard); !summary.empty())
        spdlog::info("query guard: {}", summary);
    io_.stop();
}

}  // namespace sluice::proxy
