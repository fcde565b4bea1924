#pragma once
// What a SQL text does, for the guard's custom rules ([[guard.custom]]): every kind of statement
// in it (nested ones too), every table it names, every function it calls. Pure and I/O-free: read
// from a ParseTree (parse_tree.hpp).
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sql {

class ParseTree;

// A possibly schema-qualified name as the parser folded it (unquoted identifiers lower-cased).
struct QualifiedName {
    std::string schema;  // empty when not qualified
    std::string name;
    friend bool operator==(const QualifiedName&, const QualifiedName&) = default;
};

struct StatementFacts {
    // The parse node of every statement, without "Stmt", lower-cased: "delete", "update", "drop",
    // "truncate", "select", "variableset", "grant", "copy", "call", "do"... (PostgreSQL's parse node
    // names: parsenodes.h).
    std::vector<std::string> kinds;
    std::vector<QualifiedName> tables;     // every relation named (RangeVar): FROM, INTO, DML targets, DDL
    std::vector<QualifiedName> functions;  // every function called (FuncCall, CALL)
};

// Empty facts for a tree that did not parse.
StatementFacts statement_facts(const ParseTree& tree);

// A name as a client or a config file writes it ("public.Payments", "\"Payments\""), folded the
// way PostgreSQL folds identifiers: unquoted parts lower-cased, quoted parts kept. No dot: no schema.
QualifiedName parse_qualified_name(std::string_view text);

// Whether `actual` (from a statement) is what `wanted` (a rule) names: same name, and same schema
// when both give one. An unqualified name in a statement may resolve to any schema through
// search_path, so it matches a qualified rule by name alone (fail closed).
bool names_match(const QualifiedName& wanted, const QualifiedName& actual);

}  // namespace sluice::sql
