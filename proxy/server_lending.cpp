// Lending a server to a client: take one from the pool and make its session settings match the
// client's (one set_config round trip, skipped when the server is known to match already).
#include "proxy/client_session.hpp"

namespace sluice::proxy {

bool ClientSession::settings_match(const ServerConnection& server) const {
    // Behind an upstream pooler a round trip here could land on another backend than the
    // transaction: the relay sets the client's settings within each transaction instead.
    return (settings_.fingerprint != 0 && server.synced_to() == settings_.fingerprint) ||
           pool_->settings().upstream_pooler;
}

awaitable<ClientSession::Lent> ClientSession::lend_server(Lease taken) {
    const auto deadline = query_wait_deadline();
    for (;;) {
        Lease lease = std::move(taken);
        if (!lease) {
            Pool::Turn turn(*pool_, deadline);
            auto got = co_await pool_->acquire(turn);
            if (!got.lease) co_return Lent{{}, std::move(got.failure)};
            lease = std::move(got.lease);
        }
        if (settings_match(*lease)) co_return Lent{std::move(lease), {}};
        auto before = lease->params();
        auto sync = sync_statement(settings_.params(), lease->params());
        if (sync.sql.empty()) {
            lease->set_synced_to(settings_.fingerprint);
            co_return Lent{std::move(lease), {}};
        }
        // A cancelled await here leaves `lease` to close the server: its settings are unknown.
        auto result = co_await lease->run_quietly(sync.sql);
        if (result.error) {
            // The client's own settings are invalid: tell it as PostgreSQL would at startup.
            lease->params() = std::move(before);
            if (result.ok) lease.give_back();
            else lease.close(ServerCloseReason::SettingsRejected);
            SessionEnd end = SessionEnd::because(EndReason::InvalidStartupParameter, std::string(result.error->message()));
            end.upstream_error = std::move(result.error);
            end.upstream_error->set(protocol::ErrorField::Severity, "FATAL");
            end.upstream_error->set(protocol::ErrorField::SeverityNonLocalized, "FATAL");
            co_return Lent{{}, std::move(end)};
        }
        if (result.ok) {
            learn_server_spelling(*lease, sync.set_names, result.first_row);
            lease->set_synced_to(settings_.fingerprint);
            co_return Lent{std::move(lease), {}};
        }
        lease.close(ServerCloseReason::SyncFailed);  // and try another
    }
}

}  // namespace sluice::proxy
