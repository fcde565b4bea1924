#include "protocol/sql/statement_facts.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cstring>

#include "protocol/sql/lexical.hpp"
#include "protocol/sql/node_walk.hpp"
#include "protocol/sql/parse_tree.hpp"

namespace sluice::sql {
namespace {

template <class T>
const T& as(const ProtobufCMessage* message) {
    return *reinterpret_cast<const T*>(message);
}

template <class T>
void add_unique(std::vector<T>& to, T value) {
    if (std::find(to.begin(), to.end(), value) == to.end()) to.push_back(std::move(value));
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = lexical::ascii_lower(c);
    return out;
}

}  // namespace

StatementFacts statement_facts(const ParseTree& tree) {
    StatementFacts facts;
    if (!tree.ok()) return facts;
    const PgQuery__ParseResult& result = tree.result();
    for (std::size_t i = 0; i < result.n_stmts; ++i) {
        walk_below(&result.stmts[i]->base, [&](const ProtobufCMessage* message) {
            const ProtobufCMessageDescriptor* d = message->descriptor;
            std::string_view kind = d->short_name;
            if (kind.size() > 4 && kind.ends_with("Stmt") && kind != "RawStmt") {
                add_unique(facts.kinds, lower(kind.substr(0, kind.size() - 4)));
            } else if (d == &pg_query__range_var__descriptor) {
                const auto& rel = as<PgQuery__RangeVar>(message);
                add_unique(facts.tables, QualifiedName{rel.schemaname ? rel.schemaname : "", rel.relname ? rel.relname : ""});
            } else if (d == &pg_query__func_call__descriptor) {
                const auto& call = as<PgQuery__FuncCall>(message);
                QualifiedName name;
                for (std::size_t k = 0; k < call.n_funcname; ++k) {
                    const PgQuery__Node* part = call.funcname[k];
                    if (part == nullptr || part->node_case != PG_QUERY__NODE__NODE_STRING) continue;
                    name.schema = std::move(name.name);
                    name.name = part->string->sval;
                }
                add_unique(facts.functions, std::move(name));
            }
            return true;
        });
    }
    return facts;
}

QualifiedName parse_qualified_name(std::string_view text) {
    std::vector<std::string> parts(1);
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c == '"') {
            if (quoted && i + 1 < text.size() && text[i + 1] == '"') {
                parts.back().push_back('"');
                ++i;
            } else {
                quoted = !quoted;
            }
        } else if (c == '.' && !quoted) {
            parts.emplace_back();
        } else {
            parts.back().push_back(quoted ? c : lexical::ascii_lower(c));
        }
    }
    QualifiedName out;
    out.name = parts.back();
    if (parts.size() >= 2) out.schema = parts[parts.size() - 2];
    return out;
}

bool names_match(const QualifiedName& wanted, const QualifiedName& actual) {
    if (wanted.name != actual.name) return false;
    return wanted.schema.empty() || actual.schema.empty() || wanted.schema == actual.schema;
}

}  // namespace sluice::sql
