#include "config/load.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>

#include "config/database_url.hpp"
#include "config/key_tables.hpp"
#include "config/secret_format.hpp"

namespace sluice::config {
namespace {

constexpr std::string_view kDatabaseUrlVariable = "DATABASE_URL";
constexpr std::string_view kDefaultDatabaseName = "postgres";

// Where a user entry came from, for validation errors that point into users_file.
struct UserOrigin {
    std::string file;
    const toml::table* root = nullptr;
    std::string key;  // "auth.users[2]" or "users[0]"
};

struct LoadState {
    std::string source;
    const EnvLookup& env;
    std::vector<ConfigError> errors;
    std::vector<UserOrigin> user_origins;  // parallel to config.auth.users
    toml::table users_root;                // users_file contents, kept for error positions
};

// Config and users files are small; the cap (and regular files only) keeps a path like
// /dev/zero or a FIFO from hanging the loader.
constexpr std::uintmax_t kMaxFileBytes = 16u << 20;

std::optional<std::string> read_whole_file(const std::string& path, std::string& error) {
    std::error_code ec;
    auto status = std::filesystem::status(path, ec);
    if (ec) {
        error = ec.message();
        return std::nullopt;
    }
    if (!std::filesystem::is_regular_file(status)) {
        error = "not a regular file";
        return std::nullopt;
    }
    std::FILE* file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
        error = std::strerror(errno);
        return std::nullopt;
    }
    std::string content;
    char buffer[8192];
    std::size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, file)) > 0) {
        content.append(buffer, n);
        if (content.size() > kMaxFileBytes) break;
    }
    bool failed = std::ferror(file) != 0;
    std::fclose(file);
    if (failed) {
        error = "read error";
        return std::nullopt;
    }
    if (content.size() > kMaxFileBytes) {
        error = "larger than 16 MiB";
        return std::nullopt;
    }
    return content;
}

// Parses TOML, turning a syntax error into a ConfigError at toml++'s line and column.
std::optional<toml::table> parse_toml(std::string_view text, const std::string& source,
                                      std::vector<ConfigError>& errors) {
    try {
        return toml::parse(text, source);
    } catch (const toml::parse_error& e) {
        errors.push_back(ConfigError{source, static_cast<int>(e.source().begin.line),
                                     static_cast<int>(e.source().begin.column), "",
                                     "TOML syntax error: " + std::string(e.description())});
        return std::nullopt;
    }
}

// The position of `key` in `root`, or of its nearest existing parent.
toml::source_region position_of(const toml::table& root, std::string key) {
    for (;;) {
        if (key.empty()) return root.source();
        if (const toml::node* node = root.at_path(key).node()) return node->source();
        std::size_t cut = key.find_last_of(".[");
        key.resize(cut == std::string::npos ? 0 : cut);
    }
}

ConfigError error_at(const std::string& file, const toml::table& root, const std::string& key, std::string reason) {
    toml::source_region where = position_of(root, key);
    return ConfigError{file, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column), key,
                       std::move(reason)};
}

void load_users_file(LoadState& state, const toml::table& root, Config& config) {
    const std::string& given = config.auth.users_file;
    std::filesystem::path path(given);
    if (path.is_relative()) path = std::filesystem::path(state.source).parent_path() / path;
    std::string file = path.lexically_normal().string();

    std::string read_error;
    auto text = read_whole_file(file, read_error);
    if (!text) {
        state.errors.push_back(error_at(state.source, root, "auth.users_file",
                                        "cannot read users file \"" + file + "\": " + read_error));
        return;
    }
    auto users_root = parse_toml(*text, file, state.errors);
    if (!users_root) return;
    state.users_root = std::move(*users_root);

    NodeReader reader(file, state.env, state.errors);
    UsersFile users;
    read_section<UsersFile>(reader, state.users_root, "", users_file_keys(), users);
    for (std::size_t i = 0; i < users.users.size(); ++i) {
        state.user_origins.push_back(UserOrigin{file, &state.users_root, index_key("users", i)});
        config.auth.users.push_back(std::move(users.users[i]));
    }
}

Database database_from_url(const UpstreamUrl& upstream, const PoolSettings& pool) {
    Database database;
    database.name = upstream.database.value_or(std::string(kDefaultDatabaseName));
    database.upstream = upstream;
    database.pool = pool;
    return database;
}

