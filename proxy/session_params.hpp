#pragma once
// Session parameters that must follow a client from server to server in transaction mode:
// the reported ones (client_encoding, DateStyle, TimeZone, IntervalStyle,
// standard_conforming_strings, application_name) and every GUC the client asked for at startup.
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/startup.hpp"

namespace sluice::proxy {

// GUC names are case-insensitive ("TimeZone" and "timezone" are one setting).
struct GucNameLess {
    using is_transparent = void;
    bool operator()(std::string_view a, std::string_view b) const noexcept;
};
using ParamMap = std::map<std::string, std::string, GucNameLess>;

// Reported parameters a client may change and expects to keep.
bool is_tracked_reported_param(std::string_view name) noexcept;
// Reported by the server but owned by it (is_superuser, session_authorization, in_hot_standby,
// server_version...): never the client's to carry to another server.
bool is_server_owned_param(std::string_view name) noexcept;
// SQL that may change the session's role (SET ROLE, SET SESSION AUTHORIZATION, set_config('role'..)).
// A cheap, conservative test: a false positive costs one RESET before the server is lent again.
bool may_change_role(std::string_view sql) noexcept;

// Startup parameters that are not GUCs (user, database, options, replication, _pq_.*).
bool is_startup_only_param(std::string_view name) noexcept;

// The GUCs a client's StartupMessage asks for: its parameters (minus the non-GUC ones) plus the
// "-c name=value" / "--name=value" switches of "options". nullopt with a reason when "options"
// holds something other than GUC switches.
struct StartupGucs {
    ParamMap values;
    std::string error;
};
StartupGucs startup_gucs(const protocol::StartupMessage& startup);

// What the client expects the server's settings to be: the pool's defaults for the reported
// parameters overlaid with the client's startup GUCs.
ParamMap initial_client_params(const ParamMap& pool_defaults, const ParamMap& startup);

// One simple-query string that makes `server` match `client` (set_config for differences,
// RESET for GUCs the client does not want), or "" when they already match. `server` is updated
// to what it will be once the statement has run. The statement returns one row whose columns are
// the new values of `set_names`, in the server's own spelling (set_config returns what SHOW would
// show: "utf8" comes back "UTF8"), so callers can learn the normalized values in the same trip.
struct SyncStatement {
    std::string sql;
    std::vector<std::string> set_names;
};
SyncStatement sync_statement(const ParamMap& client, ParamMap& server);

// Behind an upstream pooler (upstream_pooler): the statement sluice sends at the start of each of
// the client's transactions so that the client's settings hold there, for that transaction only
// (set_config(..., true): nothing is left on the upstream's backend). It sets each of `client`'s
// settings that differs from `defaults`, and each setting in `touched` (settings some client of
// the pool changed with SET, which may linger on the upstream's backends) to the client's value,
// else to the default `touched` gives. It returns no rows; "" when there is nothing to set.
// application_name is left out (it only labels the backend) and so are the server-owned settings.
std::string local_settings_statement(const ParamMap& client, const ParamMap& defaults, const ParamMap& touched);

// A keyed 64-bit digest of a parameter set (names compared case-insensitively). Equal digests
// let a server known to be in sync with a client skip the comparison on the hot path; the key is
// random per process so clients cannot craft colliding sets.
std::uint64_t fingerprint(const ParamMap& params) noexcept;

// What a client believes its session settings are, with their keyed fingerprint. The clients of
// a pool that start alike (most do) share one map (Pool::shared_settings); a client's first change
// makes its own copy.
class ClientSettings {
public:
    [[nodiscard]] const ParamMap& params() const noexcept { return params_ ? *params_ : kNone; }
    std::uint64_t fingerprint = 0;
    void set(std::string_view name, std::string_view value) {
        edit().insert_or_assign(std::string(name), std::string(value));
        refresh();
    }
    // This client's own map, to change; refresh() after.
    ParamMap& edit() {
        if (!params_ || params_.use_count() > 1) params_ = std::make_shared<ParamMap>(params());
        return *params_;
    }
    void refresh() noexcept { fingerprint = proxy::fingerprint(params()); }
    // The map in use, to share with clients that start alike; replaced by an equal one.
    [[nodiscard]] std::shared_ptr<ParamMap> current() const noexcept { return params_; }
    void share(std::shared_ptr<ParamMap> equal) noexcept { params_ = std::move(equal); }

private:
    static inline const ParamMap kNone{};
    // Never changed while another client holds it (edit() copies first).
    std::shared_ptr<ParamMap> params_;
};

// SQL literal quoting that is correct whatever standard_conforming_strings says.
std::string quote_literal(std::string_view value);
std::string quote_identifier(std::string_view name);

}  // namespace sluice::proxy
