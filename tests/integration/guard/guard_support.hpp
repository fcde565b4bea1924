#pragma once
// Helpers of the query-guard tests (issue 11): a sluice with [guard] lines, the fixture schema the
// blocked statements aim at, and a fingerprint of it read over a direct connection.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "protocol/error_fields.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing::guard {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Trust auth (postgres too, for DDL the allowed cases run) and `guard` as the [guard] section's
// lines, plus more sections in `extra`.
inline SluiceConfig guard_config(const std::string& guard, const std::string& extra = {}) {
    auto c = SluiceConfig::trust();
    c.users.push_back({std::string(kSuperuser.user), {}});
    c.pool_size = 4;
    c.extra_toml = "[guard]\n" + guard + extra;
    return c;
}

// A fresh schema g: accounts (5 rows) and scratch tables the allowed cases may change.
inline void reset_fixture() {
    pg().exec_superuser(
        "DROP SCHEMA IF EXISTS g CASCADE; CREATE SCHEMA g; GRANT ALL ON SCHEMA g TO PUBLIC;"
        "CREATE TABLE g.accounts (id int PRIMARY KEY, name text, balance int);"
        "INSERT INTO g.accounts SELECT i, 'a' || i, i * 10 FROM generate_series(1, 5) i;"
        "CREATE TABLE g.scratch (id int, v text); INSERT INTO g.scratch VALUES (1, 'x'), (2, 'y');"
        "GRANT ALL ON ALL TABLES IN SCHEMA g TO PUBLIC;"
        "CREATE FUNCTION g.wipe_scratch() RETURNS void LANGUAGE sql AS 'DELETE FROM g.scratch';"
        "CREATE PROCEDURE g.wipe_scratch_proc() LANGUAGE sql AS 'DELETE FROM g.scratch'");
}

// What a blocked statement must leave as it was: tables, columns and rows of schema g, read directly.
inline std::string fixture_state() {
    auto rows = pg().exec_superuser(
        "SELECT string_agg(table_name || '.' || column_name, ',' ORDER BY table_name, column_name) || ' / ' ||"
        " (SELECT string_agg(id || ':' || name || ':' || balance, ',' ORDER BY id) FROM g.accounts)"
        " FROM information_schema.columns WHERE table_schema = 'g'");
    return rows.empty() || rows[0].empty() ? "" : rows[0][0];
}

inline std::string field(const protocol::ErrorFields& e, protocol::ErrorField f) {
    auto v = e.get(f);
    return v ? std::string(*v) : std::string();
}

// The client got sluice's block for `rule`: 42501, the message naming the rule, a detail and a hint.
inline void expect_blocked(const QueryResult& r, std::string_view rule, const std::string& sql) {
    ASSERT_TRUE(r.error) << "ran although a rule should block it: " << sql;
    EXPECT_EQ(r.sqlstate(), "42501") << sql << ": " << r.error->message();
    EXPECT_EQ(r.error->message(), "statement blocked by sluice rule \"" + std::string(rule) + "\"") << sql;
    EXPECT_FALSE(field(*r.error, protocol::ErrorField::Detail).empty()) << sql;
    EXPECT_FALSE(field(*r.error, protocol::ErrorField::Hint).empty()) << sql;
}

inline std::string read_file(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// A temp file path (the file itself is sluice's to create).
inline fs::path temp_path(std::string_view name) {
    return fs::temp_directory_path() / (std::string(name) + "-" + std::to_string(::getpid()) + "-" +
                                        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count()));
}

}  // namespace sluice::testing::guard
