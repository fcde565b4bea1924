#include "config/node_reader.hpp"

#include "config/duration.hpp"
#include "config/env_expand.hpp"
#include "config/suggest.hpp"

namespace sluice::config {

std::string_view describe(toml::node_type type) noexcept {
    switch (type) {
        case toml::node_type::table: return "a table";
        case toml::node_type::array: return "an array";
        case toml::node_type::string: return "a string";
        case toml::node_type::integer: return "an integer";
        case toml::node_type::floating_point: return "a float";
        case toml::node_type::boolean: return "a boolean";
        case toml::node_type::date: return "a date";
        case toml::node_type::time: return "a time";
        case toml::node_type::date_time: return "a date-time";
        case toml::node_type::none: break;
    }
    return "nothing";
}

void NodeReader::error(const toml::source_region& where, std::string key, std::string reason) {
    errors_.push_back(ConfigError{file_, static_cast<int>(where.begin.line), static_cast<int>(where.begin.column),
                                  std::move(key), std::move(reason)});
}

bool NodeReader::expect(const toml::node& node, toml::node_type type, const std::string& key,
                        std::string_view expected) {
    if (node.type() == type) return true;
    error(node, key, "expected " + std::string(expected) + ", found " + std::string(describe(node.type())));
    return false;
}

std::optional<std::string> NodeReader::string(const toml::node& node, const std::string& key) {
    if (!expect(node, toml::node_type::string, key, "a string")) return std::nullopt;
    Expanded expanded = expand_env(node.as_string()->get(), env_);
    if (!expanded.value) error(node, key, std::move(expanded.error));
    return std::move(expanded.value);
}

std::optional<std::string> NodeReader::url_string(const toml::node& node, const std::string& key) {
    if (!expect(node, toml::node_type::string, key, "a string")) return std::nullopt;
    Expanded expanded = expand_env_in_url(node.as_string()->get(), env_);
    if (!expanded.value) error(node, key, std::move(expanded.error));
    return std::move(expanded.value);
}

std::optional<std::int64_t> NodeReader::integer(const toml::node& node, const std::string& key, std::int64_t min,
                                                std::int64_t max) {
    if (!expect(node, toml::node_type::integer, key, "an integer")) return std::nullopt;
    std::int64_t value = node.as_integer()->get();
    if (value < min || value > max) {
        error(node, key,
              "must be between " + std::to_string(min) + " and " + std::to_string(max) + ", got " +
                  std::to_string(value));
        return std::nullopt;
    }
    return value;
}

std::optional<bool> NodeReader::boolean(const toml::node& node, const std::string& key) {
    if (!expect(node, toml::node_type::boolean, key, "a boolean (true or false)")) return std::nullopt;
    return node.as_boolean()->get();
}

std::optional<Duration> NodeReader::duration(const toml::node& node, const std::string& key) {
    if (!node.is_string()) {
        error(node, key,
              "expected a duration string with a unit, like \"30s\" or \"250ms\", found " +
                  std::string(describe(node.type())));
        return std::nullopt;
    }
    auto text = string(node, key);
    if (!text) return std::nullopt;
    DurationParse parsed = parse_duration(*text);
    if (!parsed.value) error(node, key, std::move(parsed.error));
    return parsed.value;
}

const toml::table* NodeReader::table(const toml::node& node, const std::string& key) {
    if (!expect(node, toml::node_type::table, key, "a table")) return nullptr;
    return node.as_table();
}

const toml::array* NodeReader::array_of_tables(const toml::node& node, const std::string& key) {
    if (!node.is_array_of_tables()) {
        const toml::array* array = node.as_array();
        if (array != nullptr && array->empty()) return array;
        error(node, key,
              "expected an array of tables ([[" + key + "]] sections), found " + std::string(describe(node.type())));
        return nullptr;
    }
    return node.as_array();
}

std::optional<std::size_t> NodeReader::choice(const toml::node& node, const std::string& key,
                                              std::span<const std::string_view> names) {
    auto text = string(node, key);
    if (!text) return std::nullopt;
    for (std::size_t i = 0; i < names.size(); ++i)
        if (names[i] == *text) return i;
    std::string expected;
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) expected += i + 1 == names.size() ? " or " : ", ";
        expected += '"';
        expected.append(names[i]);
        expected += '"';
    }
    std::string reason = "invalid value \"" + *text + "\" (expected " + expected + ")";
    error(node, key, std::move(reason));
    return std::nullopt;
}

std::string join_key(std::string_view parent, std::string_view name) {
    std::string out(parent);
    if (!out.empty()) out += '.';
    out.append(name);
    return out;
}

std::string index_key(std::string_view parent, std::size_t index) {
    return std::string(parent) + "[" + std::to_string(index) + "]";
}

void report_unknown_key(NodeReader& reader, const toml::key& key, std::string_view parent,
                        std::span<const std::string_view> known) {
    std::string where = parent.empty() ? std::string("at the top level") : "in [" + std::string(parent) + "]";
    std::string reason = "unknown key '" + std::string(key.str()) + "' " + where;
    if (auto suggestion = closest_match(key.str(), known)) {
        reason += " (did you mean '" + std::string(*suggestion) + "'?)";
    }
    reader.error(key.source(), join_key(parent, key.str()), std::move(reason));
}

void report_not_supported_yet(NodeReader& reader, const toml::key& key, std::string_view parent, bool is_section) {
    std::string path = join_key(parent, key.str());
    std::string what = is_section ? "section [" + path + "]" : "key '" + path + "'";
    reader.error(key.source(), path, what + " is not supported yet by this version");
}

void report_missing_key(NodeReader& reader, const toml::table& table, std::string_view parent,
                        std::string_view name) {
    reader.error(table, join_key(parent, name), "missing required key '" + std::string(name) + "'");
}

}  // namespace sluice::config
