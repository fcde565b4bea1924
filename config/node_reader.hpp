#pragma once
// Internal to the loader: typed reads of toml++ nodes that record a ConfigError (file, line,
// column, key path, reason) instead of throwing, so one pass reports every problem. Also the
// key-table machinery (KeySpec, read_section) that keys.cpp fills in. Not for use outside config/.
#include <toml++/toml.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "config/load.hpp"
#include "config/model.hpp"

namespace sluice::config {

class NodeReader {
public:
    NodeReader(std::string file, const EnvLookup& env, std::vector<ConfigError>& errors)
        : file_(std::move(file)), env_(env), errors_(errors) {}

    [[nodiscard]] const std::string& file() const noexcept { return file_; }
    // Errors recorded so far (by every reader sharing the list): lets a caller tell whether a
    // section read cleanly before checking it as a whole.
    [[nodiscard]] std::size_t error_count() const noexcept { return errors_.size(); }

    void error(const toml::source_region& where, std::string key, std::string reason);
    void error(const toml::node& node, std::string key, std::string reason) {
        error(node.source(), std::move(key), std::move(reason));
    }

    // Each returns nullopt (after recording an error) when the node has the wrong type or value.
    // Strings are ${ENV}-expanded.
    std::optional<std::string> string(const toml::node& node, const std::string& key);
    std::optional<std::string> url_string(const toml::node& node, const std::string& key);
    std::optional<std::int64_t> integer(const toml::node& node, const std::string& key, std::int64_t min,
                                        std::int64_t max);
    std::optional<bool> boolean(const toml::node& node, const std::string& key);
    std::optional<Duration> duration(const toml::node& node, const std::string& key);
    const toml::table* table(const toml::node& node, const std::string& key);
    // [[name]] / [ {..}, {..} ]: every element must be a table.
    const toml::array* array_of_tables(const toml::node& node, const std::string& key);

    // One of `names` (string), as its index.
    std::optional<std::size_t> choice(const toml::node& node, const std::string& key,
                                      std::span<const std::string_view> names);

private:
    bool expect(const toml::node& node, toml::node_type type, const std::string& key, std::string_view expected);

    std::string file_;
    const EnvLookup& env_;
    std::vector<ConfigError>& errors_;
};

std::string_view describe(toml::node_type type) noexcept;  // "an integer", "a string", ...

// --- Key tables --------------------------------------------------------------------------------

template <class Section>
using ReadFn = void (*)(NodeReader&, const toml::node&, const std::string& key, Section&);

// One known key of a section (PgBouncer's bouncer_params idea): what the loader accepts, and
// what docs/configuration.md documents.
template <class Section>
struct KeySpec {
    std::string_view name;
    std::string_view type;           // as documented: "string", "integer", "duration", ...
    std::string_view default_value;  // as documented; empty when there is none
    std::string_view doc;
    ReadFn<Section> read;            // nullptr: reserved for a feature this version lacks
    bool required = false;
};

std::string join_key(std::string_view parent, std::string_view name);
std::string index_key(std::string_view parent, std::size_t index);

void report_unknown_key(NodeReader& reader, const toml::key& key, std::string_view parent,
                        std::span<const std::string_view> known);
void report_not_supported_yet(NodeReader& reader, const toml::key& key, std::string_view parent, bool is_section);
void report_missing_key(NodeReader& reader, const toml::table& table, std::string_view parent, std::string_view name);

// Reads every key of `table` into `target` in table order (so [pool] is read before the
// [[databases]] that inherit it), reporting unknown, not-yet-supported and missing keys.
template <class Section>
void read_section(NodeReader& reader, const toml::table& table, std::string_view parent,
                  std::span<const KeySpec<Section>> keys, Section& target) {
    std::vector<std::string_view> names;
    names.reserve(keys.size());
    for (const auto& spec : keys) names.push_back(spec.name);
    for (auto&& [key, node] : table) {
        const KeySpec<Section>* spec = nullptr;
        for (const auto& candidate : keys)
            if (candidate.name == key.str()) spec = &candidate;
        if (spec == nullptr) {
            report_unknown_key(reader, key, parent, names);
        } else if (spec->read == nullptr) {
            report_not_supported_yet(reader, key, parent, node.is_table() || node.is_array_of_tables());
        }
    }
    for (const auto& spec : keys) {
        if (spec.read == nullptr) continue;
        const toml::node* node = table.get(spec.name);
        if (node == nullptr) {
            if (spec.required) report_missing_key(reader, table, parent, spec.name);
            continue;
        }
        spec.read(reader, *node, join_key(parent, spec.name), target);
    }
}

// --- Generic field readers for the tables ------------------------------------------------------

template <class T>
struct MemberOf;
template <class S, class F>
struct MemberOf<F S::*> {
    using Section = S;
    using Field = F;
};
template <auto Member>
using SectionOf = typename MemberOf<decltype(Member)>::Section;
template <auto Member>
using FieldOf = typename MemberOf<decltype(Member)>::Field;

template <class T>
struct IsOptional : std::false_type {};
template <class T>
struct IsOptional<std::optional<T>> : std::true_type {};

template <auto Member, std::int64_t Min, std::int64_t Max>
void read_integer(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    using Field = FieldOf<Member>;
    if (auto value = reader.integer(node, key, Min, Max)) {
        if constexpr (IsOptional<Field>::value) {
            target.*Member = static_cast<typename Field::value_type>(*value);
        } else {
            target.*Member = static_cast<Field>(*value);
        }
    }
}

template <auto Member>
void read_string(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto value = reader.string(node, key)) target.*Member = std::move(*value);
}

template <auto Member>
void read_bool(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto value = reader.boolean(node, key)) target.*Member = *value;
}

template <auto Member>
void read_duration(NodeReader& reader, const toml::node& node, const std::string& key, SectionOf<Member>& target) {
    if (auto value = reader.duration(node, key)) target.*Member = *value;
}

}  // namespace sluice::config
