#include "protocol/sql/session_state.hpp"
#include "protocol/sql/statement_facts.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "protocol/ascii.hpp"
#include "protocol/sql/node_walk.hpp"
#include "protocol/sql/parse_tree.hpp"

namespace sluice::sql {
namespace {

// PostgreSQL's cursor option for WITH HOLD (CURSOR_OPT_HOLD in nodes/parsenodes.h).
constexpr std::int32_t kCursorOptHold = 0x0020;

std::string_view trim(std::string_view text) {
    constexpr std::string_view kSpace = " \t\r\n\f\v";
    const auto first = text.find_first_not_of(kSpace);
    if (first == std::string_view::npos) return {};
    return text.substr(first, text.find_last_not_of(kSpace) - first + 1);
}

// A temp relation: TEMP/TEMPORARY (relpersistence 't') or created in pg_temp[_N].
bool is_temp(const PgQuery__RangeVar* rel) {
    if (rel == nullptr) return false;
    if (std::string_view(rel->relpersistence) == "t") return true;
    // The parser has lower-cased an unquoted schema name; "PG_TEMP" (quoted) is another schema.
    return std::string_view(rel->schemaname).starts_with("pg_temp");
}

// A constant string argument (possibly cast, 'x'::text); nullopt for anything computed.
std::optional<std::string> constant_string(const PgQuery__Node* node) {
    if (node == nullptr) return std::nullopt;
    if (node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) return constant_string(node->type_cast->arg);
    if (node->node_case != PG_QUERY__NODE__NODE_A_CONST) return std::nullopt;
    const PgQuery__AConst* c = node->a_const;
    if (c->val_case == PG_QUERY__A__CONST__VAL_SVAL) return std::string(c->sval->sval);
    return std::nullopt;
}

// A constant boolean argument as PostgreSQL's boolin reads it; nullopt when not constant.
std::optional<bool> constant_bool(const PgQuery__Node* node) {
    if (node == nullptr) return std::nullopt;
    if (node->node_case == PG_QUERY__NODE__NODE_TYPE_CAST) return constant_bool(node->type_cast->arg);
    if (node->node_case != PG_QUERY__NODE__NODE_A_CONST) return std::nullopt;
    const PgQuery__AConst* c = node->a_const;
    if (c->val_case == PG_QUERY__A__CONST__VAL_BOOLVAL) return c->boolval->boolval != 0;
    if (c->val_case == PG_QUERY__A__CONST__VAL_IVAL) return c->ival->ival != 0;
    if (c->val_case != PG_QUERY__A__CONST__VAL_SVAL) return std::nullopt;
    const std::string v = protocol::ascii_lowered(trim(c->sval->sval));
    // boolin accepts any unique prefix of true/false/yes/no, on/off, 1/0.
    auto prefix_of = [&](std::string_view word) { return !v.empty() && word.starts_with(v); };
    if (prefix_of("true") || prefix_of("yes") || v == "on" || v == "1") return true;
    if (prefix_of("false") || prefix_of("no") || v == "of" || v == "off" || v == "0") return false;
    return std::nullopt;
}

// The function's name when it is one we classify: unqualified or pg_catalog-qualified.
std::string_view function_name(const PgQuery__FuncCall* call) {
    if (call->n_funcname == 0 || call->n_funcname > 2) return {};
    for (std::size_t i = 0; i < call->n_funcname; ++i)
        if (call->funcname[i]->node_case != PG_QUERY__NODE__NODE_STRING) return {};
    if (call->n_funcname == 2 && std::string_view(call->funcname[0]->string->sval) != "pg_catalog") return {};
    return call->funcname[call->n_funcname - 1]->string->sval;
}

class Classifier {
public:
    Classifier(std::string_view statement, std::vector<SessionChange>& out) : statement_(statement), out_(out) {}

