// The declarative key tables: one line per key with its type, default, meaning and reader.
// Defaults here are documentation; the values themselves live in config/model.hpp (a unit test
// keeps the two in step).
#include "config/keys.hpp"

#include <algorithm>
#include <array>

#include "config/client_match.hpp"
#include "config/database_url.hpp"
#include "config/key_tables.hpp"
#include "config/suggest.hpp"
#include "config/tls_files.hpp"
#include "protocol/sql/guard.hpp"

namespace sluice::config {
namespace {

// PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes; a longer name could never match.
constexpr std::size_t kMaxNameBytes = 63;
constexpr std::int64_t kMaxConnections = 1'000'000;

template <auto Member>
void read_name(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    auto value = reader.string(node, key);
    if (!value) return;
    if (value->empty()) {
        reader.error(node, key, "must not be empty");
    } else if (value->size() > kMaxNameBytes) {
        reader.error(node, key, "is longer than 63 bytes (PostgreSQL's limit for names)");
    } else {
        target.*Member = std::move(*value);
    }
}

// --- [pool] and databases[].pool ----------------------------------------------------------------

constexpr std::array<std::string_view, 2> kPoolModes{"transaction", "session"};

void read_pool_mode(NodeReader& reader, const toml::node& node, const std::string& key, PoolSettings& pool) {
    if (auto index = reader.choice(node, key, kPoolModes)) pool.mode = *index == 0 ? PoolMode::Transaction : PoolMode::Session;
}

constexpr std::array<std::string_view, 3> kSessionStatePolicies{"track", "pin", "reject"};

template <auto Member>
void read_session_state(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto index = reader.choice(node, key, kSessionStatePolicies)) {
        constexpr std::array<SessionStatePolicy, 3> kPolicies{SessionStatePolicy::Track, SessionStatePolicy::Pin,
                                                              SessionStatePolicy::Reject};
        target.*Member = kPolicies[*index];
    }
}

constexpr std::string_view kSessionStateDoc =
    "What transaction mode does when a client changes session state (SET, LISTEN, advisory locks, temp tables, "
    "WITH HOLD cursors, SQL PREPARE...): \"track\" replays plain SETs on the client's next server and pins the "
    "server to the client for anything else; \"pin\" keeps the server with that client until it disconnects; "
    "\"reject\" answers SQLSTATE 0A000.";

constexpr std::array<KeySpec<PoolSettings>, 15> kPoolKeys{{
    {"mode", "string", "transaction",
     "\"transaction\": a server connection is lent for one transaction; \"session\": for the whole client session.",
     &read_pool_mode},
    {"size", "integer", "20", "Server connections per (database, user) pool. 1 to 1000000.",
     &read_integer<&PoolSettings::size, 1, kMaxConnections>},
    {"min_size", "integer", "0", "Server connections kept open even when idle. At most `size`.",
     &read_integer<&PoolSettings::min_size, 0, kMaxConnections>},
    {"reserve_size", "integer", "0",
     "Extra connections a pool may open for clients that waited longer than `reserve_timeout`.",
     &read_integer<&PoolSettings::reserve_size, 0, kMaxConnections>},
    {"reserve_timeout", "duration", "5s", "How long a client waits before the reserve may be used.",
     &read_duration<&PoolSettings::reserve_timeout>},
    {"max_db_connections", "integer", "0", "Server connections to one database over all its pools; 0 = no limit.",
     &read_integer<&PoolSettings::max_db_connections, 0, kMaxConnections>},
    {"max_user_connections", "integer", "0", "Server connections for one user over all databases; 0 = no limit.",
     &read_integer<&PoolSettings::max_user_connections, 0, kMaxConnections>},
    {"server_idle_timeout", "duration", "10m", "A server connection idle this long is closed (above `min_size`); 0 = never.",
     &read_duration<&PoolSettings::server_idle_timeout>},
    {"server_lifetime", "duration", "1h", "A server connection older than this is closed when it is next released; 0 = never.",
     &read_duration<&PoolSettings::server_lifetime>},
    {"server_check_delay", "duration", "30s",
     "A server connection idle longer than this is health-checked before it is lent again; 0 = no check.",
     &read_duration<&PoolSettings::server_check_delay>},
    {"server_connect_timeout", "duration", "5s", "Limit for connecting and authenticating to a server.",
     &read_duration<&PoolSettings::server_connect_timeout>},
    {"server_retry_delay", "duration", "100ms",
     "First pause after a failed server connection attempt; doubles on each failure up to `server_retry_max`.",
     &read_duration<&PoolSettings::server_retry_delay>},
    {"server_retry_max", "duration", "2s", "Longest pause between server connection attempts.",
     &read_duration<&PoolSettings::server_retry_max>},
    {"max_prepared_statements", "integer", "200",
     "Named prepared statements sluice keeps on each server connection (least recently used are closed beyond "
     "it). 0 to 100000. 0 = sluice does not track prepared statements: named statements pass through unchanged, "
     "as in PgBouncer before 1.21.",
     &read_integer<&PoolSettings::max_prepared_statements, 0, 100'000>},
    {"session_state", "string", "track", kSessionStateDoc, &read_session_state<&PoolSettings::session_state>},
}};

// --- [auth] ----------------------------------------------------------------------------------------

constexpr std::array<KeySpec<User>, 5> kUserKeys{{
    {"name", "string", "", "The user name clients log in with.", &read_name<&User::name>, true},
    {"password", "string", "",
     "Plain password, \"md5...\" secret or \"SCRAM-SHA-256$...\" secret (as in pg_authid.rolpassword). "
     "Also used to log in to the server when the database URL has no password. ${VAR} is expanded.",
     &read_string<&User::password>},
    {"pool_size", "integer", "", "This user's pool size in every database, instead of [pool] size.",
     &read_integer<&User::pool_size, 1, kMaxConnections>},
    {"max_connections", "integer", "", "Server connections for this user over all databases.",
     &read_integer<&User::max_connections, 1, kMaxConnections>},
    {"session_state", "string", "",
     "This user's [pool] session_state in every database (\"track\", \"pin\" or \"reject\"), instead of the "
     "database's.",
     &read_session_state<&User::session_state>},
}};

void read_auth_query_text(NodeReader& reader, const toml::node& node, const std::string& key, AuthQuery& target) {
    auto value = reader.string(node, key);
    if (!value) return;
    if (value->find_first_not_of(" \t\r\n") == std::string::npos) {
        reader.error(node, key, "must not be empty");
    } else if (value->find("$1") == std::string::npos) {
        reader.error(node, key, "must use $1 for the user name");
    } else {
        target.query = std::move(*value);
    }
}

constexpr std::array<KeySpec<AuthQuery>, 4> kAuthQueryKeys{{
    {"query", "string", "SELECT usename, passwd, valuntil FROM pg_catalog.pg_shadow WHERE usename = $1",
     "Looks up a user's secret on the server: one parameter $1 (the user name), returns (usename, passwd[, valuntil]).",
     &read_auth_query_text},
    {"user", "string", "", "The server role that runs the query.", &read_name<&AuthQuery::user>, true},
    {"password", "string", "", "That role's password (${VAR} is expanded). Absent: the server trusts it.",
     &read_string<&AuthQuery::password>},
    {"cache_ttl", "duration", "10s", "How long a looked-up secret is reused.", &read_duration<&AuthQuery::cache_ttl>},
}};

void read_users_into(NodeReader& reader, const toml::node& node, const std::string& key, std::vector<User>& users) {
    const toml::array* array = reader.array_of_tables(node, key);
    if (array == nullptr) return;
    for (std::size_t i = 0; i < array->size(); ++i) {
        User user;
        read_section<User>(reader, *array->get(i)->as_table(), index_key(key, i), kUserKeys, user);
        users.push_back(std::move(user));
    }
}

void read_users(NodeReader& reader, const toml::node& node, const std::string& key, Auth& auth) {
    read_users_into(reader, node, key, auth.users);
}

void read_auth_query(NodeReader& reader, const toml::node& node, const std::string& key, Auth& auth) {
    const toml::table* table = reader.table(node, key);
    if (table == nullptr) return;
    AuthQuery query;
    read_section<AuthQuery>(reader, *table, key, kAuthQueryKeys, query);
    auth.auth_query = std::move(query);
}

constexpr std::array<std::string_view, 3> kAuthMethods{"trust", "md5", "scram-sha-256"};

void read_auth_method(NodeReader& reader, const toml::node& node, const std::string& key, Auth& auth) {
    if (auto index = reader.choice(node, key, kAuthMethods)) {
        constexpr std::array<AuthMethod, 3> kMethods{AuthMethod::Trust, AuthMethod::Md5, AuthMethod::ScramSha256};
        auth.method = kMethods[*index];
    }
}

constexpr std::array<KeySpec<Auth>, 4> kAuthKeys{{
    {"method", "string", "scram-sha-256",
     "How clients prove who they are: \"trust\" (no password), \"md5\" or \"scram-sha-256\".", &read_auth_method},
    {"users", "array of tables", "", "The users sluice knows: [[auth.users]] entries.", &read_users},
    {"users_file", "string", "",
     "A TOML file with more [[users]] entries (same keys); a relative path is taken from this file's directory.",
     &read_string<&Auth::users_file>},
    {"auth_query", "table", "", "Look up users not listed here on the server (like PgBouncer's auth_query).",
     &read_auth_query},
}};

// --- [listen], [timeouts], [logging] --------------------------------------------------------------

void read_address(NodeReader& reader, const toml::node& node, const std::string& key, Listen& listen) {
    auto value = reader.string(node, key);
    if (!value) return;
    if (value->empty()) {
        reader.error(node, key, "must not be empty (use \"0.0.0.0\" for every IPv4 address, \"::\" for IPv6)");
    } else {
        listen.address = std::move(*value);
    }
}

constexpr std::array<KeySpec<Listen>, 5> kListenKeys{{
    {"address", "string", "0.0.0.0", "Address to accept clients on: an IP address or host name.", &read_address},
    {"port", "integer", "6432", "TCP port to accept clients on. 1 to 65535.", &read_integer<&Listen::port, 1, 65535>},
    {"workers", "integer", "0", "Threads running the event loop; 0 = one per CPU core.",
     &read_integer<&Listen::workers, 0, 1024>},
    {"max_client_connections", "integer", "10000",
     "Client connections accepted at once; more are refused with SQLSTATE 53300.",
     &read_integer<&Listen::max_client_connections, 1, kMaxConnections>},
    {"nice", "integer", "",
     "Scheduling priority of sluice's threads, -20 (first) to 19. Sharing a few cores with its clients or "
     "the database, a proxy that its own sends preempt relays less per turn: -5 measured up to 13% more "
     "transactions on 2 cores. Below 0 needs CAP_SYS_NICE or an RLIMIT_NICE that allows it (systemd "
     "LimitNICE=, docker --ulimit nice=25); sluice refuses to start otherwise. Set at start.",
     &read_integer<&Listen::nice, -20, 19>},
}};

// A zero grace would close every server the moment its statement is cancelled, before it could
// answer the cancel: the cancel would be pointless, so refuse it.
void read_cancel_grace(NodeReader& reader, const toml::node& node, const std::string& key, Timeouts& timeouts) {
    auto value = reader.duration(node, key);
    if (!value) return;
    if (value->count() == 0) {
        reader.error(node, key,
                     "must be more than 0: it is how long a server has to answer the cancel of a timed-out "
                     "statement before sluice closes it, and with 0 it could never answer");
    } else {
        timeouts.cancel_grace = *value;
    }
}

constexpr std::string_view kStatementDoc =
    "Longest one query may run on the server (a simple Query, or the extended-protocol messages up to a Sync); "
    "then it is cancelled and the client gets SQLSTATE 57014. A client's own lower statement_timeout still "
    "applies. 0 = no limit.";
constexpr std::string_view kTransactionDoc =
    "Longest one transaction may hold a server; then the client gets FATAL 25P04, like PostgreSQL 17's "
    "transaction_timeout. 0 = no limit.";
constexpr std::string_view kIdleInTransactionDoc =
    "Longest a client may stay silent inside a transaction; then it gets FATAL 25P03, the transaction is rolled "
    "back and the server goes back to the pool. 0 = no limit.";
constexpr std::string_view kClientIdleDoc =
    "Longest a client may stay silent outside any transaction; then it gets FATAL 57P05, like PostgreSQL's "
    "idle_session_timeout. 0 = no limit.";

constexpr std::array<KeySpec<TimeoutOverride>, 8> kTimeoutOverrideKeys{{
    {"database", "string", "", "Matches clients that connect to this database.",
     &read_name<&TimeoutOverride::database>},
    {"user", "string", "", "Matches clients that log in as this user.", &read_name<&TimeoutOverride::user>},
    {"application_name", "string", "",
     "Matches clients that sent this application_name at startup (a later SET does not count).",
     &read_string<&TimeoutOverride::application_name>},
    {"statement", "duration", "", "[timeouts] statement for the clients matched.",
     &read_duration<&TimeoutOverride::statement>},
    {"transaction", "duration", "", "[timeouts] transaction for the clients matched.",
     &read_duration<&TimeoutOverride::transaction>},
    {"idle_in_transaction", "duration", "", "[timeouts] idle_in_transaction for the clients matched.",
     &read_duration<&TimeoutOverride::idle_in_transaction>},
    {"client_idle", "duration", "", "[timeouts] client_idle for the clients matched.",
     &read_duration<&TimeoutOverride::client_idle>},
    {"query_wait", "duration", "", "[timeouts] query_wait for the clients matched.",
     &read_duration<&TimeoutOverride::query_wait>},
}};

// Checks one override that read without errors; false when it cannot be used.
bool check_override(NodeReader& reader, const toml::table& table, std::string_view parent, const std::string& key,
                    const TimeoutOverride& o, const std::vector<TimeoutOverride>& earlier,
                    const std::vector<std::size_t>& earlier_index) {
    if (!o.database && !o.user && !o.application_name) {
        reader.error(table, key,
                     "needs at least one of 'database', 'user' or 'application_name' (to change the limits of "
                     "every client, set them in [timeouts] itself)");
        return false;
    }
    if (!o.statement && !o.transaction && !o.idle_in_transaction && !o.client_idle && !o.query_wait) {
        reader.error(table, key,
                     "sets no limit (give at least one of 'statement', 'transaction', 'idle_in_transaction', "
                     "'client_idle' or 'query_wait')");
        return false;
    }
    for (std::size_t i = 0; i < earlier.size(); ++i) {
        if (!same_clients(o, earlier[i])) continue;
        const std::string first = index_key(parent, earlier_index[i]);
        reader.error(table, key, key + " matches the same clients as " + first + "; merge them");
        return false;
    }
    return true;
}

void read_timeout_overrides(NodeReader& reader, const toml::node& node, const std::string& key, Timeouts& timeouts) {
    const toml::array* array = reader.array_of_tables(node, key);
    if (array == nullptr) return;
    std::vector<std::size_t> indexes;  // each entry's position in the file, for error messages
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::table& table = *array->get(i)->as_table();
        const std::string entry_key = index_key(key, i);
        const std::size_t errors_before = reader.error_count();
        TimeoutOverride entry;
        read_section<TimeoutOverride>(reader, table, entry_key, kTimeoutOverrideKeys, entry);
        if (reader.error_count() != errors_before) continue;  // reported; a half-read entry would mislead the checks
        if (!check_override(reader, table, key, entry_key, entry, timeouts.overrides, indexes)) continue;
        timeouts.overrides.push_back(std::move(entry));
        indexes.push_back(i);
    }
}

constexpr std::array<KeySpec<Timeouts>, 10> kTimeoutKeys{{
    {"query_wait", "duration", "30s", "Longest wait for a free server connection; 0 = no limit.",
     &read_duration<&Timeouts::query_wait>},
    {"client_login", "duration", "15s", "Limit for a client's startup and authentication; 0 = no limit.",
     &read_duration<&Timeouts::client_login>},
    {"client_write", "duration", "30s",
     "Longest a write to a client may make no progress; then the client is dropped and the server it "
     "holds closed. 0 = no limit.",
     &read_duration<&Timeouts::client_write>},
    {"server_write", "duration", "60s",
     "Longest a write to a server may make no progress; then the server is closed and its client's "
     "session ended. 0 = no limit.",
     &read_duration<&Timeouts::server_write>},
    {"statement", "duration", "0", kStatementDoc, &read_duration<&Timeouts::statement>},
    {"transaction", "duration", "0", kTransactionDoc, &read_duration<&Timeouts::transaction>},
    {"idle_in_transaction", "duration", "0", kIdleInTransactionDoc, &read_duration<&Timeouts::idle_in_transaction>},
    {"client_idle", "duration", "0", kClientIdleDoc, &read_duration<&Timeouts::client_idle>},
    {"cancel_grace", "duration", "5s",
     "After a statement timeout's cancel, how long the server has to answer before sluice closes it (the "
     "client then gets 57014 as FATAL). Must be more than 0.",
     &read_cancel_grace},
    {"override", "array of tables", "",
     "[[timeouts.override]] entries: statement, transaction, idle_in_transaction, client_idle and query_wait "
     "for the clients of one database, user and/or application_name.",
     &read_timeout_overrides},
}};

// --- [guard] and [[guard.override]] ----------------------------------------------------------------

constexpr std::array<std::string_view, 3> kGuardModes{"off", "audit", "enforce"};

template <auto Member>
void read_guard_mode(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    constexpr std::array<GuardMode, 3> kModes{GuardMode::Off, GuardMode::Audit, GuardMode::Enforce};
    if (auto index = reader.choice(node, key, kGuardModes)) target.*Member = kModes[*index];
}

constexpr std::array<std::string_view, 2> kUnparsableChoices{"block", "allow"};

template <auto Member>
void read_unparsable(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto index = reader.choice(node, key, kUnparsableChoices))
        target.*Member = *index == 0 ? GuardUnparsable::Block : GuardUnparsable::Allow;
}

