#include "config/load.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/duration.hpp"
#include "config_test_support.hpp"

namespace sluice::config {
namespace {

using namespace std::chrono_literals;
using test::describe;
using test::env_of;
using test::expect_config;
using test::expect_errors;
using test::expect_one_error;
using test::no_env;

constexpr std::string_view kDatabase = R"toml(
[[databases]]
name = "app"
url = "postgres://app:pw@db.internal:5432/app"
)toml";

std::string with_database(std::string_view body) { return std::string(body) + std::string(kDatabase); }

TEST(Load, FullConfig) {
    constexpr std::string_view kToml = R"toml(
[listen]
address = "127.0.0.1"
port = 7432
workers = 4
max_client_connections = 500

[auth]
method = "md5"
[[auth.users]]
name = "app"
password = "${APP_PASSWORD}"
pool_size = 7
max_connections = 30
[[auth.users]]
name = "reporting"
password = "md5aabbccddeeff00112233445566778899"
[auth.auth_query]
query = "SELECT usename, passwd FROM pgbouncer.get_auth($1)"
user = "sluice_auth"
password = "${AUTH_PASSWORD}"
cache_ttl = "1m"

[pool]
mode = "session"
size = 50
min_size = 5
reserve_size = 3
reserve_timeout = "2s"
max_db_connections = 100
max_user_connections = 80
server_idle_timeout = "5m"
server_lifetime = "30m"
server_check_delay = "10s"
server_connect_timeout = "3s"
server_retry_delay = "50ms"
server_retry_max = "1s"

[timeouts]
query_wait = "1m30s"
client_login = "250ms"

[logging]
level = "debug"
log_connections = false

[[databases]]
name = "app"
url = "postgres://postgres.projref:${DB_PASSWORD}@pooler.example.com:6543/postgres?sslmode=disable"

[[databases]]
name = "analytics"
url = "postgresql://[::1]:5433,replica:5434/warehouse?application_name=sluice"
pool = { size = 5, mode = "transaction" }
)toml";
    Config c = expect_config(
        load_string(kToml, "full.toml", env_of({{"APP_PASSWORD", "hunter2"}, {"AUTH_PASSWORD", "a"}, {"DB_PASSWORD", "p@ss"}})));
    EXPECT_EQ(c.source, "full.toml");
    EXPECT_EQ(c.listen.address, "127.0.0.1");
    EXPECT_EQ(c.listen.port, 7432);
    EXPECT_EQ(c.listen.workers, 4u);
    EXPECT_EQ(c.listen.max_client_connections, 500u);

    EXPECT_EQ(c.auth.method, AuthMethod::Md5);
    ASSERT_EQ(c.auth.users.size(), 2u);
    EXPECT_EQ(c.auth.users[0].name, "app");
    EXPECT_EQ(c.auth.users[0].password, "hunter2");
    EXPECT_EQ(c.auth.users[0].pool_size, 7u);
    EXPECT_EQ(c.auth.users[0].max_connections, 30u);
    EXPECT_EQ(c.auth.users[1].password, "md5aabbccddeeff00112233445566778899");
    EXPECT_FALSE(c.auth.users[1].pool_size);
    ASSERT_TRUE(c.auth.auth_query);
    EXPECT_EQ(c.auth.auth_query->query, "SELECT usename, passwd FROM pgbouncer.get_auth($1)");
    EXPECT_EQ(c.auth.auth_query->user, "sluice_auth");
    EXPECT_EQ(c.auth.auth_query->password, "a");
    EXPECT_EQ(c.auth.auth_query->cache_ttl, 1min);
    EXPECT_EQ(c.find_user("app"), &c.auth.users[0]);

    EXPECT_EQ(c.pool.mode, PoolMode::Session);
    EXPECT_EQ(c.pool.size, 50u);
    EXPECT_EQ(c.pool.min_size, 5u);
    EXPECT_EQ(c.pool.reserve_size, 3u);
    EXPECT_EQ(c.pool.reserve_timeout, 2s);
    EXPECT_EQ(c.pool.max_db_connections, 100u);
    EXPECT_EQ(c.pool.max_user_connections, 80u);
    EXPECT_EQ(c.pool.server_idle_timeout, 5min);
    EXPECT_EQ(c.pool.server_lifetime, 30min);
    EXPECT_EQ(c.pool.server_check_delay, 10s);
    EXPECT_EQ(c.pool.server_connect_timeout, 3s);
    EXPECT_EQ(c.pool.server_retry_delay, 50ms);
    EXPECT_EQ(c.pool.server_retry_max, 1s);

    EXPECT_EQ(c.timeouts.query_wait, 90s);
    EXPECT_EQ(c.timeouts.client_login, 250ms);
    EXPECT_EQ(c.logging.level, "debug");
    EXPECT_FALSE(c.logging.log_connections);

