#pragma once
// The validated, typed configuration. Plain immutable data: no toml++ types leak out, durations
// are std::chrono, modes are enums. Produced by load.hpp; shared as std::shared_ptr<const Config>.
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/sql/statement_facts.hpp"

namespace sluice::config {

using Duration = std::chrono::milliseconds;  // zero means "no limit" wherever a limit is optional

enum class PoolMode { Transaction, Session };
enum class AuthMethod { Trust, Md5, ScramSha256 };
enum class SslMode { Disable, Allow, Prefer, Require, VerifyCa, VerifyFull };
// libpq's channel_binding: SCRAM-SHA-256-PLUS when the server offers it over TLS (Prefer), never,
// or always (Require: no other authentication is accepted).
enum class ChannelBinding { Disable, Prefer, Require };
// What transaction mode does when a client changes session state (SET, LISTEN, advisory locks,
// temp tables, WITH HOLD cursors, SQL PREPARE...): Track replays plain SETs on the client's next
// server and pins the server to the client for anything else; Pin keeps the server with the client
// until it disconnects; Reject answers 0A000.
enum class SessionStatePolicy { Track, Pin, Reject };

struct HostPort {
    std::string host;  // name, IPv4, IPv6 literal without brackets, or a unix socket directory
    std::uint16_t port = 5432;
    friend bool operator==(const HostPort&, const HostPort&) = default;
};

// An upstream in libpq's URI form: postgres://user:pass@host1:port1,host2/db?sslmode=...
struct UpstreamUrl {
    std::vector<HostPort> hosts;             // tried in order
    std::optional<std::string> user;         // nullopt: the client's user name passes through
    std::optional<std::string> password;     // nullopt: the client's credentials pass through
    std::optional<std::string> database;     // nullopt: the client's database name passes through
    SslMode sslmode = SslMode::Prefer;
    // verify-ca and verify-full check the server's certificate against sslrootcert.
    [[nodiscard]] bool verifies_server() const noexcept {
        return sslmode == SslMode::VerifyCa || sslmode == SslMode::VerifyFull;
    }
    std::string sslrootcert;  // a PEM file, or "system" (also when empty) for the OS store
    std::string sslcert;
    std::string sslkey;
    bool sslsni = true;
    ChannelBinding channel_binding = ChannelBinding::Prefer;
    std::optional<Duration> connect_timeout;
    std::string options;                     // "options" startup parameter (-c name=value ...)
    // Other query parameters sent as startup parameters (application_name, ...).
    std::vector<std::pair<std::string, std::string>> parameters;
};

struct Listen {
    std::string address = "0.0.0.0";
    std::uint16_t port = 6432;
    unsigned workers = 0;  // 0 = one per core
    std::uint32_t max_client_connections = 10000;
    // The threads' scheduling priority (a nice value); nullopt leaves the one sluice started with.
    std::optional<int> nice;
};

struct User {
    std::string name;
    // A plaintext password, an "md5..." secret or a "SCRAM-SHA-256$..." secret (env-expanded).
    std::string password;
    std::optional<std::uint32_t> pool_size;        // per-user override
    std::optional<std::uint32_t> max_connections;  // server connections for this user, all databases
    std::optional<SessionStatePolicy> session_state;  // overrides the database's pool value
};

struct AuthQuery {
    // Schema-qualified, one $1 parameter (the user name), returns (usename, passwd[, valuntil]).
    std::string query = "SELECT usename, passwd, valuntil FROM pg_catalog.pg_shadow WHERE usename = $1";
    std::string user;                    // upstream role that runs it
    std::optional<std::string> password; // its password (nullopt: trust)
    Duration cache_ttl = std::chrono::seconds(10);
};

struct Auth {
    AuthMethod method = AuthMethod::ScramSha256;
    std::vector<User> users;            // inline [[auth.users]] plus users_file entries
    std::string users_file;             // optional path as given
    std::optional<AuthQuery> auth_query;
};

struct PoolSettings {
    PoolMode mode = PoolMode::Transaction;
    std::uint32_t size = 20;
    std::uint32_t min_size = 0;           // kept warm
    std::uint32_t reserve_size = 0;       // extra connections for clients that waited reserve_timeout
    Duration reserve_timeout = std::chrono::seconds(5);
    std::uint32_t max_db_connections = 0;   // 0 = unlimited
    std::uint32_t max_user_connections = 0; // 0 = unlimited
    Duration server_idle_timeout = std::chrono::seconds(600);
    Duration server_lifetime = std::chrono::seconds(3600);
    // A server idle for longer than this is health-checked (empty query) before it is lent again.
    Duration server_check_delay = std::chrono::seconds(30);
    Duration server_connect_timeout = std::chrono::seconds(5);
    // First delay between failed connection attempts; doubles up to server_retry_max.
    Duration server_retry_delay = std::chrono::milliseconds(100);
    Duration server_retry_max = std::chrono::seconds(2);
    // Named prepared statements kept on each server connection (least recently used closed beyond
    // it); 0 = not tracked: named statements pass through unchanged.
    std::uint32_t max_prepared_statements = 200;
    SessionStatePolicy session_state = SessionStatePolicy::Track;
    // The upstream is a transaction-mode pooler itself (Supabase's, Neon's): consecutive
    // transactions on one server connection may run on different backends, so nothing may outlive
    // a transaction there. Set per database ([[databases]] upstream_pooler), never in [pool].
    bool upstream_pooler = false;
};

// The limits that may differ per database, user and application_name (zero: no limit).
struct SessionTimeouts {
    Duration statement{0};            // one query on the server: a simple Query, or the messages up to a Sync
    Duration transaction{0};          // one transaction holding a server
    Duration idle_in_transaction{0};  // the client silent inside a transaction
    Duration client_idle{0};          // the client silent outside any transaction
    Duration query_wait = std::chrono::seconds(30);  // waiting for a server connection
};

// [[timeouts.override]]: the keys it sets replace the [timeouts] values for the clients it matches.
struct TimeoutOverride {
    std::optional<std::string> database;          // each given field must equal the client's
    std::optional<std::string> user;
    std::optional<std::string> application_name;  // as sent at startup
    std::optional<Duration> statement, transaction, idle_in_transaction, client_idle, query_wait;
};

struct Timeouts {
    Duration query_wait = std::chrono::seconds(30);   // waiting for a server connection
    Duration client_login = std::chrono::seconds(15); // startup + authentication
    // A write that makes no progress for this long ends the connection: a client that stops
    // reading (its server is closed), a server that stops reading (the session ends).
    Duration client_write = std::chrono::seconds(30);
    Duration server_write = std::chrono::seconds(60);
    Duration statement{0};
    Duration transaction{0};
    Duration idle_in_transaction{0};
    Duration client_idle{0};
    // After a statement timeout's CancelRequest: how long the server has to answer before it is closed.
    Duration cancel_grace = std::chrono::seconds(5);
    std::vector<TimeoutOverride> overrides;
};

// The query guard (proxy/query_guard.hpp): which statements clients may send.
enum class GuardMode { Off, Audit, Enforce };  // audit: log what would be blocked, let it run
enum class GuardUnparsable { Block, Allow };   // SQL with a guarded word that the parser rejects
// A set of the guard's built-in rules (sql::Rule), one bit each.
using GuardRuleSet = std::uint32_t;
// What `rules` means when not given: the rules sql::is_default() names but unparsable, which has a
// key of its own (config/guard.cpp checks).
inline constexpr GuardRuleSet kDefaultGuardRules = (1u << 10) - 1;

// [[guard.custom]]: a rule of the operator's own. It finds a statement when every key it gives
// matches (each key: any of its values).
struct GuardCustomRule {
    std::string name;
    std::vector<std::string> statements;    // statement kinds: parse node names without "Stmt", lower-cased
    std::vector<sql::QualifiedName> tables;     // relations named anywhere in the text
    std::vector<sql::QualifiedName> functions;  // functions called anywhere in the text
    std::vector<std::string> fingerprints;  // libpg_query fingerprints of the whole text (16 hex digits)
};
inline constexpr std::size_t kMaxGuardCustomRules = 32;  // one bit each in GuardPolicy::custom

// The guard for one client, once [guard] and its overrides are resolved.
struct GuardPolicy {
    GuardMode mode = GuardMode::Off;
    GuardRuleSet rules = kDefaultGuardRules;  // the rules that block (enforce) or are logged (audit)
    GuardUnparsable unparsable = GuardUnparsable::Block;
    std::uint32_t custom = ~0u;  // bit i: [[guard.custom]] entry i applies
    friend bool operator==(const GuardPolicy&, const GuardPolicy&) = default;
};

// [[guard.override]]: the keys it sets replace [guard]'s for the clients it matches.
struct GuardOverride {
    std::optional<std::string> database;          // each given field must equal the client's
    std::optional<std::string> user;
    std::optional<std::string> application_name;  // as sent at startup
    std::optional<GuardMode> mode;
    std::optional<GuardRuleSet> rules;
    std::optional<GuardRuleSet> allow;  // exceptions: rules that do not apply to these clients
    std::uint32_t allow_custom = 0;     // the same for [[guard.custom]] rules (bit i: entry i); with `allow`
    std::optional<GuardUnparsable> unparsable;
};

struct Guard {
    GuardMode mode = GuardMode::Off;
    GuardRuleSet rules = kDefaultGuardRules;
    GuardUnparsable unparsable = GuardUnparsable::Block;
    // Where the JSON audit lines go: "stdout", "off", or a file path (reopened when rotated away).
    std::string audit_log = "stdout";
    std::uint32_t audit_statement_max = 1000;  // bytes of normalized statement text per audit line
    // Told to a client whose statement was blocked: who to ask.
    std::string hint = "If the statement is intended, ask the database administrator to allow it in sluice's [guard] "
                       "configuration, or run it through a connection the guard exempts.";
    std::vector<GuardCustomRule> custom;
    std::vector<GuardOverride> overrides;
};

struct Database {
    std::string name;  // what clients put in "database"
    UpstreamUrl upstream;
    PoolSettings pool;  // the global [pool] with this database's overrides applied
};

// TCP keepalive on client and server sockets: finds peers that vanished without a FIN or RST
// (a host powered off, a NAT entry dropped), whose connections would otherwise hold a client slot
// or a pool slot for hours. Zero: the operating system's default.
struct Tcp {
    bool keepalive = true;
    Duration keepalive_idle{0};      // idle time before the first probe (TCP_KEEPIDLE)
    Duration keepalive_interval{0};  // between probes (TCP_KEEPINTVL)
    std::uint32_t keepalive_count = 0;  // unanswered probes before the connection is dropped (TCP_KEEPCNT)
};

// [client_tls]: sluice as a TLS server for its clients.
enum class ClientTlsMode { Disable, Allow, Prefer, Require };
// Client certificates: not asked for, required and chained to ca_file, or also naming the user
// (the certificate's CN must equal the user name the client logs in as).
enum class ClientCertCheck { Off, VerifyCa, VerifyFull };

struct ClientTls {
    // Disable answers SSLRequest 'N'; Allow and Prefer accept TLS and plaintext (a server cannot
    // prefer: the client chooses); Require refuses plaintext clients with 28000.
    ClientTlsMode mode = ClientTlsMode::Disable;
    std::string cert_file;  // PEM, the server certificate (and chain)
    std::string key_file;   // PEM, its private key
    std::string ca_file;    // PEM, the CAs client certificates must chain to
    ClientCertCheck client_cert = ClientCertCheck::Off;
    std::string min_protocol = "TLSv1.2";  // TLSv1.2 or TLSv1.3
    std::string ciphers;                   // OpenSSL cipher list for TLS 1.2; empty: OpenSSL's default
};

struct Logging {
    std::string level = "info";      // trace | debug | info | warn | error
    bool log_connections = true;     // one line per connect/disconnect
};

struct Config {
    std::string source;  // file path, or "DATABASE_URL" / "command line"
    Listen listen;
    Auth auth;
    PoolSettings pool;
    Timeouts timeouts;
    Guard guard;
    Tcp tcp;
    Logging logging;
    ClientTls client_tls;
    std::vector<Database> databases;

    [[nodiscard]] const Database* find_database(std::string_view name) const noexcept {
        for (const auto& d : databases)
            if (d.name == name) return &d;
        return nullptr;
    }
    [[nodiscard]] const User* find_user(std::string_view name) const noexcept {
        for (const auto& u : auth.users)
            if (u.name == name) return &u;
        return nullptr;
    }
    // The limits for one client: per key, the most specific matching override that sets it, else [timeouts].
    [[nodiscard]] SessionTimeouts timeouts_for(std::string_view database, std::string_view user,
                                               std::string_view application_name) const;
    // The guard for one client: per key, the most specific matching override that sets it, else
    // [guard]; then the matching `allow` taken away from the rules.
    [[nodiscard]] GuardPolicy guard_for(std::string_view database, std::string_view user,
                                        std::string_view application_name) const;
    // The policy for `user` in `database`: the user's own session_state wins over the database's
    // pool value (which is [pool] session_state unless the database overrides it).
    [[nodiscard]] SessionStatePolicy session_state_for(const Database& database, std::string_view user) const noexcept {
        const User* u = find_user(user);
        return u != nullptr && u->session_state ? *u->session_state : database.pool.session_state;
    }
};

}  // namespace sluice::config
