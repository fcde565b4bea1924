#include "protocol/sql/guard.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <utility>

#include "protocol/ascii.hpp"
#include "protocol/sql/guard_where.hpp"
#include "protocol/sql/node_walk.hpp"
#include "protocol/sql/parse_tree.hpp"

namespace sluice::sql {
namespace {

// A boolean option as PostgreSQL's defGetBoolean reads it. A value it would reject counts as
// true: the statement fails on the server anyway, and a finding costs nothing then.
bool option_value(const PgQuery__DefElem& option) {
    const PgQuery__Node* arg = option.arg;
    if (arg == nullptr) return true;  // EXPLAIN ANALYZE, EXPLAIN (ANALYZE)
    switch (arg->node_case) {
    case PG_QUERY__NODE__NODE_INTEGER: return arg->integer->ival != 0;
    case PG_QUERY__NODE__NODE_BOOLEAN: return arg->boolean->boolval != 0;
    case PG_QUERY__NODE__NODE_STRING: {
        const std::string_view v = arg->string->sval;
        return !(protocol::ascii_iequals(v, "false") || protocol::ascii_iequals(v, "off"));
    }
    default: return true;
    }
}

// The last occurrence of the option wins, as in PostgreSQL's option loops.
bool option_set(PgQuery__Node* const* options, std::size_t count, std::string_view name) {
    bool value = false;
    for (std::size_t i = 0; i < count; ++i) {
        if (options[i]->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) continue;
        const PgQuery__DefElem& option = *options[i]->def_elem;
        if (std::string_view(option.defname) == name) value = option_value(option);
    }
    return value;
}

std::string qualified_name(const PgQuery__RangeVar* rel) {
    if (rel == nullptr) return {};
    std::string out;
    for (const char* part : {rel->catalogname, rel->schemaname}) {
        if (part != nullptr && *part != '\0') out.append(part).push_back('.');
    }
    return out.append(rel->relname);
}

// The dotted name of a List of String nodes, without its last `drop_last` parts.
std::string dotted_name(const PgQuery__Node* node, std::size_t drop_last) {
    if (node == nullptr || node->node_case != PG_QUERY__NODE__NODE_LIST) return {};
    const PgQuery__List& list = *node->list;
    std::string out;
    for (std::size_t i = 0; i + drop_last < list.n_items; ++i) {
        if (list.items[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
        if (!out.empty()) out.push_back('.');
        out.append(list.items[i]->string->sval);
    }
    return out;
}

// The name a column may be qualified with to mean this relation.
std::string_view reference_name(const PgQuery__RangeVar* rel) {
    if (rel == nullptr) return {};
    if (rel->alias != nullptr) return rel->alias->aliasname;
    return rel->relname;
}

std::string_view source_name(const PgQuery__Node* source) {
    if (source == nullptr) return {};
    switch (source->node_case) {
    case PG_QUERY__NODE__NODE_RANGE_VAR: return reference_name(source->range_var);
    case PG_QUERY__NODE__NODE_RANGE_SUBSELECT:
        return source->range_subselect->alias != nullptr ? source->range_subselect->alias->aliasname : "";
    case PG_QUERY__NODE__NODE_RANGE_FUNCTION:
        return source->range_function->alias != nullptr ? source->range_function->alias->aliasname : "";
    default: return {};
    }
}

std::string_view object_type_name(PgQuery__ObjectType type) {
    switch (type) {
    case PG_QUERY__OBJECT_TYPE__OBJECT_TABLE: return "TABLE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_INDEX: return "INDEX";
    case PG_QUERY__OBJECT_TYPE__OBJECT_VIEW: return "VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW: return "MATERIALIZED VIEW";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE: return "FOREIGN TABLE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE: return "SEQUENCE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_SCHEMA: return "SCHEMA";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FUNCTION: return "FUNCTION";
    case PG_QUERY__OBJECT_TYPE__OBJECT_PROCEDURE: return "PROCEDURE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_ROUTINE: return "ROUTINE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_AGGREGATE: return "AGGREGATE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TYPE: return "TYPE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_DOMAIN: return "DOMAIN";
    case PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER: return "TRIGGER";
    case PG_QUERY__OBJECT_TYPE__OBJECT_RULE: return "RULE";
    case PG_QUERY__OBJECT_TYPE__OBJECT_POLICY: return "POLICY";
    case PG_QUERY__OBJECT_TYPE__OBJECT_EXTENSION: return "EXTENSION";
    case PG_QUERY__OBJECT_TYPE__OBJECT_PUBLICATION: return "PUBLICATION";
    case PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_SERVER: return "SERVER";
    case PG_QUERY__OBJECT_TYPE__OBJECT_EVENT_TRIGGER: return "EVENT TRIGGER";
    case PG_QUERY__OBJECT_TYPE__OBJECT_STATISTIC_EXT: return "STATISTICS";
    default: return {};
    }
}

std::string with_object(std::string_view verb, PgQuery__ObjectType type) {
    std::string out(verb);
    const std::string_view object = object_type_name(type);
    if (!object.empty()) out.append(" ").append(object);
    return out;
}

bool is_relation(PgQuery__ObjectType type) {
    return type == PG_QUERY__OBJECT_TYPE__OBJECT_TABLE || type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX ||
           type == PG_QUERY__OBJECT_TYPE__OBJECT_VIEW || type == PG_QUERY__OBJECT_TYPE__OBJECT_MATVIEW ||
           type == PG_QUERY__OBJECT_TYPE__OBJECT_FOREIGN_TABLE || type == PG_QUERY__OBJECT_TYPE__OBJECT_SEQUENCE;
}

// Objects named "table.name" (the table first, the object's own name last).
bool is_on_table(PgQuery__ObjectType type) {
    return type == PG_QUERY__OBJECT_TYPE__OBJECT_TRIGGER || type == PG_QUERY__OBJECT_TYPE__OBJECT_RULE ||
           type == PG_QUERY__OBJECT_TYPE__OBJECT_POLICY;
}

bool has_constraint(const PgQuery__ColumnDef& column, PgQuery__ConstrType type) {
    for (std::size_t i = 0; i < column.n_constraints; ++i) {
        const PgQuery__Node* c = column.constraints[i];
        if (c->node_case == PG_QUERY__NODE__NODE_CONSTRAINT && c->constraint->contype == type) return true;
    }
    return false;
}

// ADD COLUMN ... NOT NULL (or PRIMARY KEY) with nothing that fills existing rows.
bool adds_not_null_without_default(const PgQuery__ColumnDef& column) {
    const bool not_null = column.is_not_null || has_constraint(column, PG_QUERY__CONSTR_TYPE__CONSTR_NOTNULL) ||
                          has_constraint(column, PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY);
    const bool filled = column.raw_default != nullptr ||
                        has_constraint(column, PG_QUERY__CONSTR_TYPE__CONSTR_DEFAULT) ||
                        has_constraint(column, PG_QUERY__CONSTR_TYPE__CONSTR_IDENTITY) ||
                        has_constraint(column, PG_QUERY__CONSTR_TYPE__CONSTR_GENERATED);
    return not_null && !filled;
}

// A constraint whose validation scans (and locks) the table: CHECK and FOREIGN KEY without
// NOT VALID; UNIQUE, PRIMARY KEY and EXCLUDE build an index unless USING INDEX names one.
bool validates_now(const PgQuery__Constraint& constraint) {
    switch (constraint.contype) {
    case PG_QUERY__CONSTR_TYPE__CONSTR_CHECK:
    case PG_QUERY__CONSTR_TYPE__CONSTR_FOREIGN: return !constraint.skip_validation;
    case PG_QUERY__CONSTR_TYPE__CONSTR_UNIQUE:
    case PG_QUERY__CONSTR_TYPE__CONSTR_PRIMARY:
    case PG_QUERY__CONSTR_TYPE__CONSTR_EXCLUSION: return std::string_view(constraint.indexname).empty();
    default: return false;
    }
}

template <class T>
const T& as(const ProtobufCMessage* message) {
    return *reinterpret_cast<const T*>(message);
}

class Classifier {
public:
    Classifier(std::vector<Finding>& out, std::size_t statement_index) : out_(out), index_(statement_index) {}

    // `root` and every statement nested in it.
    void classify(const PgQuery__Node* root) {
        if (root == nullptr) return;
        walk_below(&root->base, [this](const ProtobufCMessage* message) { return visit(message); });
    }

private:
    void add(Rule rule, std::string statement_type, std::string table = {}) {
        out_.push_back({rule, std::move(statement_type), std::move(table), index_});
    }

    // Returns whether to look below `message` for nested statements.
    bool visit(const ProtobufCMessage* message) {
        const ProtobufCMessageDescriptor* d = message->descriptor;
        if (d == &pg_query__drop_stmt__descriptor) {
            drop(as<PgQuery__DropStmt>(message));
        } else if (d == &pg_query__drop_owned_stmt__descriptor) {
            add(Rule::Drop, "DROP OWNED");
        } else if (d == &pg_query__drop_role_stmt__descriptor) {
            add(Rule::Drop, "DROP ROLE");
        } else if (d == &pg_query__drop_table_space_stmt__descriptor) {
            add(Rule::Drop, "DROP TABLESPACE");
        } else if (d == &pg_query__drop_user_mapping_stmt__descriptor) {
            add(Rule::Drop, "DROP USER MAPPING");
        } else if (d == &pg_query__drop_subscription_stmt__descriptor) {
            add(Rule::Drop, "DROP SUBSCRIPTION");
        } else if (d == &pg_query__dropdb_stmt__descriptor) {
            add(Rule::Drop, "DROP DATABASE");
            add(Rule::CreateDropDatabase, "DROP DATABASE");
        } else if (d == &pg_query__createdb_stmt__descriptor) {
            add(Rule::CreateDropDatabase, "CREATE DATABASE");
        } else if (d == &pg_query__truncate_stmt__descriptor) {
            truncate(as<PgQuery__TruncateStmt>(message));
        } else if (d == &pg_query__delete_stmt__descriptor) {
            const auto& del = as<PgQuery__DeleteStmt>(message);
            if (!restricts(del.where_clause, {{reference_name(del.relation)}, false}))
                add(Rule::DeleteWithoutWhere, "DELETE", qualified_name(del.relation));
        } else if (d == &pg_query__update_stmt__descriptor) {
            const auto& update = as<PgQuery__UpdateStmt>(message);
            if (!restricts(update.where_clause, {{reference_name(update.relation)}, false}))
                add(Rule::UpdateWithoutWhere, "UPDATE", qualified_name(update.relation));
        } else if (d == &pg_query__merge_stmt__descriptor) {
            merge(as<PgQuery__MergeStmt>(message));
        } else if (d == &pg_query__alter_table_stmt__descriptor) {
            alter_table(as<PgQuery__AlterTableStmt>(message));
        } else if (d == &pg_query__alter_system_stmt__descriptor) {
            add(Rule::AlterSystem, "ALTER SYSTEM");
        } else if (d == &pg_query__copy_stmt__descriptor) {
            const auto& copy = as<PgQuery__CopyStmt>(message);
            if (copy.is_program) add(Rule::CopyProgram, "COPY", qualified_name(copy.relation));
        } else if (d == &pg_query__do_stmt__descriptor) {
            add(Rule::OpaqueCode, "DO");
            return false;
        } else if (d == &pg_query__create_function_stmt__descriptor) {
            const bool procedure = as<PgQuery__CreateFunctionStmt>(message).is_procedure;
            add(Rule::OpaqueCode, procedure ? "CREATE PROCEDURE" : "CREATE FUNCTION");
            return false;  // the body runs later, when called: it is code, not a statement now
        } else if (d == &pg_query__explain_stmt__descriptor) {
            explain(as<PgQuery__ExplainStmt>(message));
            return false;
        } else if (d == &pg_query__rename_stmt__descriptor) {
            const auto& rename = as<PgQuery__RenameStmt>(message);
            // RENAME COLUMN/CONSTRAINT name the relation's kind in relation_type.
            const bool of_relation = rename.relation_type != PG_QUERY__OBJECT_TYPE__OBJECT_TYPE_UNDEFINED;
            add(Rule::Rename, with_object("ALTER", of_relation ? rename.relation_type : rename.rename_type) + " RENAME",
                qualified_name(rename.relation));
        } else if (d == &pg_query__index_stmt__descriptor) {
            const auto& index = as<PgQuery__IndexStmt>(message);
            if (!index.concurrent) add(Rule::IndexNotConcurrently, "CREATE INDEX", qualified_name(index.relation));
        } else if (d == &pg_query__vacuum_stmt__descriptor) {
            const auto& vacuum = as<PgQuery__VacuumStmt>(message);
            if (vacuum.is_vacuumcmd && option_set(vacuum.options, vacuum.n_options, "full")) {
                const bool one =
                    vacuum.n_rels == 1 && vacuum.rels[0]->node_case == PG_QUERY__NODE__NODE_VACUUM_RELATION;
                add(Rule::VacuumFull, "VACUUM FULL",
                    one ? qualified_name(vacuum.rels[0]->vacuum_relation->relation) : "");
            }
        } else if (d == &pg_query__cluster_stmt__descriptor) {
            add(Rule::Cluster, "CLUSTER", qualified_name(as<PgQuery__ClusterStmt>(message).relation));
        } else if (d == &pg_query__lock_stmt__descriptor) {
            const auto& lock = as<PgQuery__LockStmt>(message);
            const bool first = lock.n_relations > 0 && lock.relations[0]->node_case == PG_QUERY__NODE__NODE_RANGE_VAR;
            add(Rule::LockTable, "LOCK TABLE", first ? qualified_name(lock.relations[0]->range_var) : "");
        }
        return true;
    }

    void drop(const PgQuery__DropStmt& drop) {
        const std::string type = with_object("DROP", drop.remove_type);
        const bool index = drop.remove_type == PG_QUERY__OBJECT_TYPE__OBJECT_INDEX;
        if (!is_relation(drop.remove_type) && !is_on_table(drop.remove_type)) {
            add(Rule::Drop, type);
            return;
        }
        // One finding per object, so that a table-scoped exemption sees every table.
        for (std::size_t i = 0; i < drop.n_objects; ++i) {
            std::string table = dotted_name(drop.objects[i], is_on_table(drop.remove_type) ? 1 : 0);
            add(Rule::Drop, type, table);
            if (index && !drop.concurrent) add(Rule::IndexNotConcurrently, type, std::move(table));
        }
    }

    void truncate(const PgQuery__TruncateStmt& truncate) {
        for (std::size_t i = 0; i < truncate.n_relations; ++i) {
            const PgQuery__Node* rel = truncate.relations[i];
            const bool named = rel->node_case == PG_QUERY__NODE__NODE_RANGE_VAR;
            add(Rule::Truncate, "TRUNCATE", named ? qualified_name(rel->range_var) : "");
        }
    }

    // WHEN MATCHED THEN DELETE/UPDATE touches every row the ON join pairs: it needs an AND.
    void merge(const PgQuery__MergeStmt& merge) {
        const WhereTarget target{{reference_name(merge.relation), source_name(merge.source_relation)}, true};
        for (std::size_t i = 0; i < merge.n_merge_when_clauses; ++i) {
            const PgQuery__Node* node = merge.merge_when_clauses[i];
            if (node->node_case != PG_QUERY__NODE__NODE_MERGE_WHEN_CLAUSE) continue;
            const PgQuery__MergeWhenClause& when = *node->merge_when_clause;
            if (!when.matched || restricts(when.condition, target)) continue;
            if (when.command_type == PG_QUERY__CMD_TYPE__CMD_DELETE) {
                add(Rule::DeleteWithoutWhere, "MERGE", qualified_name(merge.relation));
            } else if (when.command_type == PG_QUERY__CMD_TYPE__CMD_UPDATE) {
                add(Rule::UpdateWithoutWhere, "MERGE", qualified_name(merge.relation));
            }
        }
    }

    void alter_table(const PgQuery__AlterTableStmt& alter) {
        const std::string type = with_object("ALTER", alter.objtype);
        const std::string table = qualified_name(alter.relation);
        for (std::size_t i = 0; i < alter.n_cmds; ++i) {
            if (alter.cmds[i]->node_case != PG_QUERY__NODE__NODE_ALTER_TABLE_CMD) continue;
            const PgQuery__AlterTableCmd& cmd = *alter.cmds[i]->alter_table_cmd;
            const PgQuery__Node* def = cmd.def;
            switch (cmd.subtype) {
            case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumn:
            case PG_QUERY__ALTER_TABLE_TYPE__AT_DropColumnRecurse: add(Rule::AlterDropColumn, type, table); break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AlterColumnType: add(Rule::AlterColumnType, type, table); break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_SetNotNull: add(Rule::SetNotNull, type, table); break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumn:
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddColumnRecurse:
                if (def != nullptr && def->node_case == PG_QUERY__NODE__NODE_COLUMN_DEF &&
                    adds_not_null_without_default(*def->column_def))
                    add(Rule::AddNotNullColumn, type, table);
                break;
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraint:
            case PG_QUERY__ALTER_TABLE_TYPE__AT_AddConstraintRecurse:
                if (def != nullptr && def->node_case == PG_QUERY__NODE__NODE_CONSTRAINT &&
                    validates_now(*def->constraint))
                    add(Rule::ConstraintNotValid, type, table);
                break;
            default: break;
            }
        }
    }

    // Plain EXPLAIN only plans; EXPLAIN ANALYZE runs the statement.
    void explain(const PgQuery__ExplainStmt& explain) {
        if (!option_set(explain.options, explain.n_options, "analyze")) return;
        std::vector<Finding> inner;
        Classifier(inner, index_).classify(explain.query);
        for (Finding& finding : inner) {
            std::string table = finding.table;
            out_.push_back(std::move(finding));
            add(Rule::ExplainAnalyze, "EXPLAIN ANALYZE", std::move(table));
        }
    }

    std::vector<Finding>& out_;
    std::size_t index_;
};

}  // namespace

GuardVerdict classify(const ParseTree& tree) {
    GuardVerdict verdict;
    if (!tree.ok()) {
        verdict.error = tree.error();
        return verdict;
    }
    verdict.parsed = true;
    const PgQuery__ParseResult& result = tree.result();
    for (std::size_t i = 0; i < result.n_stmts; ++i) Classifier(verdict.findings, i).classify(result.stmts[i]->stmt);
    return verdict;
}

GuardVerdict classify(std::string_view sql) { return classify(ParseTree::parse(sql)); }

}  // namespace sluice::sql