    ASSERT_EQ(c.databases.size(), 2u);
    const Database& app = c.databases[0];
    EXPECT_EQ(app.name, "app");
    EXPECT_EQ(app.upstream.hosts, (std::vector<HostPort>{{"pooler.example.com", 6543}}));
    EXPECT_EQ(app.upstream.user, "postgres.projref");
    EXPECT_EQ(app.upstream.password, "p@ss");  // inserted percent-encoded, decoded by the URL parser
    EXPECT_EQ(app.upstream.database, "postgres");
    EXPECT_EQ(app.upstream.sslmode, SslMode::Disable);
    EXPECT_EQ(app.pool.size, 50u);  // inherited
    EXPECT_EQ(app.pool.mode, PoolMode::Session);

    const Database* analytics = c.find_database("analytics");
    ASSERT_NE(analytics, nullptr);
    EXPECT_EQ(analytics->upstream.hosts, (std::vector<HostPort>{{"::1", 5433}, {"replica", 5434}}));
    EXPECT_EQ(analytics->pool.size, 5u);                     // overridden
    EXPECT_EQ(analytics->pool.mode, PoolMode::Transaction);  // overridden
    EXPECT_EQ(analytics->pool.min_size, 5u);                 // inherited
    EXPECT_EQ(analytics->pool.server_lifetime, 30min);       // inherited
}

TEST(Load, DefaultsMatchTheModel) {
    Config c = expect_config(load_string(kDatabase, "defaults.toml", no_env()));
    const Config defaults;
    EXPECT_EQ(c.listen.address, defaults.listen.address);
    EXPECT_EQ(c.listen.port, 6432);
    EXPECT_EQ(c.listen.workers, 0u);
    EXPECT_EQ(c.listen.max_client_connections, 10000u);
    EXPECT_FALSE(c.listen.nice);  // the priority sluice was started with stays
    EXPECT_EQ(c.auth.method, AuthMethod::ScramSha256);
    EXPECT_TRUE(c.auth.users.empty());
    EXPECT_FALSE(c.auth.auth_query);
    EXPECT_EQ(c.pool.mode, PoolMode::Transaction);
    EXPECT_EQ(c.pool.size, 20u);
    EXPECT_EQ(c.pool.max_prepared_statements, 200u);
    EXPECT_EQ(c.pool.session_state, SessionStatePolicy::Track);
    EXPECT_EQ(c.timeouts.query_wait, 30s);
    EXPECT_EQ(c.timeouts.client_login, 15s);
    EXPECT_EQ(c.logging.level, "info");
    EXPECT_TRUE(c.logging.log_connections);
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].pool.size, 20u);
    EXPECT_EQ(c.databases[0].pool.server_lifetime, 1h);
}

TEST(Load, AuthQueryDefaultQuery) {
    Config c = expect_config(load_string(with_database("[auth.auth_query]\nuser = \"pgbouncer\"\n"), "t.toml", no_env()));
    ASSERT_TRUE(c.auth.auth_query);
    EXPECT_EQ(c.auth.auth_query->query, AuthQuery{}.query);
    EXPECT_FALSE(c.auth.auth_query->password);
    EXPECT_EQ(c.auth.auth_query->cache_ttl, 10s);
}

// --- One test per error class: each names the file, the line and the key. ------------------------

TEST(Load, TcpKeepalive) {
    Config c = expect_config(load_string(kDatabase, "t.toml", no_env()));
    EXPECT_TRUE(c.tcp.keepalive);
    EXPECT_EQ(c.tcp.keepalive_idle, 0s);  // the OS default
    EXPECT_EQ(c.tcp.keepalive_interval, 0s);
    EXPECT_EQ(c.tcp.keepalive_count, 0u);

    c = expect_config(load_string(
        with_database("[tcp]\nkeepalive = true\nkeepalive_idle = \"1m\"\nkeepalive_interval = \"10s\"\nkeepalive_count = 3\n"),
        "t.toml", no_env()));
    EXPECT_TRUE(c.tcp.keepalive);
    EXPECT_EQ(c.tcp.keepalive_idle, 60s);
    EXPECT_EQ(c.tcp.keepalive_interval, 10s);
    EXPECT_EQ(c.tcp.keepalive_count, 3u);

    c = expect_config(load_string(with_database("[tcp]\nkeepalive = false\n"), "t.toml", no_env()));
    EXPECT_FALSE(c.tcp.keepalive);
}

TEST(Load, Nice) {
    Config c = expect_config(load_string(with_database("[listen]\nnice = -5\n"), "n.toml", no_env()));
    EXPECT_EQ(c.listen.nice, -5);
    c = expect_config(load_string(with_database("[listen]\nnice = 0\n"), "n.toml", no_env()));
    EXPECT_EQ(c.listen.nice, 0);  // set, unlike an absent key: a sluice started under `nice 10` goes back to 0
    auto result = load_string(with_database("[listen]\nnice = -21\n"), "n.toml", no_env());
    expect_one_error(result, "n.toml", 2, "listen.nice", "must be between -20 and 19, got -21");
    result = load_string(with_database("[listen]\nnice = \"high\"\n"), "n.toml", no_env());
    expect_one_error(result, "n.toml", 2, "listen.nice", "an integer");
}

