// The valid/invalid corpus (Odyssey's config-validation idea): every file in data/valid loads,
// every file in data/invalid fails with the error its first line names:
//   # expect: <substring of ConfigError::to_string()>
// Also loads examples/sluice.toml, which must stay valid.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "config/keys.hpp"
#include "config/load.hpp"
#include "config_test_support.hpp"

namespace sluice::config {
namespace {

const std::filesystem::path kTestsDir = SLUICE_TEST_DATA_DIR;
const std::filesystem::path kDataDir = kTestsDir / "unit" / "config" / "data";

EnvLookup corpus_env() {
    return test::env_of({{"APP_PASSWORD", "app-secret"}, {"DB_PASSWORD", "p@ss/w:rd%"}});
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
    std::vector<std::filesystem::path> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir))
        if (entry.path().extension() == ".toml") files.push_back(entry.path());
    std::sort(files.begin(), files.end());
    return files;
}

std::string first_line(const std::filesystem::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    return line;
}

TEST(ConfigCorpus, ValidFilesLoad) {
    auto files = files_in(kDataDir / "valid");
    ASSERT_GE(files.size(), 5u);
    for (const auto& path : files) {
        SCOPED_TRACE(path.filename().string());
        test::expect_config(load_file(path.string(), corpus_env()));
    }
}

TEST(ConfigCorpus, InvalidFilesFailWithTheExpectedError) {
    auto files = files_in(kDataDir / "invalid");
    ASSERT_GE(files.size(), 5u);
    constexpr std::string_view kPrefix = "# expect: ";
    for (const auto& path : files) {
        SCOPED_TRACE(path.filename().string());
        std::string header = first_line(path);
        ASSERT_TRUE(header.starts_with(kPrefix)) << "first line must be \"# expect: ...\"";
        std::string expected = path.string() + header.substr(kPrefix.size());
        std::vector<ConfigError> errors = test::expect_errors(load_file(path.string(), corpus_env()));
        ASSERT_EQ(errors.size(), 1u) << test::describe(errors);
        EXPECT_EQ(errors[0].to_string().rfind(expected, 0), 0u)
            << "expected: " << expected << "...\n     got: " << errors[0].to_string();
    }
}

TEST(ConfigCorpus, ExampleConfigLoads) {
    const auto path = kTestsDir.parent_path() / "examples" / "sluice.toml";
    Config c = test::expect_config(load_file(path.string(), corpus_env()));
    ASSERT_EQ(c.databases.size(), 3u);
    EXPECT_EQ(c.databases[0].upstream.password, "p@ss/w:rd%");
    EXPECT_EQ(c.databases[1].pool.mode, PoolMode::Session);
    EXPECT_EQ(c.databases[2].upstream.hosts, (std::vector<HostPort>{{"/var/run/postgresql", 5432}}));
    ASSERT_EQ(c.auth.users.size(), 2u);
    EXPECT_EQ(c.auth.users[0].password, "app-secret");
}

TEST(ConfigCorpus, ExampleConfigSetsOnlyDefaultsOutsideItsComments) {
    // The example's [pool], [timeouts], [listen] and [logging] values are documented as the
    // defaults: keep them equal to config/model.hpp.
    const auto path = kTestsDir.parent_path() / "examples" / "sluice.toml";
    Config c = test::expect_config(load_file(path.string(), corpus_env()));
    const Config defaults;
    EXPECT_EQ(c.listen.address, defaults.listen.address);
    EXPECT_EQ(c.listen.port, defaults.listen.port);
    EXPECT_EQ(c.listen.workers, defaults.listen.workers);
    EXPECT_EQ(c.listen.max_client_connections, defaults.listen.max_client_connections);
    EXPECT_EQ(c.auth.method, defaults.auth.method);
    const PoolSettings& p = c.pool;
    const PoolSettings& d = defaults.pool;
    EXPECT_EQ(p.mode, d.mode);
    EXPECT_EQ(p.size, d.size);
    EXPECT_EQ(p.min_size, d.min_size);
    EXPECT_EQ(p.reserve_size, d.reserve_size);
    EXPECT_EQ(p.reserve_timeout, d.reserve_timeout);
    EXPECT_EQ(p.max_db_connections, d.max_db_connections);
    EXPECT_EQ(p.max_user_connections, d.max_user_connections);
    EXPECT_EQ(p.server_idle_timeout, d.server_idle_timeout);
    EXPECT_EQ(p.server_lifetime, d.server_lifetime);
    EXPECT_EQ(p.server_check_delay, d.server_check_delay);
    EXPECT_EQ(p.server_connect_timeout, d.server_connect_timeout);
    EXPECT_EQ(p.server_retry_delay, d.server_retry_delay);
    EXPECT_EQ(p.server_retry_max, d.server_retry_max);
    EXPECT_EQ(p.max_prepared_statements, d.max_prepared_statements);
    EXPECT_EQ(p.session_state, d.session_state);
    EXPECT_EQ(c.timeouts.query_wait, defaults.timeouts.query_wait);
    EXPECT_EQ(c.timeouts.client_login, defaults.timeouts.client_login);
    EXPECT_EQ(c.timeouts.statement, defaults.timeouts.statement);
    EXPECT_EQ(c.timeouts.transaction, defaults.timeouts.transaction);
    EXPECT_EQ(c.timeouts.idle_in_transaction, defaults.timeouts.idle_in_transaction);
    EXPECT_EQ(c.timeouts.client_idle, defaults.timeouts.client_idle);
    EXPECT_EQ(c.timeouts.cancel_grace, defaults.timeouts.cancel_grace);
    EXPECT_TRUE(c.timeouts.overrides.empty());
    EXPECT_EQ(c.logging.level, defaults.logging.level);
    EXPECT_EQ(c.logging.log_connections, defaults.logging.log_connections);
}

TEST(ConfigCorpus, EveryKeyIsDocumentedAndInTheExample) {
    std::ifstream doc_in(kTestsDir.parent_path() / "docs" / "configuration.md");
    ASSERT_TRUE(doc_in) << "docs/configuration.md is missing";
    std::string doc((std::istreambuf_iterator<char>(doc_in)), std::istreambuf_iterator<char>());
    std::ifstream example_in(kTestsDir.parent_path() / "examples" / "sluice.toml");
    std::string example((std::istreambuf_iterator<char>(example_in)), std::istreambuf_iterator<char>());
    for (const KeyInfo& key : known_keys()) {
        std::string name(key.name);
        SCOPED_TRACE(std::string(key.section) + "." + name);
        if (key.section.empty()) {
            // A section: a heading "## `[name]`" or "## `[[name]]`".
            EXPECT_TRUE(doc.find("## `[" + name + "]`") != std::string::npos ||
                        doc.find("## `[[" + name + "]]`") != std::string::npos);
        } else {
            // A key: a table row "| `name` |".
            EXPECT_NE(doc.find("| `" + name + "` |"), std::string::npos);
        }
        if (!key.default_value.empty() && key.type != "table") {
            // Appended, not "`" + std::string(...): g++ 12 at -O3 reports a false -Wrestrict
            // overlap in that operator+ (GCC bug 105651).
            EXPECT_NE(doc.find(std::string("`").append(key.default_value).append("`")), std::string::npos);
        }
        EXPECT_NE(example.find(name), std::string::npos);
    }
}

}  // namespace
}  // namespace sluice::config
