#include "proxy/session_params.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
#include <random>
#include <vector>

#include "protocol/ascii.hpp"
#include "protocol/sql/byte_masks.hpp"

namespace sluice::proxy {

using protocol::ascii_iequals;

namespace {

constexpr std::array<std::string_view, 6> kTrackedReported = {
    "client_encoding", "DateStyle", "TimeZone", "IntervalStyle", "standard_conforming_strings", "application_name"};

// Reported by the server but not settable by a client (or not meaningful to carry over).
constexpr std::array<std::string_view, 8> kServerOwned = {
    "server_version", "server_encoding", "is_superuser", "session_authorization", "integer_datetimes",
    "default_transaction_read_only", "in_hot_standby", "scram_iterations"};

}  // namespace

bool GucNameLess::operator()(std::string_view a, std::string_view b) const noexcept {
    return protocol::ascii_iless(a, b);
}

bool is_tracked_reported_param(std::string_view name) noexcept {
    return std::any_of(kTrackedReported.begin(), kTrackedReported.end(), [&](auto n) { return ascii_iequals(n, name); });
}

bool is_server_owned_param(std::string_view name) noexcept {
    return std::any_of(kServerOwned.begin(), kServerOwned.end(), [&](auto n) { return ascii_iequals(n, name); });
}

namespace {

// Whether `sql` may contain "ol" or 'z' (ASCII case-insensitively): every "role" has the one,
// every "authoriz" the other. Sixteen bytes a step, stride sixteen: each step also reads the byte
// after its block, so a pair may straddle two blocks.
#if defined(SLUICE_SQL_AVX2)
// The same with AVX2, for n >= 33: thirty-two bytes a step.
__attribute__((target("avx2"), noinline)) bool has_role_hint_avx2(const char* p, std::size_t n) noexcept {
    std::size_t i = 0;
    for (; i + 33 <= n; i += 32)
        if (sql::bytes::ol_or_z_mask32(p + i) != 0) return true;
    if (i + 1 < n && sql::bytes::ol_or_z_mask32(p + n - 33) != 0) return true;
    return (p[n - 1] | 0x20) == 'z';
}
#endif

bool has_role_hint(std::string_view sql) noexcept {
    const char* const p = sql.data();
    const std::size_t n = sql.size();
#if defined(SLUICE_SQL_AVX2)
    if (n >= 33 && sql::bytes::use_avx2()) return has_role_hint_avx2(p, n);
#endif
    if (n >= 17) {
        std::size_t i = 0;
        for (; i + 17 <= n; i += 16)
            if (sql::bytes::pair_or_byte_mask16(p + i, 'o', 'l', 'z') != 0) return true;
        // The rest: the text's last 17 bytes again (reading twice changes no answer), and the
        // last byte alone, which starts no pair.
        if (i + 1 < n && sql::bytes::pair_or_byte_mask16(p + n - 17, 'o', 'l', 'z') != 0) return true;
        return (p[n - 1] | 0x20) == 'z';
    }
    for (std::size_t i = 0; i < n; ++i) {
        const char c = static_cast<char>(p[i] | 0x20);
        if (c == 'z' || (c == 'o' && i + 1 < n && (p[i + 1] | 0x20) == 'l')) return true;
    }
    return false;
}

}  // namespace

bool may_change_role(std::string_view sql) noexcept {
    // Runs on every Query and Parse: a word-at-a-time prefilter, then the exact scan.
    if (!has_role_hint(sql)) return false;
    auto follows = [sql](std::size_t i, std::string_view rest) {
        if (sql.size() - i < rest.size()) return false;
        for (std::size_t k = 0; k < rest.size(); ++k)
            if ((sql[i + k] | 0x20) != rest[k]) return false;
        return true;
    };
    for (std::size_t i = 0; i < sql.size(); ++i) {
        char c = static_cast<char>(sql[i] | 0x20);
        if (c == 'r' && follows(i + 1, "ole")) return true;
        if (c == 'a' && follows(i + 1, "uthoriz")) return true;
    }
    return false;
}

bool is_startup_only_param(std::string_view name) noexcept {
    return ascii_iequals(name, "user") || ascii_iequals(name, "database") || ascii_iequals(name, "options") ||
           ascii_iequals(name, "replication") || name.starts_with("_pq_.");
}

StartupGucs startup_gucs(const protocol::StartupMessage& startup) {
    StartupGucs out;
    for (const auto& [name, value] : startup.parameters)
        if (!is_startup_only_param(name) && !is_server_owned_param(name)) out.values[name] = value;
    auto options = startup.get("options");
    if (!options) return out;
    // libpq splits "options" on unescaped whitespace; backslash escapes the next character.
    std::vector<std::string> words;
    std::string word;
    bool escaped = false;
    for (char c : *options) {
        if (escaped) {
            word.push_back(c);
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            if (!word.empty()) words.push_back(std::move(word));
            word.clear();
        } else {
            word.push_back(c);
        }
    }
    if (!word.empty()) words.push_back(std::move(word));
    for (std::size_t i = 0; i < words.size(); ++i) {
        std::string_view w = words[i];
        std::string setting;
        if (w == "-c" && i + 1 < words.size()) {
            setting = words[++i];
        } else if (w.starts_with("-c") && w.size() > 2) {
            setting = std::string(w.substr(2));
        } else if (w.starts_with("--") && w.size() > 2) {
            setting = std::string(w.substr(2));
        } else {
            out.error = "unsupported startup option \"" + std::string(w) +
                        "\": only -c name=value and --name=value are accepted";
            return out;
        }
        auto eq = setting.find('=');
        if (eq == std::string::npos || eq == 0) {
            out.error = "invalid startup option \"" + setting + "\": expected name=value";
            return out;
        }
        std::string name = setting.substr(0, eq);
        std::replace(name.begin(), name.end(), '-', '_');  // --search-path=x is search_path
        out.values[name] = setting.substr(eq + 1);
    }
    return out;
}

ParamMap initial_client_params(const ParamMap& pool_defaults, const ParamMap& startup) {
    ParamMap out;
    for (const auto& [name, value] : pool_defaults)
        if (is_tracked_reported_param(name)) out[name] = value;
    for (const auto& [name, value] : startup) out.insert_or_assign(name, value);
    return out;
}

std::uint64_t fingerprint(const ParamMap& params) noexcept {
    static const std::uint64_t key = [] {
        std::random_device rd;
        return (std::uint64_t{rd()} << 32) ^ rd();
    }();
    // FNV-1a over "name\0value\0" pairs in the map's (case-insensitive) order, keyed.
    std::uint64_t h = 0xcbf29ce484222325ull ^ key;
    auto mix = [&h](unsigned char c) {
        h ^= c;
        h *= 0x100000001b3ull;
    };
    for (const auto& [name, value] : params) {
        for (char c : name) mix(static_cast<unsigned char>(protocol::ascii_lower(c)));
        mix(0);
        for (char c : value) mix(static_cast<unsigned char>(c));
        mix(0);
    }
    return h == 0 ? 1 : h;  // 0 means "unknown" to callers
}

std::string quote_literal(std::string_view value) {
    bool has_backslash = value.find('\\') != std::string_view::npos;
    std::string out;
    out.reserve(value.size() + 3);
    if (has_backslash) out.push_back('E');  // E'' means the same whatever standard_conforming_strings is
    out.push_back('\'');
    for (char c : value) {
        if (c == '\'') out.push_back('\'');
        if (c == '\\') out.push_back('\\');
        out.push_back(c);
    }
    out.push_back('\'');
    return out;
}

std::string quote_identifier(std::string_view name) {
    std::string out = "\"";
    for (char c : name) {
        if (c == '"') out.push_back('"');
        out.push_back(c);
    }
    out.push_back('"');
    return out;
}

SyncStatement sync_statement(const ParamMap& client, ParamMap& server) {
    SyncStatement out;
    std::string sets;
    std::string resets;
    for (const auto& [name, value] : client) {
        auto it = server.find(name);
        if (it != server.end() && it->second == value) continue;
        sets += sets.empty() ? "SELECT " : ", ";
        sets += "pg_catalog.set_config(" + quote_literal(name) + ", " + quote_literal(value) + ", false)";
        server[name] = value;
        out.set_names.push_back(name);
    }
    for (auto it = server.begin(); it != server.end();) {
        if (!client.contains(it->first) && !is_tracked_reported_param(it->first) && !is_server_owned_param(it->first)) {
            resets += "RESET " + quote_identifier(it->first) + ";";
            it = server.erase(it);
        } else {
            ++it;
        }
    }
    out.sql = sets.empty() ? resets : sets + ";" + resets;
    return out;
}

std::string local_settings_statement(const ParamMap& client, const ParamMap& defaults, const ParamMap& touched) {
    std::string sql;
    auto add = [&](const std::string& name, const std::string& value) {
        if (ascii_iequals(name, "application_name") || is_server_owned_param(name)) return;
        // OR keeps evaluating while each test is false: every set_config runs, and no row comes back.
        sql += sql.empty() ? "SELECT WHERE " : " OR ";
        sql += "pg_catalog.set_config(" + quote_literal(name) + ", " + quote_literal(value) + ", true) IS NULL";
    };
    for (const auto& [name, value] : client) {
        auto it = defaults.find(name);
        if ((it == defaults.end() || it->second != value) || touched.contains(name)) add(name, value);
    }
    for (const auto& [name, value] : touched)
        if (!client.contains(name)) add(name, value);
    return sql;
}

}  // namespace sluice::proxy