TEST(LoadErrors, TcpKeepaliveValidation) {
    // The kernel takes whole seconds: 1500ms would silently become 1s.
    auto result = load_string(with_database("[tcp]\nkeepalive_idle = \"1500ms\"\n"), "t.toml", no_env());
    expect_one_error(result, "t.toml", 2, "tcp.keepalive_idle", "must be whole seconds");
    result = load_string(with_database("[tcp]\nkeepalive_interval = \"10h\"\n"), "t.toml", no_env());
    expect_one_error(result, "t.toml", 2, "tcp.keepalive_interval", "at most 32767s");
    result = load_string(with_database("[tcp]\nkeepalive_count = 128\n"), "t.toml", no_env());
    expect_one_error(result, "t.toml", 2, "tcp.keepalive_count", "127");
    result = load_string(with_database("[tcp]\nkeepalive = \"yes\"\n"), "t.toml", no_env());
    expect_one_error(result, "t.toml", 2, "tcp.keepalive", "expected a boolean");
    result = load_string(with_database("[tcp]\nkeepalive_idel = \"1s\"\n"), "t.toml", no_env());
    expect_one_error(result, "t.toml", 2, "tcp.keepalive_idel", "did you mean 'keepalive_idle'?");
}

TEST(LoadErrors, BadType) {
    auto result = load_string(with_database("[listen]\nport = \"6432\"\n"), "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 2, "listen.port", "expected an integer, found a string");
}

TEST(LoadErrors, UnknownKeyWithSuggestion) {
    auto result = load_string(with_database("[listen]\nport = 6432\nmax_client_conections = 10\n"), "sluice.toml",
                              no_env());
    ConfigError e = expect_one_error(result, "sluice.toml", 3, "listen.max_client_conections",
                                     "unknown key 'max_client_conections'");
    EXPECT_NE(e.reason.find("did you mean 'max_client_connections'?"), std::string::npos) << e.reason;
    EXPECT_EQ(e.column, 1);
}

TEST(LoadErrors, BadDuration) {
    auto result = load_string(with_database("[timeouts]\n\nquery_wait = \"30 seconds\"\n"), "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 3, "timeouts.query_wait", "in duration \"30 seconds\"");
    result = load_string(with_database("[pool]\nserver_lifetime = 3600\n"), "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 2, "pool.server_lifetime", "expected a duration string");
    result = load_string(with_database("[timeouts]\nclient_login = \"15\"\n"), "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 2, "timeouts.client_login", "missing unit");
}

TEST(LoadErrors, BadUrl) {
    auto result = load_string("[[databases]]\nname = \"app\"\nurl = \"mysql://u:p@h/db\"\n", "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 3, "databases[0].url", "invalid URL: unsupported scheme \"mysql\"");
    result = load_string(std::string(kDatabase) + "[[databases]]\nname = \"b\"\nurl = \"postgres://h:99999/b\"\n",
                         "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 7, "databases[1].url", "invalid port \"99999\"");
}

TEST(LoadErrors, MissingEnvironmentVariable) {
    auto result = load_string(with_database("[[auth.users]]\nname = \"app\"\npassword = \"${APP_PASSWORD}\"\n"),
                              "sluice.toml", no_env());
    expect_one_error(result, "sluice.toml", 3, "auth.users[0].password",
                     "environment variable APP_PASSWORD is not set");
    result = load_string("[[databases]]\nname = \"app\"\nurl = \"postgres://u:${DB_PASSWORD}@h/app\"\n", "sluice.toml",
                         no_env());
    expect_one_error(result, "sluice.toml", 3, "databases[0].url", "environment variable DB_PASSWORD is not set");
}

TEST(LoadErrors, TomlSyntaxErrorHasTomlsPosition) {
    auto result = load_string("[listen]\nport = 6432\naddress = \"0.0.0.0\n", "sluice.toml", no_env());
    std::vector<ConfigError> errors = expect_errors(result);
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_EQ(errors[0].file, "sluice.toml");
    EXPECT_EQ(errors[0].line, 3);
    EXPECT_GT(errors[0].column, 0);
    EXPECT_NE(errors[0].reason.find("TOML syntax error"), std::string::npos);
    EXPECT_EQ(errors[0].to_string().rfind("sluice.toml:3:", 0), 0u) << errors[0].to_string();

    // Duplicate keys are syntax errors in TOML.
    errors = expect_errors(load_string("[listen]\nport = 1\nport = 2\n", "dup.toml", no_env()));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].line, 3);
}

TEST(LoadErrors, CollectsEveryError) {
    constexpr std::string_view kToml = R"toml([listen]
port = 70000
adress = "::"
[pool]
size = "big"
min_size = -1
[timeouts]
query_wait = "soon"
[[databases]]
name = "app"
url = "postgres://h:0/app"
)toml";
    std::vector<ConfigError> errors = expect_errors(load_string(kToml, "many.toml", no_env()));
    ASSERT_EQ(errors.size(), 6u) << describe(errors);
    const std::pair<int, std::string> expected[] = {
        {2, "listen.port"}, {3, "listen.adress"}, {5, "pool.size"}, {6, "pool.min_size"},
        {8, "timeouts.query_wait"}, {11, "databases[0].url"},
    };
    for (std::size_t i = 0; i < errors.size(); ++i) {
        EXPECT_EQ(errors[i].line, expected[i].first) << errors[i].to_string();
        EXPECT_EQ(errors[i].key, expected[i].second) << errors[i].to_string();
    }
    EXPECT_NE(errors[1].reason.find("did you mean 'address'?"), std::string::npos);
    EXPECT_NE(errors[0].reason.find("between 1 and 65535"), std::string::npos);
}