// Every name `rules` and `allow` accept: the rules, and the two packs.
constexpr std::array<std::string_view, 21> kGuardRuleNames{
    "default", "migration_safety", "drop", "truncate", "delete_without_where", "update_without_where",
    "alter_drop_column", "alter_system", "copy_program", "create_drop_database", "opaque_code", "explain_analyze",
    "rename", "alter_column_type", "set_not_null", "add_not_null_column", "index_not_concurrently",
    "constraint_not_valid", "vacuum_full", "cluster", "lock_table"};

constexpr GuardRuleSet kMigrationSafetyRules = [] {
    GuardRuleSet set = 0;
    for (auto bit = static_cast<unsigned>(sql::Rule::Rename); bit <= static_cast<unsigned>(sql::Rule::LockTable); ++bit)
        set |= 1u << bit;
    return set;
}();

// A list of rule names (and pack names) as a set; nullopt after an error naming the bad element.
// With `custom`, names of [[guard.custom]] rules are accepted too, as bits of `custom_bits`.
std::optional<GuardRuleSet> read_rule_set(NodeReader& reader, const toml::node& node, const std::string& key,
                                          const std::vector<GuardCustomRule>* custom = nullptr,
                                          std::uint32_t* custom_bits = nullptr) {
    const toml::array* array = node.as_array();
    if (array == nullptr) {
        reader.error(node, key, "must be an array of rule names, e.g. [\"default\", \"migration_safety\"]");
        return std::nullopt;
    }
    GuardRuleSet set = 0;
    bool ok = true;
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::node& element = *array->get(i);
        const std::string element_key = index_key(key, i);
        auto name = reader.string(element, element_key);
        if (!name) {
            ok = false;
            continue;
        }
        if (*name == "default") {
            set |= kDefaultGuardRules;
        } else if (*name == "migration_safety") {
            set |= kMigrationSafetyRules;
        } else if (*name == "unparsable") {
            reader.error(element, element_key,
                         "\"unparsable\" is not a rule to list: set guard.unparsable = \"block\" or \"allow\"");
            ok = false;
        } else if (auto rule = sql::rule_from_string(*name)) {
            set |= 1u << static_cast<unsigned>(*rule);
        } else if (auto at = custom ? std::find_if(custom->begin(), custom->end(),
                                                   [&](const GuardCustomRule& r) { return r.name == *name; })
                                    : std::vector<GuardCustomRule>::const_iterator{};
                   custom && at != custom->end()) {
            *custom_bits |= 1u << static_cast<unsigned>(at - custom->begin());
        } else {
            std::string reason = "unknown rule \"" + *name + "\"";
            if (auto near = closest_match(*name, kGuardRuleNames)) reason += " (did you mean \"" + std::string(*near) + "\"?)";
            reason += "; the rules are the packs \"default\" and \"migration_safety\" and the rule names in docs/guard.md";
            reader.error(element, element_key, std::move(reason));
            ok = false;
        }
    }
    if (!ok) return std::nullopt;
    return set;
}