// For a database's `pool = {...}` override, a rule is checked only when the override sets one of
// its keys: a bad [pool] is reported once, there.
void check_pool(const PoolSettings& pool, const std::string& file, const toml::table& root, const std::string& key,
                bool is_override, std::vector<ConfigError>& errors) {
    auto involved = [&](std::initializer_list<std::string_view> names) {
        if (!is_override) return true;
        for (std::string_view name : names)
            if (root.at_path(join_key(key, name)).node() != nullptr) return true;
        return false;
    };
    if (pool.min_size > pool.size && involved({"min_size", "size"})) {
        errors.push_back(error_at(file, root, key + ".min_size",
                                  "min_size (" + std::to_string(pool.min_size) + ") must not exceed size (" +
                                      std::to_string(pool.size) + ")"));
    }
    if (pool.server_retry_delay > pool.server_retry_max && involved({"server_retry_delay", "server_retry_max"})) {
        errors.push_back(error_at(file, root, key + ".server_retry_delay",
                                  "server_retry_delay must not exceed server_retry_max"));
    }
}

std::string_view method_name(AuthMethod method) {
    switch (method) {
        case AuthMethod::Trust: return "trust";
        case AuthMethod::Md5: return "md5";
        case AuthMethod::ScramSha256: return "scram-sha-256";
    }
    return "?";
}

void check_users(const Config& config, const LoadState& state, std::vector<ConfigError>& errors) {
    std::map<std::string, std::size_t, std::less<>> first_seen;
    const bool needs_secret = config.auth.method != AuthMethod::Trust && !config.auth.auth_query;
    for (std::size_t i = 0; i < config.auth.users.size(); ++i) {
        const User& user = config.auth.users[i];
        const UserOrigin& origin = state.user_origins[i];
        if (user.name.empty()) continue;  // already reported
        auto [it, inserted] = first_seen.emplace(user.name, i);
        if (!inserted) {
            const UserOrigin& first = state.user_origins[it->second];
            int line = static_cast<int>(position_of(*first.root, first.key).begin.line);
            errors.push_back(error_at(origin.file, *origin.root, origin.key + ".name",
                                      "duplicate user \"" + user.name + "\" (first defined at " + first.file + ":" +
                                          std::to_string(line) + ")"));
        }
        const std::string password_key = origin.key + ".password";
        SecretCheck secret = classify_secret(user.password);
        switch (secret.format) {
            case SecretFormat::None:
                // A password key that failed to read (say, a missing ${VAR}) was reported already.
                if (needs_secret && origin.root->at_path(password_key).node() == nullptr) {
                    errors.push_back(error_at(origin.file, *origin.root, origin.key,
                                              "user \"" + user.name + "\" has no password, but auth.method is \"" +
                                                  std::string(method_name(config.auth.method)) +
                                                  "\" (give a password, or set [auth.auth_query])"));
                }
                break;
            case SecretFormat::MalformedScram:
                errors.push_back(error_at(origin.file, *origin.root, password_key,
                                          "malformed SCRAM secret: " + secret.problem +
                                              " (expected SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>)"));
                break;
            case SecretFormat::Md5:
                if (config.auth.method == AuthMethod::ScramSha256) {
                    errors.push_back(error_at(origin.file, *origin.root, password_key,
                                              "an md5 secret cannot check scram-sha-256 logins (give the plain "
                                              "password or a SCRAM-SHA-256 secret, or set auth.method = \"md5\")"));
                }
                break;
            case SecretFormat::Plain:
            case SecretFormat::Scram:
                break;
        }
    }
}

void check_databases(const Config& config, const std::string& file, const toml::table& root,
                     std::vector<ConfigError>& errors) {
    std::map<std::string, std::size_t, std::less<>> first_seen;
    for (std::size_t i = 0; i < config.databases.size(); ++i) {
        const Database& database = config.databases[i];
        const std::string key = index_key("databases", i);
        if (!database.name.empty()) {
            auto [it, inserted] = first_seen.emplace(database.name, i);
            if (!inserted) {
                int line = static_cast<int>(position_of(root, index_key("databases", it->second)).begin.line);
                errors.push_back(error_at(file, root, key + ".name",
                                          "duplicate database \"" + database.name + "\" (first defined at line " +
                                              std::to_string(line) + ")"));
            }
        }
        if (root.at_path(key + ".pool").node() != nullptr) {
            check_pool(database.pool, file, root, key + ".pool", true, errors);
        }
    }
}