TEST(LoadErrors, LaterFeaturesAreNotSupportedYet) {
    for (std::string_view section : {"admin"}) {
        SCOPED_TRACE(section);
        // Appended, not "[" + std::string(...): g++ 12 at -O3 reports a false -Wrestrict overlap
        // in that operator+ (GCC bug 105651).
        auto result = load_string(with_database(std::string("[").append(section).append("]\nenabled = true\n")),
                                  "s.toml", no_env());
        expect_one_error(result, "s.toml", 1, std::string(section),
                         "section [" + std::string(section) + "] is not supported yet by this version");
    }
}

TEST(LoadErrors, UnknownSectionSuggestsTheKnownOne) {
    auto result = load_string(with_database("[listne]\nport = 1\n"), "s.toml", no_env());
    ConfigError e = expect_one_error(result, "s.toml", 1, "listne", "unknown key 'listne' at the top level");
    EXPECT_NE(e.reason.find("did you mean 'listen'?"), std::string::npos);
}

TEST(LoadErrors, WrongShapes) {
    auto errors = expect_errors(load_string("listen = 5\n[databases]\nname = \"x\"\n", "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 2u) << describe(errors);
    EXPECT_EQ(errors[0].key, "listen");
    EXPECT_NE(errors[0].reason.find("expected a table, found an integer"), std::string::npos);
    EXPECT_EQ(errors[1].key, "databases");
    EXPECT_NE(errors[1].reason.find("expected an array of tables ([[databases]] sections)"), std::string::npos);
}

TEST(LoadErrors, EnumsAndRanges) {
    auto errors = expect_errors(load_string(with_database(R"toml([auth]
method = "password"
[pool]
mode = "statement"
[logging]
level = "verbose"
log_connections = "yes"
[listen]
workers = -1
)toml"),
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 5u) << describe(errors);
    EXPECT_NE(errors[0].reason.find("expected \"trust\", \"md5\" or \"scram-sha-256\""), std::string::npos);
    EXPECT_NE(errors[1].reason.find("expected \"transaction\" or \"session\""), std::string::npos);
    EXPECT_EQ(errors[2].key, "logging.level");
    EXPECT_NE(errors[3].reason.find("expected a boolean"), std::string::npos);
    EXPECT_EQ(errors[4].key, "listen.workers");
}

TEST(Load, UpstreamPoolerPerDatabase) {
    Config c = expect_config(load_string(R"toml([[databases]]
name = "a"
url = "postgres://h/a"
[[databases]]
name = "neon"
url = "postgres://h/b"
upstream_pooler = true
)toml",
                                         "s.toml", no_env()));
    ASSERT_EQ(c.databases.size(), 2u);
    EXPECT_FALSE(c.databases[0].pool.upstream_pooler);
    EXPECT_TRUE(c.databases[1].pool.upstream_pooler);
    EXPECT_FALSE(c.pool.upstream_pooler);
}

TEST(LoadErrors, UpstreamPoolerNeedsTransactionMode) {
    // A session's state cannot last behind a pooler that moves it between backends.
    auto result = load_string(R"toml([[databases]]
name = "a"
url = "postgres://h/a"
pool = { mode = "session" }
upstream_pooler = true
)toml",
                              "s.toml", no_env());
    expect_one_error(result, "s.toml", 5, "databases[0].upstream_pooler", "needs pool mode \"transaction\"");
    result = load_string(R"toml([pool]
mode = "session"
[[databases]]
name = "a"
url = "postgres://h/a"
upstream_pooler = "yes"
)toml",
                         "s.toml", no_env());
    expect_one_error(result, "s.toml", 6, "databases[0].upstream_pooler", "expected a boolean");
    // Not a [pool] key: it describes the upstream, not the pool.
    result = load_string(with_database("[pool]\nupstream_pooler = true\n"), "s.toml", no_env());
    expect_one_error(result, "s.toml", 2, "pool.upstream_pooler", "unknown key");
}

