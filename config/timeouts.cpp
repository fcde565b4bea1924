// Which limits apply to one client: [timeouts], with the matching [[timeouts.override]] entries
// laid over it key by key.
#include <bit>
#include <utility>

#include "config/model.hpp"

namespace sluice::config {
namespace {

bool matches(const std::optional<std::string>& wanted, std::string_view actual) {
    return !wanted || *wanted == actual;
}

// (how many match fields, which ones): more fields is more specific; among as many,
// application_name (4) beats user (2) beats database (1). The loader refuses two overrides with
// the same match fields and values, so two matching overrides never rank equal.
std::pair<int, int> rank(const TimeoutOverride& o) {
    const unsigned mask = (o.application_name ? 4u : 0u) | (o.user ? 2u : 0u) | (o.database ? 1u : 0u);
    return {std::popcount(mask), static_cast<int>(mask)};
}

struct OverridableKey {
    std::optional<Duration> TimeoutOverride::*from;
    Duration SessionTimeouts::*to;
};

constexpr OverridableKey kOverridable[] = {
    {&TimeoutOverride::statement, &SessionTimeouts::statement},
    {&TimeoutOverride::transaction, &SessionTimeouts::transaction},
    {&TimeoutOverride::idle_in_transaction, &SessionTimeouts::idle_in_transaction},
    {&TimeoutOverride::client_idle, &SessionTimeouts::client_idle},
    {&TimeoutOverride::query_wait, &SessionTimeouts::query_wait},
};

}  // namespace

SessionTimeouts Config::timeouts_for(std::string_view database, std::string_view user,
                                     std::string_view application_name) const {
    SessionTimeouts limits{timeouts.statement, timeouts.transaction, timeouts.idle_in_transaction,
                           timeouts.client_idle, timeouts.query_wait};
    // Per key, not per override: a specific override that sets only `statement` leaves the other
    // keys to less specific overrides.
    for (const OverridableKey& key : kOverridable) {
        const TimeoutOverride* best = nullptr;
        for (const TimeoutOverride& o : timeouts.overrides) {
            if (!(o.*key.from) || !matches(o.database, database) || !matches(o.user, user) ||
                !matches(o.application_name, application_name))
                continue;
            if (best == nullptr || rank(o) > rank(*best)) best = &o;
        }
        if (best != nullptr) limits.*key.to = *(best->*key.from);
    }
    return limits;
}

}  // namespace sluice::config