LoadResult load_text(std::string_view text, const std::string& source, const EnvLookup& env) {
    LoadState state{source, env, {}, {}, {}};
    auto root = parse_toml(text, source, state.errors);
    if (!root) return std::move(state.errors);

    Config config;
    config.source = source;
    NodeReader reader(source, env, state.errors);
    read_section<Config>(reader, *root, "", config_keys(), config);
    for (std::size_t i = 0; i < config.auth.users.size(); ++i) {
        state.user_origins.push_back(UserOrigin{source, &*root, index_key("auth.users", i)});
    }
    if (!config.auth.users_file.empty()) load_users_file(state, *root, config);

    if (!root->contains("databases")) {
        std::optional<std::string> url = env ? env(kDatabaseUrlVariable) : std::nullopt;
        if (url && !url->empty()) {
            auto parsed = parse_database_url(*url);
            if (auto* error = std::get_if<std::string>(&parsed)) {
                state.errors.push_back(ConfigError{"environment", 0, 0, std::string(kDatabaseUrlVariable),
                                                   "invalid URL: " + *error});
            } else if (auto why = upstream_tls_problem(std::get<UpstreamUrl>(parsed))) {
                state.errors.push_back(ConfigError{"environment", 0, 0, std::string(kDatabaseUrlVariable), *why});
            } else {
                config.databases.push_back(database_from_url(std::get<UpstreamUrl>(parsed), config.pool));
            }
        } else {
            state.errors.push_back(ConfigError{source, 0, 0, "databases",
                                               "no databases configured (add a [[databases]] section, or set "
                                               "DATABASE_URL in the environment)"});
        }
    } else if (config.databases.empty() && state.errors.empty()) {
        state.errors.push_back(error_at(source, *root, "databases", "at least one database is required"));
    }

    check_pool(config.pool, source, *root, "pool", false, state.errors);
    check_databases(config, source, *root, state.errors);
    check_users(config, state, state.errors);

    if (!state.errors.empty()) {
        // Files in the order first mentioned, then by position: the order a reader fixes them in.
        std::vector<std::string> files;
        for (const auto& e : state.errors)
            if (std::find(files.begin(), files.end(), e.file) == files.end()) files.push_back(e.file);
        auto rank = [&files](const ConfigError& e) {
            return std::find(files.begin(), files.end(), e.file) - files.begin();
        };
        std::stable_sort(state.errors.begin(), state.errors.end(), [&rank](const ConfigError& a, const ConfigError& b) {
            return std::tuple(rank(a), a.line == 0, a.line, a.column) < std::tuple(rank(b), b.line == 0, b.line, b.column);
        });
        return std::move(state.errors);
    }
    return config;
}

}  // namespace

std::string ConfigError::to_string() const {
    std::string out = file;
    if (line > 0) {
        out += ':' + std::to_string(line);
        if (column > 0) out += ':' + std::to_string(column);
    }
    out += ": ";
    if (!key.empty()) out += key + ": ";
    out += reason;
    return out;
}

EnvLookup process_env() {
    return [](std::string_view name) -> std::optional<std::string> {
        const char* value = std::getenv(std::string(name).c_str());
        if (value == nullptr) return std::nullopt;
        return std::string(value);
    };
}

LoadResult load_file(const std::string& path, const EnvLookup& env) {
    std::string error;
    auto text = read_whole_file(path, error);
    if (!text) return std::vector<ConfigError>{ConfigError{path, 0, 0, "", "cannot read file: " + error}};
    return load_text(*text, path, env);
}

LoadResult load_string(std::string_view toml, const std::string& source_name, const EnvLookup& env) {
    return load_text(toml, source_name, env);
}

LoadResult from_database_url(std::string_view url, const std::string& source_name) {
    auto parsed = parse_database_url(url);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        return std::vector<ConfigError>{ConfigError{source_name, 0, 0, "", "invalid URL: " + *error}};
    }
    if (auto why = upstream_tls_problem(std::get<UpstreamUrl>(parsed)))
        return std::vector<ConfigError>{ConfigError{source_name, 0, 0, "", *why}};
    Config config;
    config.source = source_name;
    // The URL holds the server credentials; sluice itself asks clients for none (see load.hpp), so
    // only this machine may connect unless the operator says otherwise (--listen).
    config.auth.method = AuthMethod::Trust;
    config.listen.address = "127.0.0.1";
    config.databases.push_back(database_from_url(std::get<UpstreamUrl>(parsed), config.pool));
    return config;
}

}  // namespace sluice::config