TEST(Load, SessionStateAndPreparedStatements) {
    // [pool] sets the default, a database overrides it, a user overrides both.
    Config c = expect_config(load_string(R"toml([pool]
session_state = "pin"
max_prepared_statements = 0
[auth]
method = "trust"
[[auth.users]]
name = "strict"
session_state = "reject"
[[auth.users]]
name = "plain"
[[databases]]
name = "a"
url = "postgres://h/a"
[[databases]]
name = "b"
url = "postgres://h/b"
pool = { session_state = "track", max_prepared_statements = 100000 }
)toml",
                                         "s.toml", no_env()));
    EXPECT_EQ(c.pool.session_state, SessionStatePolicy::Pin);
    EXPECT_EQ(c.pool.max_prepared_statements, 0u);
    ASSERT_EQ(c.databases.size(), 2u);
    const Database& a = c.databases[0];
    const Database& b = c.databases[1];
    EXPECT_EQ(a.pool.session_state, SessionStatePolicy::Pin);
    EXPECT_EQ(a.pool.max_prepared_statements, 0u);
    EXPECT_EQ(b.pool.session_state, SessionStatePolicy::Track);
    EXPECT_EQ(b.pool.max_prepared_statements, 100000u);
    ASSERT_NE(c.find_user("strict"), nullptr);
    EXPECT_EQ(c.find_user("strict")->session_state, SessionStatePolicy::Reject);
    EXPECT_FALSE(c.find_user("plain")->session_state);
    EXPECT_EQ(c.session_state_for(a, "strict"), SessionStatePolicy::Reject);  // the user wins
    EXPECT_EQ(c.session_state_for(b, "strict"), SessionStatePolicy::Reject);
    EXPECT_EQ(c.session_state_for(a, "plain"), SessionStatePolicy::Pin);      // no override: the database's
    EXPECT_EQ(c.session_state_for(b, "plain"), SessionStatePolicy::Track);
    EXPECT_EQ(c.session_state_for(b, "unknown"), SessionStatePolicy::Track);  // e.g. an auth_query user
}

