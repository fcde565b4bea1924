#include <array>

#include "protocol/sql/guard.hpp"

namespace sluice::sql {
namespace {

// In enum order: the names are part of the config and the audit log, never renamed.
constexpr std::array<std::string_view, 20> kRuleNames{
    "drop",         "truncate",    "delete_without_where", "update_without_where",   "alter_drop_column",
    "alter_system", "copy_program", "create_drop_database", "opaque_code",           "explain_analyze",
    "unparsable",   "rename",      "alter_column_type",    "set_not_null",           "add_not_null_column",
    "index_not_concurrently", "constraint_not_valid", "vacuum_full", "cluster",      "lock_table"};

}  // namespace

std::string_view to_string(Rule rule) noexcept {
    const auto index = static_cast<std::size_t>(rule);
    return index < kRuleNames.size() ? kRuleNames[index] : std::string_view("?");
}

std::optional<Rule> rule_from_string(std::string_view name) noexcept {
    for (std::size_t i = 0; i < kRuleNames.size(); ++i)
        if (kRuleNames[i] == name) return static_cast<Rule>(i);
    return std::nullopt;
}

bool is_default(Rule rule) noexcept { return rule <= Rule::Unparsable; }

}  // namespace sluice::sql