template <auto Member>
void read_rules(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto set = read_rule_set(reader, node, key)) target.*Member = *set;
}

// For a key its section reads itself, after the others.
template <class Section>
void read_later(NodeReader&, const toml::node&, const std::string&, Section&) {}

// A non-empty array of non-empty strings.
std::optional<std::vector<std::string>> read_string_list(NodeReader& reader, const toml::node& node,
                                                         const std::string& key) {
    const toml::array* array = node.as_array();
    if (array == nullptr || array->empty()) {
        reader.error(node, key, "must be a non-empty array of strings");
        return std::nullopt;
    }
    std::vector<std::string> out;
    for (std::size_t i = 0; i < array->size(); ++i) {
        auto value = reader.string(*array->get(i), index_key(key, i));
        if (!value) return std::nullopt;
        if (value->empty()) {
            reader.error(*array->get(i), index_key(key, i), "must not be empty");
            return std::nullopt;
        }
        out.push_back(std::move(*value));
    }
    return out;
}

void read_custom_statements(NodeReader& reader, const toml::node& node, const std::string& key, GuardCustomRule& rule) {
    auto list = read_string_list(reader, node, key);
    if (!list) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
        const std::string& given = (*list)[i];
        std::string kind;
        for (char c : given) kind.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c | 0x20 : c));
        if (kind.size() > 4 && kind.ends_with("stmt")) kind.resize(kind.size() - 4);
        if (kind.find_first_not_of("abcdefghijklmnopqrstuvwxyz") != std::string::npos) {
            reader.error(*node.as_array()->get(i), index_key(key, i),
                         "must be a statement kind: a PostgreSQL parse node name such as \"delete\", \"grant\" or "
                         "\"VariableSetStmt\"");
            return;
        }
        rule.statements.push_back(std::move(kind));
    }
}

