#include "protocol/sql/guard_where.hpp"

#include <algorithm>
#include <cstddef>

#include "protocol/sql/node_walk.hpp"

namespace sluice::sql {
namespace {

// Deeper AND/OR/NOT nesting than this is not analysed: it does not restrict (fail closed).
constexpr int kMaxBoolDepth = 256;

bool names_target(std::string_view name, const WhereTarget& target) {
    return !name.empty() && std::find(target.names.begin(), target.names.end(), name) != target.names.end();
}

bool qualified_with_target(const PgQuery__ColumnRef& ref, const WhereTarget& target) {
    if (ref.n_fields < 2) return false;
    // [catalog.][schema.]table.column (or table.*): the qualifier just before the column names the table.
    const PgQuery__Node* qualifier = ref.fields[ref.n_fields - 2];
    if (qualifier->node_case != PG_QUERY__NODE__NODE_STRING) return false;
    return names_target(qualifier->string->sval, target);
}

bool counts(const PgQuery__ColumnRef& ref, bool nested, const WhereTarget& target) {
    if (!nested && (target.any_unnested_column || ref.n_fields < 2)) return true;
    return qualified_with_target(ref, target);
}

bool is_column_ref(const ProtobufCMessage* message) {
    return message->descriptor == &pg_query__column_ref__descriptor;
}

// A sub-select whose own FROM (at any depth) names a relation like the target, e.g.
// EXISTS (SELECT 1 FROM t WHERE t.x = 1) under DELETE FROM t: there `t.x` is the inner t.
bool shadows_target(const ProtobufCMessage* select, const WhereTarget& target) {
    bool shadows = false;
    walk_below(select, [&](const ProtobufCMessage* message) {
        if (message->descriptor == &pg_query__range_var__descriptor) {
            const auto& rel = *reinterpret_cast<const PgQuery__RangeVar*>(message);
            if (rel.alias == nullptr && names_target(rel.relname, target)) shadows = true;
        } else if (message->descriptor == &pg_query__alias__descriptor) {
            if (names_target(reinterpret_cast<const PgQuery__Alias*>(message)->aliasname, target)) shadows = true;
        }
        return !shadows;
    });
    return shadows;
}

// A column reference to the target anywhere in `root`'s subtree. Sub-selects are scanned as
// "nested" without further recursion: nesting deeper does not change what counts.
bool references_target(const PgQuery__Node* root, const WhereTarget& target) {
    bool found = false;
    walk_below(&root->base, [&](const ProtobufCMessage* message) {
        if (found) return false;
        if (is_column_ref(message)) {
            found = counts(*reinterpret_cast<const PgQuery__ColumnRef*>(message), false, target);
            return false;
        }
        if (message->descriptor != &pg_query__select_stmt__descriptor) return true;
        if (shadows_target(message, target)) return false;
        walk_below(message, [&](const ProtobufCMessage* inner) {
            if (found) return false;
            if (is_column_ref(inner)) {
                found = counts(*reinterpret_cast<const PgQuery__ColumnRef*>(inner), true, target);
                return false;
            }
            return true;
        });
        return false;
    });
    return found;
}

bool restricts_at(const PgQuery__Node* condition, const WhereTarget& target, int depth) {
    if (condition == nullptr || depth > kMaxBoolDepth) return false;
    if (condition->node_case == PG_QUERY__NODE__NODE_CURRENT_OF_EXPR) return true;
    if (condition->node_case != PG_QUERY__NODE__NODE_BOOL_EXPR) return references_target(condition, target);
    const PgQuery__BoolExpr& expr = *condition->bool_expr;
    const auto arm = [&](const PgQuery__Node* a) { return restricts_at(a, target, depth + 1); };
    const auto* first = expr.args;
    const auto* last = expr.args + expr.n_args;
    switch (expr.boolop) {
    case PG_QUERY__BOOL_EXPR_TYPE__AND_EXPR: return std::any_of(first, last, arm);
    // One arm that lets every row through lets the whole OR through.
    case PG_QUERY__BOOL_EXPR_TYPE__OR_EXPR: return expr.n_args > 0 && std::all_of(first, last, arm);
    case PG_QUERY__BOOL_EXPR_TYPE__NOT_EXPR: return expr.n_args == 1 && arm(expr.args[0]);
    default: return false;
    }
}

}  // namespace

bool restricts(const PgQuery__Node* condition, const WhereTarget& target) {
    return restricts_at(condition, target, 0);
}

}  // namespace sluice::sql
