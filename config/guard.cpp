// Which guard applies to one client: [guard], with the matching [[guard.override]] entries laid
// over it key by key.
#include "config/client_match.hpp"
#include "config/model.hpp"
#include "protocol/sql/guard.hpp"

namespace sluice::config {
// kDefaultGuardRules is the bits of Drop ... ExplainAnalyze: the rules sql::is_default() names, but
// Unparsable (the last of them), which guard.unparsable governs.
static_assert(static_cast<unsigned>(sql::Rule::Drop) == 0 && static_cast<unsigned>(sql::Rule::Unparsable) == 10);
static_assert(kDefaultGuardRules == (1u << static_cast<unsigned>(sql::Rule::Unparsable)) - 1);
static_assert(static_cast<unsigned>(sql::Rule::LockTable) < 32);  // fits GuardRuleSet

GuardPolicy Config::guard_for(std::string_view database, std::string_view user,
                              std::string_view application_name) const {
    GuardPolicy policy{guard.mode, guard.rules, guard.unparsable};
    const auto& o = guard.overrides;
    if (o.empty()) return policy;
    if (auto* mode = most_specific(o, &GuardOverride::mode, database, user, application_name)) policy.mode = *mode;
    if (auto* rules = most_specific(o, &GuardOverride::rules, database, user, application_name)) policy.rules = *rules;
    if (auto* allow = most_specific(o, &GuardOverride::allow, database, user, application_name)) {
        policy.rules &= ~*allow;
        // The entry that set `allow` also says which custom rules it lets through.
        for (const GuardOverride& entry : o)
            if (entry.allow && &*entry.allow == allow) policy.custom &= ~entry.allow_custom;
    }
    if (auto* unparsable = most_specific(o, &GuardOverride::unparsable, database, user, application_name))
        policy.unparsable = *unparsable;
    return policy;
}

}  // namespace sluice::config