template <auto Member>
void read_custom_names(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& rule) {
    auto list = read_string_list(reader, node, key);
    if (!list) return;
    for (const auto& text : *list) (rule.*Member).push_back(sql::parse_qualified_name(text));
}

void read_custom_fingerprints(NodeReader& reader, const toml::node& node, const std::string& key,
                              GuardCustomRule& rule) {
    auto list = read_string_list(reader, node, key);
    if (!list) return;
    for (std::size_t i = 0; i < list->size(); ++i) {
        std::string hex = (*list)[i];
        for (char& c : hex) c = static_cast<char>(c >= 'A' && c <= 'F' ? c | 0x20 : c);
        if (hex.size() != 16 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
            reader.error(*node.as_array()->get(i), index_key(key, i),
                         "must be a statement fingerprint: 16 hex digits, as in the \"fingerprint\" of an audit line");
            return;
        }
        rule.fingerprints.push_back(std::move(hex));
    }
}

void read_custom_name(NodeReader& reader, const toml::node& node, const std::string& key, GuardCustomRule& rule) {
    auto value = reader.string(node, key);
    if (!value) return;
    if (value->empty() || value->size() > 63 ||
        value->find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) {
        reader.error(node, key, "must be 1 to 63 of a-z, 0-9 and _ (it names the rule in errors, audit lines and allow lists)");
    } else if (sql::rule_from_string(*value) || *value == "default" || *value == "migration_safety") {
        reader.error(node, key, "\"" + *value + "\" is a built-in rule's name; choose another");
    } else {
        rule.name = std::move(*value);
    }
}