TEST(LoadErrors, SessionStateAndPreparedStatements) {
    test::expect_one_error(load_string(with_database("[pool]\nsession_state = \"share\"\n"), "s.toml", no_env()),
                           "s.toml", 2, "pool.session_state",
                           "invalid value \"share\" (expected \"track\", \"pin\" or \"reject\")");
    test::expect_one_error(load_string(with_database("[pool]\nmax_prepared_statements = 100001\n"), "s.toml", no_env()),
                           "s.toml", 2, "pool.max_prepared_statements", "100000");
    test::expect_one_error(load_string(with_database("[pool]\nmax_prepared_statements = -1\n"), "s.toml", no_env()),
                           "s.toml", 2, "pool.max_prepared_statements", "0");
    test::expect_one_error(load_string(with_database("[pool]\nsession_state = true\n"), "s.toml", no_env()),
                           "s.toml", 2, "pool.session_state", "expected a string");
    test::expect_one_error(
        load_string(with_database("[[auth.users]]\nname = \"u\"\npassword = \"p\"\nsession_state = \"Pin\"\n"),
                    "s.toml", no_env()),
        "s.toml", 4, "auth.users[0].session_state", "invalid value \"Pin\"");
    auto errors = expect_errors(load_string(R"toml([[databases]]
name = "a"
url = "postgres://h/a"
pool = { session_state = "off" }
)toml",
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_EQ(errors[0].key, "databases[0].pool.session_state");
}

TEST(LoadErrors, CrossKeyValidation) {
    auto errors = expect_errors(load_string(R"toml([pool]
size = 5
min_size = 10
server_retry_delay = "5s"
[[auth.users]]
name = "app"
password = "x"
[[auth.users]]
name = "app"
password = "y"
[[databases]]
name = "app"
url = "postgres://h/app"
[[databases]]
name = "app"
url = "postgres://h/other"
pool = { min_size = 1, size = 0 }
)toml",
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 5u) << describe(errors);
    EXPECT_EQ(errors[0].key, "pool.min_size");
    EXPECT_NE(errors[0].reason.find("min_size (10) must not exceed size (5)"), std::string::npos);
    EXPECT_EQ(errors[1].key, "pool.server_retry_delay");
    EXPECT_EQ(errors[2].key, "auth.users[1].name");
    EXPECT_NE(errors[2].reason.find("duplicate user \"app\" (first defined at s.toml:5)"), std::string::npos)
        << errors[2].reason;
    EXPECT_EQ(errors[3].key, "databases[1].name");
    EXPECT_NE(errors[3].reason.find("duplicate database \"app\" (first defined at line 11)"), std::string::npos);
    EXPECT_EQ(errors[4].key, "databases[1].pool.size");
    EXPECT_EQ(errors[4].line, 17);
}

TEST(LoadErrors, PasswordsAndAuthMethods) {
    auto errors = expect_errors(load_string(with_database(R"toml([auth]
method = "scram-sha-256"
[[auth.users]]
name = "nopass"
[[auth.users]]
name = "md5user"
password = "md5aabbccddeeff00112233445566778899"
[[auth.users]]
name = "broken"
password = "SCRAM-SHA-256$4096:salt"
)toml"),
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 3u) << describe(errors);
    EXPECT_EQ(errors[0].key, "auth.users[0]");
    EXPECT_NE(errors[0].reason.find("has no password"), std::string::npos);
    EXPECT_EQ(errors[1].key, "auth.users[1].password");
    EXPECT_NE(errors[1].reason.find("md5 secret cannot check scram-sha-256"), std::string::npos);
    EXPECT_EQ(errors[2].key, "auth.users[2].password");
    EXPECT_NE(errors[2].reason.find("malformed SCRAM secret"), std::string::npos);

    // With trust, or with auth_query to look secrets up, a user without a password is fine.
    expect_config(load_string(with_database("[auth]\nmethod = \"trust\"\n[[auth.users]]\nname = \"a\"\n"), "s.toml",
                              no_env()));
    expect_config(load_string(with_database("[auth.auth_query]\nuser = \"q\"\n[[auth.users]]\nname = \"a\"\npool_size = 2\n"),
                              "s.toml", no_env()));
    // A real SCRAM secret is accepted.
    Config c = expect_config(load_string(
        with_database("[[auth.users]]\nname = \"a\"\npassword = "
                      "\"SCRAM-SHA-256$4096:c2FsdHNhbHRzYWx0c2FsdA==$"
                      "ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U=:ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2U=\"\n"),
        "s.toml", no_env()));
    ASSERT_EQ(c.auth.users.size(), 1u);
}

TEST(LoadErrors, AuthQueryValidation) {
    auto errors = expect_errors(load_string(with_database(R"toml([auth.auth_query]
query = "SELECT usename, passwd FROM pg_shadow WHERE usename = 'x'"
cache_ttl = 10
)toml"),
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 3u) << describe(errors);
    EXPECT_EQ(errors[0].key, "auth.auth_query.user");
    EXPECT_NE(errors[0].reason.find("missing required key 'user'"), std::string::npos);
    EXPECT_EQ(errors[1].key, "auth.auth_query.query");
    EXPECT_NE(errors[1].reason.find("$1"), std::string::npos);
    EXPECT_EQ(errors[2].key, "auth.auth_query.cache_ttl");
    errors = expect_errors(load_string(with_database("[auth.auth_query]\nuser = \"u\"\nquery = \"  \"\n"), "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].reason.find("must not be empty"), std::string::npos);
}

TEST(LoadErrors, MissingRequiredKeys) {
    auto errors = expect_errors(load_string("[[databases]]\nurl = \"postgres://h/db\"\n[[databases]]\nname = \"b\"\n",
                                            "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 2u) << describe(errors);
    EXPECT_EQ(errors[0].key, "databases[0].name");
    EXPECT_EQ(errors[0].line, 1);
    EXPECT_EQ(errors[1].key, "databases[1].url");
    EXPECT_EQ(errors[1].line, 3);
}

TEST(LoadErrors, NamesAreChecked) {
    auto errors = expect_errors(load_string(
        "[[databases]]\nname = \"\"\nurl = \"postgres://h\"\n[[databases]]\nname = \"" + std::string(64, 'x') +
            "\"\nurl = \"postgres://h\"\n",
        "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 2u) << describe(errors);
    EXPECT_NE(errors[0].reason.find("must not be empty"), std::string::npos);
    EXPECT_NE(errors[1].reason.find("longer than 63 bytes"), std::string::npos);
}

TEST(LoadErrors, NoDatabases) {
    auto errors = expect_errors(load_string("[listen]\nport = 6432\n", "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "s.toml: databases: no databases configured (add a [[databases]] section, or set DATABASE_URL in the "
              "environment)");
    errors = expect_errors(load_string("databases = []\n", "s.toml", no_env()));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].line, 1);
}

TEST(ConfigError, Format) {
    EXPECT_EQ((ConfigError{"a.toml", 12, 9, "databases[1].url", "bad"}).to_string(), "a.toml:12:9: databases[1].url: bad");
    EXPECT_EQ((ConfigError{"a.toml", 12, 0, "k", "bad"}).to_string(), "a.toml:12: k: bad");
    EXPECT_EQ((ConfigError{"a.toml", 0, 0, "k", "bad"}).to_string(), "a.toml: k: bad");
    EXPECT_EQ((ConfigError{"a.toml", 3, 1, "", "bad"}).to_string(), "a.toml:3:1: bad");
}

// --- Environment -------------------------------------------------------------------------------

TEST(Load, EveryStringIsExpanded) {
    Config c = expect_config(load_string(with_database("[listen]\naddress = \"${HOST}\"\n[logging]\nlevel = \"${LEVEL}\"\n"),
                                         "s.toml", env_of({{"HOST", "10.1.2.3"}, {"LEVEL", "warn"}})));
    EXPECT_EQ(c.listen.address, "10.1.2.3");
    EXPECT_EQ(c.logging.level, "warn");
}

TEST(Load, UrlFromOneVariable) {
    Config c = expect_config(load_string("[[databases]]\nname = \"app\"\nurl = \"${APP_URL}\"\n", "s.toml",
                                         env_of({{"APP_URL", "postgres://u:p%40ss@h:6000/x"}})));
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].upstream.password, "p@ss");
    EXPECT_EQ(c.databases[0].upstream.hosts, (std::vector<HostPort>{{"h", 6000}}));
}

TEST(DatabaseUrlEnv, UsedWhenTheFileHasNoDatabases) {
    Config c = expect_config(load_string("[pool]\nsize = 3\n", "s.toml",
                                         env_of({{"DATABASE_URL", "postgres://u:p@db.example.com/shop?sslmode=allow"}})));
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].name, "shop");
    EXPECT_EQ(c.databases[0].upstream.sslmode, SslMode::Allow);
    EXPECT_EQ(c.databases[0].pool.size, 3u);

    c = expect_config(load_string("", "empty.toml", env_of({{"DATABASE_URL", "postgres://u:p@db.example.com"}})));
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].name, "postgres");
}

TEST(DatabaseUrlEnv, IgnoredWhenTheFileHasDatabases) {
    Config c = expect_config(load_string(kDatabase, "s.toml", env_of({{"DATABASE_URL", "postgres://other/x"}})));
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].name, "app");
}

TEST(DatabaseUrlEnv, BadValueIsReported) {
    auto errors = expect_errors(load_string("", "s.toml", env_of({{"DATABASE_URL", "mysql://x"}})));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(),
              "environment: DATABASE_URL: invalid URL: unsupported scheme \"mysql\" (expected postgres:// or postgresql://)");
}

