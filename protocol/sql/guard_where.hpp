#pragma once
// Whether a DELETE/UPDATE WHERE or a MERGE WHEN MATCHED condition restricts the rows it touches
// (the rule is spelled out in guard.hpp). Private to protocol/sql: it reads libpg_query nodes.
#include <pg_query/pg_query.pb-c.h>

#include <string_view>
#include <vector>

namespace sluice::sql {

struct WhereTarget {
    // The names a column reference may be qualified with to mean the target: its alias when it
    // has one, else its relation name (plus, for MERGE, the source's).
    std::vector<std::string_view> names;
    // MERGE: any column reference outside sub-selects counts (only target and source are in scope).
    // DELETE/UPDATE: an unqualified one counts, a qualified one only when it names the target.
    bool any_unnested_column = false;
};

// A null condition (no WHERE, no AND) does not restrict.
bool restricts(const PgQuery__Node* condition, const WhereTarget& target);

}  // namespace sluice::sql