constexpr std::array<KeySpec<GuardCustomRule>, 5> kGuardCustomKeys{{
    {"name", "string", "", "The rule's name, in errors, audit lines and `allow` lists.", &read_custom_name, true},
    {"statement", "array of strings", "",
     "Statement kinds it finds, nested ones too: PostgreSQL parse node names, with or without \"Stmt\" "
     "(\"delete\", \"grant\", \"VariableSet\"...).",
     &read_custom_statements},
    {"table", "array of strings", "",
     "Tables it finds wherever the text names them (\"payments\", \"billing.payments\"; unquoted names fold to "
     "lower case, as in PostgreSQL).",
     &read_custom_names<&GuardCustomRule::tables>},
    {"function", "array of strings", "",
     "Functions it finds wherever the text calls them, CALL included (\"pg_terminate_backend\").",
     &read_custom_names<&GuardCustomRule::functions>},
    {"fingerprint", "array of strings", "",
     "Whole texts it finds, by libpg_query fingerprint (16 hex digits, as in audit lines).",
     &read_custom_fingerprints},
}};

void read_guard_custom(NodeReader& reader, const toml::node& node, const std::string& key, Guard& guard) {
    const toml::array* array = reader.array_of_tables(node, key);
    if (array == nullptr) return;
    if (array->size() > kMaxGuardCustomRules) {
        reader.error(node, key, "at most " + std::to_string(kMaxGuardCustomRules) + " custom rules");
        return;
    }
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::table& table = *array->get(i)->as_table();
        const std::string entry_key = index_key(key, i);
        const std::size_t errors_before = reader.error_count();
        GuardCustomRule rule;
        read_section<GuardCustomRule>(reader, table, entry_key, kGuardCustomKeys, rule);
        if (reader.error_count() != errors_before) continue;
        if (rule.statements.empty() && rule.tables.empty() && rule.functions.empty() && rule.fingerprints.empty()) {
            reader.error(table, entry_key,
                         "finds nothing (give at least one of 'statement', 'table', 'function' or 'fingerprint')");
            continue;
        }
        if (std::any_of(guard.custom.begin(), guard.custom.end(), [&](const auto& r) { return r.name == rule.name; })) {
            reader.error(*table.get("name"), join_key(entry_key, "name"),
                         "a custom rule named \"" + rule.name + "\" comes earlier");
            continue;
        }
        guard.custom.push_back(std::move(rule));
    }
}

constexpr std::array<KeySpec<GuardOverride>, 7> kGuardOverrideKeys{{
    {"database", "string", "", "Matches clients that connect to this database.", &read_name<&GuardOverride::database>},
    {"user", "string", "", "Matches clients that log in as this user.", &read_name<&GuardOverride::user>},
    {"application_name", "string", "",
     "Matches clients that sent this application_name at startup (a later SET does not count).",
     &read_string<&GuardOverride::application_name>},
    {"mode", "string", "", "[guard] mode for the clients matched.", &read_guard_mode<&GuardOverride::mode>},
    {"rules", "array of strings", "", "[guard] rules for the clients matched.", &read_rules<&GuardOverride::rules>},
    {"allow", "array of strings", "",
     "Rules (built-in or [[guard.custom]]) that do not apply to the clients matched (exceptions, e.g. a migrator "
     "user allowed \"drop\").",
     &read_later<GuardOverride>},
    {"unparsable", "string", "", "[guard] unparsable for the clients matched.",
     &read_unparsable<&GuardOverride::unparsable>},
}};