    void statement(const PgQuery__Node* node) {
        if (node == nullptr) return;
        switch (node->node_case) {
        case PG_QUERY__NODE__NODE_VARIABLE_SET_STMT: variable_set(*node->variable_set_stmt); break;
        case PG_QUERY__NODE__NODE_LISTEN_STMT: add(Effect::Listen, node->listen_stmt->conditionname); break;
        case PG_QUERY__NODE__NODE_UNLISTEN_STMT: add(Effect::Unlisten, node->unlisten_stmt->conditionname); break;
        case PG_QUERY__NODE__NODE_DECLARE_CURSOR_STMT:
            if ((node->declare_cursor_stmt->options & kCursorOptHold) != 0)
                add(Effect::HoldCursor, node->declare_cursor_stmt->portalname);
            break;
        case PG_QUERY__NODE__NODE_CLOSE_PORTAL_STMT: add(Effect::CloseCursor, node->close_portal_stmt->portalname); break;
        case PG_QUERY__NODE__NODE_PREPARE_STMT: add(Effect::Prepare, node->prepare_stmt->name); break;
        case PG_QUERY__NODE__NODE_DEALLOCATE_STMT:
            // DEALLOCATE ALL has no name.
            if (std::string_view(node->deallocate_stmt->name).empty()) {
                add(Effect::DeallocateAll, "");
            } else {
                add(Effect::Deallocate, node->deallocate_stmt->name);
            }
            break;
        case PG_QUERY__NODE__NODE_DISCARD_STMT: discard(node->discard_stmt->target); break;
        case PG_QUERY__NODE__NODE_LOAD_STMT: add(Effect::LoadLibrary, node->load_stmt->filename); break;
        case PG_QUERY__NODE__NODE_CREATE_STMT:
            if (is_temp(node->create_stmt->relation)) add(Effect::TempObject, node->create_stmt->relation->relname);
            break;
        case PG_QUERY__NODE__NODE_VIEW_STMT:
            if (is_temp(node->view_stmt->view)) add(Effect::TempObject, node->view_stmt->view->relname);
            break;
        case PG_QUERY__NODE__NODE_CREATE_SEQ_STMT:
            if (is_temp(node->create_seq_stmt->sequence)) add(Effect::TempObject, node->create_seq_stmt->sequence->relname);
            break;
        case PG_QUERY__NODE__NODE_TRANSACTION_STMT: transaction_control_ = true; break;
        case PG_QUERY__NODE__NODE_CREATE_FUNCTION_STMT:
        case PG_QUERY__NODE__NODE_DO_STMT:
            return;  // bodies are not analysed (see the header)
        default: break;
        }
        walk(&node->base);
    }

    [[nodiscard]] bool transaction_control() const noexcept { return transaction_control_; }

private:
    void add(Effect effect, std::string name) { out_.push_back({effect, std::move(name), std::string(statement_)}); }

    void variable_set(const PgQuery__VariableSetStmt& set) {
        if (set.is_local) return;  // SET LOCAL: ends with the transaction
        const std::string name = protocol::ascii_lowered(set.name);
        switch (set.kind) {
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_DEFAULT:
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET: add(Effect::SetGuc, name); break;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_RESET_ALL: add(Effect::ResetAll, ""); break;
        case PG_QUERY__VARIABLE_SET_KIND__VAR_SET_MULTI: set_multi(set, name); break;
        default: break;  // FROM CURRENT: sets the value it already has
        }
    }

    // SET TRANSACTION / SET TRANSACTION SNAPSHOT are transaction-local; SET SESSION
    // CHARACTERISTICS AS TRANSACTION sets the default_transaction_* settings.
    void set_multi(const PgQuery__VariableSetStmt& set, const std::string& name) {
        if (name != "session characteristics") {
            if (!name.starts_with("transaction")) add(Effect::Unreplayable, name);
            return;
        }
        for (std::size_t i = 0; i < set.n_args; ++i) {
            const PgQuery__Node* arg = set.args[i];
            if (arg->node_case != PG_QUERY__NODE__NODE_DEF_ELEM) {
                add(Effect::Unreplayable, name);
                continue;
            }
            add(Effect::SetGuc, "default_" + protocol::ascii_lowered(arg->def_elem->defname));
        }
    }

    void discard(PgQuery__DiscardMode mode) {
        switch (mode) {
        case PG_QUERY__DISCARD_MODE__DISCARD_ALL: add(Effect::DiscardAll, ""); break;
        case PG_QUERY__DISCARD_MODE__DISCARD_PLANS: add(Effect::DiscardPlans, ""); break;
        case PG_QUERY__DISCARD_MODE__DISCARD_SEQUENCES: add(Effect::DiscardSequences, ""); break;
        case PG_QUERY__DISCARD_MODE__DISCARD_TEMP: add(Effect::DiscardTemp, ""); break;
        default: break;
        }
    }

