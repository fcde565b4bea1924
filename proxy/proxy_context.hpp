#pragma once
// What every session shares: the config snapshot, the pools, cancel keys, global counters.
#include <atomic>
#include <memory>
#include <mutex>

#include "config/model.hpp"
#include "protocol/sql/session_state.hpp"
#include "proxy/audit_log.hpp"
#include "proxy/auth_query.hpp"
#include "proxy/cancel_registry.hpp"
#include "proxy/parking_lot.hpp"
#include "proxy/query_guard.hpp"
#include "proxy/router.hpp"
#include "proxy/session_registry.hpp"
#include "proxy/tls_context.hpp"

namespace sluice::proxy {

struct ProxyContext {
    std::shared_ptr<const config::Config> config;
    Router& router;
    CancelRegistry& cancels;
    AuthQueryCache* auth_query = nullptr;  // set when [auth.auth_query] is configured
    // sluice's TLS server settings; nullptr when [client_tls] mode is "disable". SIGHUP loads the
    // certificate files again (Server::reload_certificates), so logins take a reference each.
    [[nodiscard]] std::shared_ptr<const TlsContext> client_tls_now() const {
        std::lock_guard lock(client_tls_mutex);
        return client_tls;
    }
    void set_client_tls(std::shared_ptr<const TlsContext> fresh) {
        std::lock_guard lock(client_tls_mutex);
        client_tls = std::move(fresh);
    }
    mutable std::mutex client_tls_mutex{};
    std::shared_ptr<const TlsContext> client_tls{};
    std::atomic<bool> shutting_down{false};
    // One parse per distinct SQL text that may change session state, shared by every session.
    sql::AnalysisCache analyses{4096, 8 * 1024 * 1024};
    std::atomic<std::uint64_t> pins{0};  // clients whose server was pinned to them (session_state)
    // The query guard's audit lines (guard.audit_log; opened by Server::run) and counts per rule.
    std::unique_ptr<AuditLog> audit_log{};
    GuardCounters guard_counters{};
    SessionRegistry sessions{};
    ParkingLot* parking = nullptr;  // where idle clients wait (the Server's)
    // Advanced a step every kIdleSweepPeriod by the server; a session waiting for its client between
    // transactions stamps the wait with it, and one idle a full step or more is parked (ClientSession::park).
    std::atomic<std::uint32_t> idle_clock{1};
};

}  // namespace sluice::proxy
