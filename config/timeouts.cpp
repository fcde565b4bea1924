// Which limits apply to one client: [timeouts], with the matching [[timeouts.override]] entries
// laid over it key by key.
#include "config/client_match.hpp"
#include "config/model.hpp"

namespace sluice::config {
namespace {

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
        if (const Duration* value = most_specific(timeouts.overrides, key.from, database, user, application_name))
            limits.*key.to = *value;
    }
    return limits;
}

}  // namespace sluice::config