    void function_call(const PgQuery__FuncCall& call) {
        const std::string_view name = function_name(&call);
        if (name == "pg_advisory_lock" || name == "pg_advisory_lock_shared" || name == "pg_try_advisory_lock" ||
            name == "pg_try_advisory_lock_shared") {
            add(Effect::AdvisoryLock, std::string(name));
        } else if (name == "pg_advisory_unlock_all") {
            add(Effect::AdvisoryUnlockAll, "");
        } else if (name == "set_config" && call.n_args == 3) {
            set_config(call);
        }
    }

    // set_config(name, value, is_local): a session change unless is_local is a constant true.
    void set_config(const PgQuery__FuncCall& call) {
        const std::optional<bool> is_local = constant_bool(call.args[2]);
        if (is_local == true) return;
        const std::optional<std::string> name = constant_string(call.args[0]);
        if (!is_local || !name) {
            add(Effect::Unreplayable, name ? protocol::ascii_lowered(*name) : std::string("set_config"));
        } else {
            add(Effect::SetGuc, protocol::ascii_lowered(*name));
        }
    }

    // Every message below `root` (node_walk.hpp).
    void walk(const ProtobufCMessage* root) {
        walk_below(root, [this](const ProtobufCMessage* message) {
            const ProtobufCMessageDescriptor* descriptor = message->descriptor;
            if (descriptor == &pg_query__func_call__descriptor) {
                function_call(*reinterpret_cast<const PgQuery__FuncCall*>(message));
            } else if (descriptor == &pg_query__into_clause__descriptor) {
                const auto* into = reinterpret_cast<const PgQuery__IntoClause*>(message);
                if (is_temp(into->rel)) add(Effect::TempObject, into->rel->relname);
            } else if (descriptor == &pg_query__create_function_stmt__descriptor ||
                       descriptor == &pg_query__do_stmt__descriptor) {
                return false;  // a body inside another statement (e.g. CREATE SCHEMA ... CREATE FUNCTION)
            }
            return true;
        });
    }

    std::string_view statement_;
    std::vector<SessionChange>& out_;
    bool transaction_control_ = false;
};

}  // namespace

std::string_view to_string(Effect effect) noexcept {
    constexpr std::array<std::string_view, 19> kNames{
        "SetGuc",      "ResetAll", "Listen",     "Unlisten",      "AdvisoryLock", "AdvisoryUnlockAll", "TempObject",
        "HoldCursor",  "CloseCursor", "Prepare", "Deallocate",    "DeallocateAll", "DiscardAll",       "DiscardTemp",
        "DiscardPlans", "DiscardSequences", "LoadLibrary", "Unreplayable", "?"};
    const auto index = static_cast<std::size_t>(effect);
    return index < kNames.size() - 1 ? kNames[index] : kNames.back();
}

Analysis analyze(std::string_view sql) {
    Analysis analysis;
    const ParseTree tree = ParseTree::parse(sql);
    analysis.guard = classify(tree);
    analysis.facts = statement_facts(tree);
    if (!tree.ok()) {
        analysis.error = tree.error();
        return analysis;
    }
    analysis.parsed = true;
    const PgQuery__ParseResult& result = tree.result();
    analysis.statements = result.n_stmts;
    const std::string_view text = tree.text();
    for (std::size_t i = 0; i < result.n_stmts; ++i) {
        const PgQuery__RawStmt* raw = result.stmts[i];
        // stmt_len 0 means "to the end of the text".
        const auto start = std::min(static_cast<std::size_t>(std::max(raw->stmt_location, 0)), text.size());
        const std::string_view own =
            raw->stmt_len > 0 ? text.substr(start, static_cast<std::size_t>(raw->stmt_len)) : text.substr(start);
        Classifier classifier(trim(own), analysis.changes);
        classifier.statement(raw->stmt);
        analysis.transaction_control = analysis.transaction_control || classifier.transaction_control();
    }
    return analysis;
}

}  // namespace sluice::sql