void read_guard_overrides(NodeReader& reader, const toml::node& node, const std::string& key, Guard& guard) {
    const toml::array* array = reader.array_of_tables(node, key);
    if (array == nullptr) return;
    std::vector<std::size_t> indexes;  // each entry's position in the file, for error messages
    for (std::size_t i = 0; i < array->size(); ++i) {
        const toml::table& table = *array->get(i)->as_table();
        const std::string entry_key = index_key(key, i);
        const std::size_t errors_before = reader.error_count();
        GuardOverride entry;
        read_section<GuardOverride>(reader, table, entry_key, kGuardOverrideKeys, entry);
        // `allow` may name [[guard.custom]] rules, read by now ("custom" comes first in kGuardKeys).
        if (const toml::node* allow = table.get("allow"))
            entry.allow = read_rule_set(reader, *allow, join_key(entry_key, "allow"), &guard.custom, &entry.allow_custom);
        if (reader.error_count() != errors_before) continue;
        if (!entry.database && !entry.user && !entry.application_name) {
            reader.error(table, entry_key,
                         "needs at least one of 'database', 'user' or 'application_name' (to change the guard of "
                         "every client, set it in [guard] itself)");
            continue;
        }
        if (!entry.mode && !entry.rules && !entry.allow && !entry.unparsable) {
            reader.error(table, entry_key, "changes nothing (give at least one of 'mode', 'rules', 'allow' or 'unparsable')");
            continue;
        }
        bool duplicate = false;
        for (std::size_t j = 0; j < guard.overrides.size() && !duplicate; ++j) {
            if (!same_clients(entry, guard.overrides[j])) continue;
            reader.error(table, entry_key, entry_key + " matches the same clients as " + index_key(key, indexes[j]) + "; merge them");
            duplicate = true;
        }
        if (duplicate) continue;
        guard.overrides.push_back(std::move(entry));
        indexes.push_back(i);
    }
}

void read_audit_log(NodeReader& reader, const toml::node& node, const std::string& key, Guard& guard) {
    auto value = reader.string(node, key);
    if (!value) return;
    if (value->empty()) {
        reader.error(node, key, "must not be empty (\"stdout\", \"off\", or a file path)");
    } else {
        guard.audit_log = std::move(*value);
    }
}

constexpr std::array<KeySpec<Guard>, 8> kGuardKeys{{
    {"mode", "string", "off",
     "\"off\"; \"audit\": log what the rules would block and let it run; \"enforce\": block it (SQLSTATE 42501).",
     &read_guard_mode<&Guard::mode>},
    {"rules", "array of strings", "[\"default\"]",
     "The rules that apply: rule names and the packs \"default\" (every built-in rule but the migration_safety "
     "ones) and \"migration_safety\". See docs/guard.md.",
     &read_rules<&Guard::rules>},
    {"unparsable", "string", "block",
     "SQL that has a word a rule looks for (DROP, DELETE, ...) but that sluice's parser rejects: \"block\" "
     "(fail closed) or \"allow\".",
     &read_unparsable<&Guard::unparsable>},
    {"audit_log", "string", "stdout",
     "Where the JSON audit lines go (one per statement a rule blocked or, in audit mode, would block): \"stdout\", "
     "\"off\", or a file (reopened when log rotation moves it away).",
     &read_audit_log},
    {"audit_statement_max", "integer", "1000",
     "Longest statement text in an audit line, in bytes, after literals are replaced by $n placeholders.",
     &read_integer<&Guard::audit_statement_max, 16, 1'000'000>},
    {"hint", "string", "", "The hint a client gets with a blocked statement: who to ask.", &read_string<&Guard::hint>},
    {"custom", "array of tables", "",
     "[[guard.custom]] rules of your own: statement kinds, tables, functions or fingerprints to find.",
     &read_guard_custom},
    {"override", "array of tables", "",
     "[[guard.override]] entries: mode, rules, allow and unparsable for the clients of one database, user and/or "
     "application_name.",
     &read_guard_overrides},
}};

// The kernel takes keepalive times in whole seconds, at most 32767 (MAX_TCP_KEEPIDLE/KEEPINTVL).
template <auto Member>
void read_keepalive_seconds(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    auto value = reader.duration(node, key);
    if (!value) return;
    if (value->count() % 1000 != 0) {
        reader.error(node, key, "must be whole seconds (TCP keepalive times are set in seconds)");
    } else if (*value > std::chrono::seconds(32767)) {
        reader.error(node, key, "must be at most 32767s (the kernel's limit)");
    } else {
        target.*Member = *value;
    }
}

constexpr std::array<KeySpec<Tcp>, 4> kTcpKeys{{
    {"keepalive", "boolean", "true", "TCP keepalive on client and server connections (finds peers that vanished).",
     &read_bool<&Tcp::keepalive>},
    {"keepalive_idle", "duration", "0",
     "Idle time before the first keepalive probe, in whole seconds; 0 = the OS default (Linux: 2h).",
     &read_keepalive_seconds<&Tcp::keepalive_idle>},
    {"keepalive_interval", "duration", "0",
     "Time between keepalive probes, in whole seconds; 0 = the OS default (Linux: 75s).",
     &read_keepalive_seconds<&Tcp::keepalive_interval>},
    {"keepalive_count", "integer", "0",
     "Unanswered probes before the connection is dropped. 0 to 127; 0 = the OS default (Linux: 9).",
     &read_integer<&Tcp::keepalive_count, 0, 127>},
}};

constexpr std::array<std::string_view, 5> kLogLevels{"trace", "debug", "info", "warn", "error"};

void read_log_level(NodeReader& reader, const toml::node& node, const std::string& key, Logging& logging) {
    if (auto index = reader.choice(node, key, kLogLevels)) logging.level = std::string(kLogLevels[*index]);
}

constexpr std::array<KeySpec<Logging>, 2> kLoggingKeys{{
    {"level", "string", "info", "\"trace\", \"debug\", \"info\", \"warn\" or \"error\".", &read_log_level},
    {"log_connections", "boolean", "true", "Log one line per client connect and disconnect.",
     &read_bool<&Logging::log_connections>},
}};

// --- [[databases]] --------------------------------------------------------------------------------

void read_url(NodeReader& reader, const toml::node& node, const std::string& key, Database& database) {
    auto text = reader.url_string(node, key);
    if (!text) return;
    auto parsed = parse_database_url(*text);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        reader.error(node, key, "invalid URL: " + *error);
        return;
    }
    if (auto why = upstream_tls_problem(std::get<UpstreamUrl>(parsed))) {
        reader.error(node, key, *why);
        return;
    }
    database.upstream = std::move(std::get<UpstreamUrl>(parsed));
}

