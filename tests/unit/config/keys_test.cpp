#include "config/keys.hpp"

#include <gtest/gtest.h>

#include <set>

#include "config_test_support.hpp"

namespace sluice::config {
namespace {

// A TOML value for a documented default.
std::string toml_value(const KeyInfo& key) {
    if (key.type == "integer" || key.type == "boolean" || key.type == "array of strings")
        return std::string(key.default_value);
    std::string out = "\"";
    for (char c : key.default_value) {
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    return out + "\"";
}

TEST(Keys, DocumentedDefaultsAreTheModelDefaults) {
    // Write every documented default into a file; loading it must give exactly Config{}'s values.
    std::string toml;
    std::string section = "-";
    for (const KeyInfo& key : known_keys()) {
        if (key.default_value.empty() || key.section.empty() || key.section == "databases") continue;
        if (key.section != section) {
            section = std::string(key.section);
            toml += "[" + section + "]\n";
            if (section == "auth.auth_query") toml += "user = \"someone\"\n";
        }
        toml += std::string(key.name) + " = " + toml_value(key) + "\n";
    }
    toml += "[[databases]]\nname = \"app\"\nurl = \"postgres://h/app\"\n";
    Config c = test::expect_config(load_string(toml, "defaults.toml", test::no_env()));
    const Config d;
    EXPECT_EQ(c.listen.address, d.listen.address);
    EXPECT_EQ(c.listen.port, d.listen.port);
    EXPECT_EQ(c.listen.workers, d.listen.workers);
    EXPECT_EQ(c.listen.max_client_connections, d.listen.max_client_connections);
    EXPECT_EQ(c.auth.method, d.auth.method);
    ASSERT_TRUE(c.auth.auth_query);
    EXPECT_EQ(c.auth.auth_query->query, AuthQuery{}.query);
    EXPECT_EQ(c.auth.auth_query->cache_ttl, AuthQuery{}.cache_ttl);
    EXPECT_EQ(c.pool.mode, d.pool.mode);
    EXPECT_EQ(c.pool.size, d.pool.size);
    EXPECT_EQ(c.pool.min_size, d.pool.min_size);
    EXPECT_EQ(c.pool.reserve_size, d.pool.reserve_size);
    EXPECT_EQ(c.pool.reserve_timeout, d.pool.reserve_timeout);
    EXPECT_EQ(c.pool.max_db_connections, d.pool.max_db_connections);
    EXPECT_EQ(c.pool.max_user_connections, d.pool.max_user_connections);
    EXPECT_EQ(c.pool.server_idle_timeout, d.pool.server_idle_timeout);
    EXPECT_EQ(c.pool.server_lifetime, d.pool.server_lifetime);
    EXPECT_EQ(c.pool.server_check_delay, d.pool.server_check_delay);
    EXPECT_EQ(c.pool.server_connect_timeout, d.pool.server_connect_timeout);
    EXPECT_EQ(c.pool.server_retry_delay, d.pool.server_retry_delay);
    EXPECT_EQ(c.pool.server_retry_max, d.pool.server_retry_max);
    EXPECT_EQ(c.pool.max_prepared_statements, d.pool.max_prepared_statements);
    EXPECT_EQ(c.client_tls.mode, d.client_tls.mode);
    EXPECT_EQ(c.client_tls.client_cert, d.client_tls.client_cert);
    EXPECT_EQ(c.client_tls.min_protocol, d.client_tls.min_protocol);
    EXPECT_EQ(c.pool.session_state, d.pool.session_state);
    EXPECT_EQ(c.timeouts.query_wait, d.timeouts.query_wait);
    EXPECT_EQ(c.timeouts.client_login, d.timeouts.client_login);
    EXPECT_EQ(c.timeouts.client_write, d.timeouts.client_write);
    EXPECT_EQ(c.timeouts.server_write, d.timeouts.server_write);
    EXPECT_EQ(c.timeouts.statement, d.timeouts.statement);
    EXPECT_EQ(c.timeouts.transaction, d.timeouts.transaction);
    EXPECT_EQ(c.timeouts.idle_in_transaction, d.timeouts.idle_in_transaction);
    EXPECT_EQ(c.timeouts.client_idle, d.timeouts.client_idle);
    EXPECT_EQ(c.timeouts.cancel_grace, d.timeouts.cancel_grace);
    EXPECT_TRUE(c.timeouts.overrides.empty());
    EXPECT_EQ(c.guard.mode, d.guard.mode);
    EXPECT_EQ(c.guard.rules, d.guard.rules);
    EXPECT_EQ(c.guard.unparsable, d.guard.unparsable);
    EXPECT_EQ(c.guard.audit_log, d.guard.audit_log);
    EXPECT_EQ(c.guard.audit_statement_max, d.guard.audit_statement_max);
    EXPECT_TRUE(c.guard.overrides.empty());
    EXPECT_EQ(c.tcp.keepalive, d.tcp.keepalive);
    EXPECT_EQ(c.tcp.keepalive_idle, d.tcp.keepalive_idle);
    EXPECT_EQ(c.tcp.keepalive_interval, d.tcp.keepalive_interval);
    EXPECT_EQ(c.tcp.keepalive_count, d.tcp.keepalive_count);
    EXPECT_EQ(c.logging.level, d.logging.level);
    EXPECT_EQ(c.logging.log_connections, d.logging.log_connections);
}

TEST(Keys, TheKeyList) {
    std::set<std::string> keys;
    for (const KeyInfo& key : known_keys()) {
        EXPECT_FALSE(key.doc.empty()) << key.name;
        EXPECT_FALSE(key.type.empty()) << key.name;
        std::string path = key.section.empty() ? std::string(key.name) : std::string(key.section) + "." + std::string(key.name);
        EXPECT_TRUE(keys.insert(path).second) << "listed twice: " << path;
    }
    const std::set<std::string> expected{
        "listen", "auth", "pool", "timeouts", "guard", "tcp", "logging", "databases",
        "listen.address", "listen.port", "listen.workers", "listen.max_client_connections", "listen.nice",
        "auth.method", "auth.users", "auth.users_file", "auth.auth_query",
        "auth.users.name", "auth.users.password", "auth.users.pool_size", "auth.users.max_connections",
        "auth.users.session_state",
        "auth.auth_query.query", "auth.auth_query.user", "auth.auth_query.password", "auth.auth_query.cache_ttl",
        "pool.mode", "pool.size", "pool.min_size", "pool.reserve_size", "pool.reserve_timeout",
        "pool.max_db_connections", "pool.max_user_connections", "pool.server_idle_timeout", "pool.server_lifetime",
        "pool.server_check_delay", "pool.server_connect_timeout", "pool.server_retry_delay", "pool.server_retry_max",
        "pool.max_prepared_statements", "pool.session_state",
        "timeouts.query_wait", "timeouts.client_login", "timeouts.client_write", "timeouts.server_write",
        "timeouts.statement", "timeouts.transaction", "timeouts.idle_in_transaction", "timeouts.client_idle",
        "timeouts.cancel_grace", "timeouts.override",
        "timeouts.override.database", "timeouts.override.user", "timeouts.override.application_name",
        "timeouts.override.statement", "timeouts.override.transaction", "timeouts.override.idle_in_transaction",
        "timeouts.override.client_idle", "timeouts.override.query_wait",
        "guard.mode", "guard.rules", "guard.unparsable", "guard.audit_log", "guard.audit_statement_max", "guard.hint",
        "guard.custom", "guard.custom.name", "guard.custom.statement", "guard.custom.table", "guard.custom.function",
        "guard.custom.fingerprint",
        "guard.override", "guard.override.database", "guard.override.user", "guard.override.application_name",
        "guard.override.mode", "guard.override.rules", "guard.override.allow", "guard.override.unparsable",
        "tcp.keepalive", "tcp.keepalive_idle", "tcp.keepalive_interval", "tcp.keepalive_count",
        "logging.level", "logging.log_connections",
        "client_tls", "client_tls.mode", "client_tls.cert_file", "client_tls.key_file", "client_tls.ca_file",
        "client_tls.client_cert", "client_tls.min_protocol", "client_tls.ciphers",
        "databases.name", "databases.url", "databases.pool", "databases.upstream_pooler",
    };
    EXPECT_EQ(keys, expected);
}

}  // namespace
}  // namespace sluice::config