TEST(DatabaseUrlEnv, FromDatabaseUrl) {
    Config c = expect_config(from_database_url("postgres://u:secret@h:5433/appdb", "DATABASE_URL"));
    EXPECT_EQ(c.source, "DATABASE_URL");
    EXPECT_EQ(c.auth.method, AuthMethod::Trust);
    ASSERT_EQ(c.databases.size(), 1u);
    EXPECT_EQ(c.databases[0].name, "appdb");
    EXPECT_EQ(c.databases[0].upstream.password, "secret");
    EXPECT_EQ(c.databases[0].upstream.hosts, (std::vector<HostPort>{{"h", 5433}}));
    EXPECT_EQ(c.databases[0].pool.size, PoolSettings{}.size);

    c = expect_config(from_database_url("postgresql://h", "command line"));
    EXPECT_EQ(c.databases[0].name, "postgres");

    auto errors = expect_errors(from_database_url("postgres://u:secret@h:x/db", "DATABASE_URL"));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_EQ(errors[0].to_string(), "DATABASE_URL: invalid URL: invalid port \"x\" (expected a number from 1 to 65535)");
}

// --- Files -------------------------------------------------------------------------------------

class TempDir : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() /
               ("sluice-config-test-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        std::filesystem::create_directories(dir_);
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }
    std::string write(const std::string& name, std::string_view content) {
        std::filesystem::path path = dir_ / name;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << content;
        return path.string();
    }
    std::filesystem::path dir_;
};

using LoadFile = TempDir;

TEST_F(LoadFile, ReadsAFile) {
    std::string path = write("sluice.toml", with_database("[listen]\nport = 7000\n"));
    Config c = expect_config(load_file(path, no_env()));
    EXPECT_EQ(c.source, path);
    EXPECT_EQ(c.listen.port, 7000);
}

TEST_F(LoadFile, MissingFile) {
    auto errors = expect_errors(load_file((dir_ / "nope.toml").string(), no_env()));
    ASSERT_EQ(errors.size(), 1u);
    EXPECT_NE(errors[0].to_string().find("nope.toml: cannot read file: No such file or directory"), std::string::npos)
        << errors[0].to_string();
}