void read_pool_override(NodeReader& reader, const toml::node& node, const std::string& key, Database& database) {
    // database.pool already holds the global [pool]; the keys given here replace those values.
    const toml::table* table = reader.table(node, key);
    if (table != nullptr) read_section<PoolSettings>(reader, *table, key, kPoolKeys, database.pool);
}

void read_upstream_pooler(NodeReader& reader, const toml::node& node, const std::string& key, Database& database) {
    if (auto value = reader.boolean(node, key)) database.pool.upstream_pooler = *value;
}

constexpr std::array<KeySpec<Database>, 4> kDatabaseKeys{{
    {"name", "string", "", "The database name clients ask for.", &read_name<&Database::name>, true},
    {"url", "string", "",
     "The server, in libpq's URI form: postgres://user:password@host:port/dbname?sslmode=... (see below).",
     &read_url, true},
    {"pool", "table", "", "Overrides of [pool] keys for this database, e.g. { size = 5, mode = \"session\" }.",
     &read_pool_override},
    {"upstream_pooler", "boolean", "false",
     "The upstream is a transaction-mode pooler itself (Supabase's pooler, Neon's -pooler hosts): sluice then "
     "prepares named statements and applies each client's settings within every transaction. Needs pool mode "
     "\"transaction\".",
     &read_upstream_pooler},
}};

// --- top level -------------------------------------------------------------------------------------

template <class Section, std::size_t N, auto Member>
void read_table_section(NodeReader& reader, const toml::node& node, const std::string& key, Config& config,
                        const std::array<KeySpec<Section>, N>& keys) {
    const toml::table* table = reader.table(node, key);
    if (table != nullptr) read_section<Section>(reader, *table, key, keys, config.*Member);
}

void read_listen(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Listen, kListenKeys.size(), &Config::listen>(r, n, k, c, kListenKeys);
}
void read_auth(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Auth, kAuthKeys.size(), &Config::auth>(r, n, k, c, kAuthKeys);
}
void read_pool(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<PoolSettings, kPoolKeys.size(), &Config::pool>(r, n, k, c, kPoolKeys);
}
void read_timeouts(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Timeouts, kTimeoutKeys.size(), &Config::timeouts>(r, n, k, c, kTimeoutKeys);
}
void read_guard(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Guard, kGuardKeys.size(), &Config::guard>(r, n, k, c, kGuardKeys);
}
void read_tcp(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Tcp, kTcpKeys.size(), &Config::tcp>(r, n, k, c, kTcpKeys);
}
// --- [client_tls] ---------------------------------------------------------------------------------

constexpr std::array<std::string_view, 4> kClientTlsModes{"disable", "allow", "prefer", "require"};

void read_client_tls_mode(NodeReader& reader, const toml::node& node, const std::string& key, ClientTls& tls) {
    constexpr std::array<ClientTlsMode, 4> kModes{ClientTlsMode::Disable, ClientTlsMode::Allow, ClientTlsMode::Prefer,
                                                  ClientTlsMode::Require};
    if (auto index = reader.choice(node, key, kClientTlsModes)) tls.mode = kModes[*index];
}

constexpr std::array<std::string_view, 3> kClientCertChecks{"off", "verify-ca", "verify-full"};

void read_client_cert(NodeReader& reader, const toml::node& node, const std::string& key, ClientTls& tls) {
    constexpr std::array<ClientCertCheck, 3> kChecks{ClientCertCheck::Off, ClientCertCheck::VerifyCa,
                                                     ClientCertCheck::VerifyFull};
    if (auto index = reader.choice(node, key, kClientCertChecks)) tls.client_cert = kChecks[*index];
}

constexpr std::array<std::string_view, 2> kTlsProtocols{"TLSv1.2", "TLSv1.3"};

void read_min_protocol(NodeReader& reader, const toml::node& node, const std::string& key, ClientTls& tls) {
    if (auto index = reader.choice(node, key, kTlsProtocols)) tls.min_protocol = std::string(kTlsProtocols[*index]);
}

constexpr std::array<KeySpec<ClientTls>, 7> kClientTlsKeys{{
    {"mode", "string", "disable",
     "\"disable\": SSLRequest is answered 'N'; \"allow\" or \"prefer\": TLS for the clients that ask for it "
     "(SSLRequest or PostgreSQL 17's direct TLS), plaintext for the others; \"require\": plaintext clients are "
     "refused with SQLSTATE 28000.",
     &read_client_tls_mode},
    {"cert_file", "string", "", "PEM file with sluice's server certificate (and its chain). Needed unless mode is "
     "\"disable\".", &read_string<&ClientTls::cert_file>},
    {"key_file", "string", "", "PEM file with the certificate's private key (unencrypted).",
     &read_string<&ClientTls::key_file>},
    {"ca_file", "string", "", "PEM file with the CAs that client certificates must chain to (for client_cert).",
     &read_string<&ClientTls::ca_file>},
    {"client_cert", "string", "off",
     "\"off\": no client certificate is asked for; \"verify-ca\": clients must present a certificate that "
     "chains to ca_file; \"verify-full\": and its CN must equal the user name they log in as.",
     &read_client_cert},
    {"min_protocol", "string", "TLSv1.2", "The oldest TLS version accepted: \"TLSv1.2\" or \"TLSv1.3\".",
     &read_min_protocol},
    {"ciphers", "string", "", "OpenSSL cipher list for TLS 1.2 (e.g. \"HIGH:!aNULL\"); empty: OpenSSL's default. "
     "TLS 1.3 suites are OpenSSL's.", &read_string<&ClientTls::ciphers>},
}};

