#pragma once
// Which clients an override entry ([[timeouts.override]], [[guard.override]]) applies to, and which
// of several matching entries is the most specific. One rule for every kind of override.
#include <bit>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::config {

// Every match field the entry gives equals the client's.
template <class Override>
bool matches_client(const Override& o, std::string_view database, std::string_view user,
                    std::string_view application_name) {
    auto field = [](const std::optional<std::string>& wanted, std::string_view actual) {
        return !wanted || *wanted == actual;
    };
    return field(o.database, database) && field(o.user, user) && field(o.application_name, application_name);
}

// (how many match fields, which ones): more fields is more specific; among as many,
// application_name (4) beats user (2) beats database (1). The loader refuses two entries with the
// same match fields and values, so two matching entries never rank equal.
template <class Override>
std::pair<int, int> match_rank(const Override& o) {
    const unsigned mask = (o.application_name ? 4u : 0u) | (o.user ? 2u : 0u) | (o.database ? 1u : 0u);
    return {std::popcount(mask), static_cast<int>(mask)};
}

template <class Override>
bool same_clients(const Override& a, const Override& b) {
    return a.database == b.database && a.user == b.user && a.application_name == b.application_name;
}

// Per key: the value of the most specific matching entry that sets `key`, else nullopt.
template <class Override, class Field>
const Field* most_specific(const std::vector<Override>& overrides, std::optional<Field> Override::*key,
                           std::string_view database, std::string_view user, std::string_view application_name) {
    const Override* best = nullptr;
    for (const Override& o : overrides) {
        if (!(o.*key) || !matches_client(o, database, user, application_name)) continue;
        if (best == nullptr || match_rank(o) > match_rank(*best)) best = &o;
    }
    return best != nullptr ? &*(best->*key) : nullptr;
}

}  // namespace sluice::config