TEST_F(LoadFile, UsersFileRelativeToTheConfig) {
    write("secrets/users.toml", R"toml(
[[users]]
name = "alice"
password = "${ALICE_PASSWORD}"
pool_size = 3

[[users]]
name = "bob"
password = "md5aabbccddeeff00112233445566778899"
)toml");
    std::string path = write("conf/sluice.toml", with_database(R"toml([auth]
method = "md5"
users_file = "../secrets/users.toml"
[[auth.users]]
name = "app"
password = "inline"
)toml"));
    Config c = expect_config(load_file(path, env_of({{"ALICE_PASSWORD", "wonderland"}})));
    EXPECT_EQ(c.auth.users_file, "../secrets/users.toml");
    ASSERT_EQ(c.auth.users.size(), 3u);
    EXPECT_EQ(c.auth.users[0].name, "app");
    EXPECT_EQ(c.auth.users[1].name, "alice");
    EXPECT_EQ(c.auth.users[1].password, "wonderland");
    EXPECT_EQ(c.auth.users[1].pool_size, 3u);
    EXPECT_EQ(c.auth.users[2].name, "bob");
}

TEST_F(LoadFile, UsersFileErrorsPointIntoIt) {
    std::string users = write("users.toml", "[[users]]\nname = \"app\"\npasword = \"x\"\n\n[[users]]\nname = \"app\"\npassword = \"${NOPE}\"\n");
    std::string path = write("sluice.toml", with_database("[auth]\nmethod = \"trust\"\nusers_file = \"users.toml\"\n"));
    auto errors = expect_errors(load_file(path, no_env()));
    ASSERT_EQ(errors.size(), 3u) << describe(errors);
    const std::string normal = std::filesystem::path(users).lexically_normal().string();
    EXPECT_EQ(errors[0].file, normal);
    EXPECT_EQ(errors[0].line, 3);
    EXPECT_EQ(errors[0].key, "users[0].pasword");
    EXPECT_NE(errors[0].reason.find("did you mean 'password'?"), std::string::npos);
    EXPECT_EQ(errors[1].line, 6);
    EXPECT_EQ(errors[1].key, "users[1].name");
    EXPECT_NE(errors[1].reason.find("duplicate user"), std::string::npos);
    EXPECT_EQ(errors[2].line, 7);
    EXPECT_EQ(errors[2].key, "users[1].password");
    EXPECT_NE(errors[2].reason.find("NOPE"), std::string::npos);
}

TEST_F(LoadFile, UsersFileMissingOrBroken) {
    std::string path = write("sluice.toml", with_database("[auth]\nusers_file = \"missing.toml\"\n"));
    auto errors = expect_errors(load_file(path, no_env()));
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_EQ(errors[0].line, 2);
    EXPECT_EQ(errors[0].key, "auth.users_file");
    EXPECT_NE(errors[0].reason.find("cannot read users file"), std::string::npos);

    std::string users = write("broken.toml", "[[users]\n");
    path = write("sluice2.toml", with_database("[auth]\nusers_file = \"broken.toml\"\n"));
    errors = expect_errors(load_file(path, no_env()));
    ASSERT_EQ(errors.size(), 1u) << describe(errors);
    EXPECT_EQ(errors[0].file, users);
    EXPECT_EQ(errors[0].line, 1);
    EXPECT_NE(errors[0].reason.find("TOML syntax error"), std::string::npos);
}


// TLS settings that cannot work fail at load, naming the key and the reason, never at the first
// connection (and never as plaintext).
TEST(UpstreamTls, UnusableSettingsAreRefusedAtLoad) {
    const std::pair<const char*, const char*> cases[] = {
        {"postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem", "sslrootcert: cannot read \"/nonexistent/ca.pem\""},
        {"postgres://h/db?sslmode=disable&channel_binding=require", "channel_binding=require needs TLS"},
        {"postgres://h/db?sslmode=require&sslkey=/k.pem", "sslkey needs sslcert"},
        {"postgres://h/db?channel_binding=maybe", "invalid channel_binding \"maybe\""},
    };
    for (const auto& [url, reason] : cases) {
        auto result = load_string(std::string("[[databases]]\nname = \"d\"\nurl = \"") + url + "\"\n", "tls.toml",
                                  env_of({}));
        auto* errors = std::get_if<std::vector<ConfigError>>(&result);
        ASSERT_NE(errors, nullptr) << url;
        ASSERT_EQ(errors->size(), 1u) << url;
        EXPECT_NE((*errors)[0].to_string().find("tls.toml:3:"), std::string::npos) << (*errors)[0].to_string();
        EXPECT_NE((*errors)[0].to_string().find("databases[0].url"), std::string::npos);
        EXPECT_NE((*errors)[0].reason.find(reason), std::string::npos) << (*errors)[0].reason;
    }
}

TEST(UpstreamTls, EverySslModeLoads) {
    for (const char* mode : {"disable", "allow", "prefer", "require", "verify-ca", "verify-full"}) {
        auto result = from_database_url(std::string("postgres://u:p@h/db?channel_binding=require&sslrootcert=system&sslmode=") + mode,
                                        "DATABASE_URL");
        if (std::string_view(mode) == "disable") {
            EXPECT_TRUE(std::holds_alternative<std::vector<ConfigError>>(result));  // binding needs TLS
            continue;
        }
        ASSERT_TRUE(std::holds_alternative<Config>(result)) << mode;
        EXPECT_EQ(std::get<Config>(result).databases.at(0).upstream.channel_binding, ChannelBinding::Require);
    }
}

}  // namespace
}  // namespace sluice::config