// The section as a whole, once its keys read cleanly: the files it names must be usable.
void check_client_tls(NodeReader& reader, const toml::table& table, const std::string& key, const ClientTls& tls) {
    auto file_key = [&](std::string_view name) { return join_key(key, name); };
    if (tls.mode != ClientTlsMode::Disable) {
        if (tls.cert_file.empty() || tls.key_file.empty()) {
            reader.error(table, key, "mode \"" + std::string(kClientTlsModes[static_cast<std::size_t>(tls.mode)]) +
                                         "\" needs cert_file and key_file");
            return;
        }
    }
    if (!tls.cert_file.empty()) {
        if (auto why = certificate_file_problem(tls.cert_file)) reader.error(*table.get("cert_file"), file_key("cert_file"), *why);
        else if (tls.key_file.empty()) reader.error(table, key, "cert_file needs key_file");
        else if (auto why = key_file_problem(tls.key_file, tls.cert_file)) reader.error(*table.get("key_file"), file_key("key_file"), *why);
    }
    if (tls.client_cert != ClientCertCheck::Off && tls.ca_file.empty())
        reader.error(*table.get("client_cert"), file_key("client_cert"), "needs ca_file (the CAs client certificates must chain to)");
    if (!tls.ca_file.empty())
        if (auto why = certificate_file_problem(tls.ca_file)) reader.error(*table.get("ca_file"), file_key("ca_file"), *why);
}

void read_client_tls(NodeReader& reader, const toml::node& node, const std::string& key, Config& config) {
    const toml::table* table = reader.table(node, key);
    if (table == nullptr) return;
    const std::size_t errors_before = reader.error_count();
    read_section<ClientTls>(reader, *table, key, kClientTlsKeys, config.client_tls);
    if (reader.error_count() == errors_before) check_client_tls(reader, *table, key, config.client_tls);
}

void read_logging(NodeReader& r, const toml::node& n, const std::string& k, Config& c) {
    read_table_section<Logging, kLoggingKeys.size(), &Config::logging>(r, n, k, c, kLoggingKeys);
}

void read_databases(NodeReader& reader, const toml::node& node, const std::string& key, Config& config) {
    const toml::array* array = reader.array_of_tables(node, key);
    if (array == nullptr) return;
    for (std::size_t i = 0; i < array->size(); ++i) {
        Database database;
        database.pool = config.pool;
        const toml::table& table = *array->get(i)->as_table();
        read_section<Database>(reader, table, index_key(key, i), kDatabaseKeys, database);
        // A session cannot keep its state on a pooler that moves it between backends.
        if (database.pool.upstream_pooler && database.pool.mode == PoolMode::Session)
            reader.error(*table.get("upstream_pooler"), join_key(index_key(key, i), "upstream_pooler"),
                         "needs pool mode \"transaction\": behind a transaction-mode pooler a session's state "
                         "does not last (point sluice at the provider's session-mode port instead, without "
                         "upstream_pooler)");
        config.databases.push_back(std::move(database));
    }
}

// Order matters: [pool] before [[databases]], whose pools start from it.
constexpr std::array<KeySpec<Config>, 10> kConfigKeys{{
    {"listen", "table", "", "Where clients connect.", &read_listen},
    {"auth", "table", "", "How clients authenticate.", &read_auth},
    {"pool", "table", "", "Server connection pools (defaults for every database).", &read_pool},
    {"timeouts", "table", "", "Client-facing time limits.", &read_timeouts},
    {"tcp", "table", "", "TCP socket options for client and server connections.", &read_tcp},
    {"logging", "table", "", "What is logged.", &read_logging},
    {"databases", "array of tables", "", "The databases clients can connect to.", &read_databases},
    {"client_tls", "table", "", "TLS between clients and sluice.", &read_client_tls},
    {"guard", "table", "", "The query guard: which statements clients may send.", &read_guard},
    {"admin", "", "", "", nullptr},
}};

void read_users_file_users(NodeReader& reader, const toml::node& node, const std::string& key, UsersFile& file) {
    read_users_into(reader, node, key, file.users);
}

constexpr std::array<KeySpec<UsersFile>, 1> kUsersFileKeys{{
    {"users", "array of tables", "", "[[users]] entries with the keys of [[auth.users]].", &read_users_file_users},
}};

template <class Section, std::size_t N>
void append_infos(std::vector<KeyInfo>& out, std::string_view section, const std::array<KeySpec<Section>, N>& keys) {
    for (const auto& spec : keys) {
        if (spec.read == nullptr) continue;
        out.push_back(KeyInfo{section, spec.name, spec.type, spec.default_value, spec.doc, spec.required});
    }
}

}  // namespace

std::span<const KeySpec<Config>> config_keys() { return kConfigKeys; }
std::span<const KeySpec<UsersFile>> users_file_keys() { return kUsersFileKeys; }

std::vector<KeyInfo> known_keys() {
    std::vector<KeyInfo> out;
    append_infos(out, "", kConfigKeys);
    append_infos(out, "listen", kListenKeys);
    append_infos(out, "auth", kAuthKeys);
    append_infos(out, "auth.users", kUserKeys);
    append_infos(out, "auth.auth_query", kAuthQueryKeys);
    append_infos(out, "pool", kPoolKeys);
    append_infos(out, "timeouts", kTimeoutKeys);
    append_infos(out, "timeouts.override", kTimeoutOverrideKeys);
    append_infos(out, "guard", kGuardKeys);
    append_infos(out, "guard.custom", kGuardCustomKeys);
    append_infos(out, "guard.override", kGuardOverrideKeys);
    append_infos(out, "tcp", kTcpKeys);
    append_infos(out, "logging", kLoggingKeys);
    append_infos(out, "client_tls", kClientTlsKeys);
    append_infos(out, "databases", kDatabaseKeys);
    return out;
}

}  // namespace sluice::config
