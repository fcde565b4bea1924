#pragma once
// The query guard's classifier: which of sluice's built-in rules a SQL string breaks. Pure and
// I/O-free: it reads a ParseTree (parse_tree.hpp, PostgreSQL's own grammar, so comments, quoting,
// dollar quotes, E'' and U&'' forms are read exactly as the server reads them) and reports every
// rule hit; the proxy decides (mode, enabled rules, exemptions, unparsable = block|allow).
//
// Where statements are looked for: every statement of a multi-statement string and every
// statement nested in another one (CTEs, sub-selects, PREPARE ... AS, CREATE RULE actions,
// COPY (query), CREATE SCHEMA elements, CREATE TABLE AS ...), except:
//   - the query of a plain EXPLAIN (it does not run). EXPLAIN ANALYZE runs it: its findings are
//     reported, each followed by an `explain_analyze` finding (so either rule blocks it). ANALYZE
//     is read as PostgreSQL reads the option list: the last ANALYZE wins, and anything but
//     false/off/0 counts as true (a value PostgreSQL rejects fails the statement anyway);
//   - function and procedure bodies: CREATE FUNCTION/PROCEDURE and DO are `opaque_code` whatever
//     their body (a BEGIN ATOMIC body included), and are not looked into.
// Not classified: code already in the database (CALL p(), SELECT f(), triggers firing, EXECUTE of
// a prepared statement whose PREPARE was classified when it was sent).
//
// A WHERE (DELETE, UPDATE) or a MERGE WHEN MATCHED ... AND condition "restricts" when:
//   - it is WHERE CURRENT OF; or
//   - an AND with at least one restricting arm; an OR whose arms all restrict; NOT x when x does;
//   - any other expression that references a column of the target. A column reference counts
//     when it is outside every sub-select and is unqualified or qualified with the target's name
//     (its alias when it has one; with USING/FROM an unqualified name may belong to the other
//     table, but without the catalog it gets the benefit of the doubt). Inside a sub-select it
//     counts only when qualified with the target's name (an unqualified name there binds to the
//     sub-select's own FROM first, and a constant sub-select such as EXISTS (SELECT 1) is the
//     same for every row), and not even then when the sub-select's FROM names a relation or
//     alias like the target (it hides the target). For MERGE, a column of the source counts too
//     (WHEN MATCHED AND src.flag: the ON join already pairs rows);
//   - AND/OR/NOT nested deeper than 256 levels does not restrict (fail closed).
// So `WHERE true`, `1=1`, `'a'='a'`, `now() IS NOT NULL`, `EXISTS (SELECT 1)`, `$1`,
// `id = 1 OR true`, `other_table.x = 1` (USING/FROM) and, in a rule action, `NEW.id = 1` do not
// restrict. Tautologies over a column (`id = id`, `id IS NOT NULL OR id IS NULL`) are not
// detected: the rule is a guard against forgotten WHEREs, not a prover.
//
// The optional migration_safety rules are reported too; callers enable them (is_default()).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::sql {

class ParseTree;

enum class Rule : std::uint8_t {
    // The default set (mode = "enforce" with no rule list).
    Drop,                // any DROP ... statement, DROP OWNED, DROP ROLE/USER, DROP DATABASE
    Truncate,            // TRUNCATE; one finding per table
    DeleteWithoutWhere,  // DELETE without a restricting WHERE, MERGE WHEN MATCHED THEN DELETE without AND
    UpdateWithoutWhere,  // UPDATE without a restricting WHERE, MERGE WHEN MATCHED THEN UPDATE without AND
    AlterDropColumn,     // ALTER TABLE/VIEW/FOREIGN TABLE ... DROP COLUMN, ALTER TYPE ... DROP ATTRIBUTE
    AlterSystem,         // ALTER SYSTEM SET/RESET
    CopyProgram,         // COPY ... TO/FROM PROGRAM
    CreateDropDatabase,  // CREATE DATABASE; DROP DATABASE (reported after its `drop` finding)
    OpaqueCode,          // DO, CREATE [OR REPLACE] FUNCTION/PROCEDURE
    ExplainAnalyze,      // EXPLAIN ANALYZE of a statement with a finding (after that finding)
    Unparsable,          // never in a Finding: GuardVerdict::parsed == false (named for config and logs)
    // The migration_safety pack (off by default).
    Rename,                // ALTER ... RENAME (table, column, view, ... any object)
    AlterColumnType,       // ALTER TABLE ... ALTER COLUMN ... TYPE
    SetNotNull,            // ALTER TABLE ... ALTER COLUMN ... SET NOT NULL
    AddNotNullColumn,      // ALTER TABLE ... ADD COLUMN ... NOT NULL without a DEFAULT
    IndexNotConcurrently,  // CREATE INDEX / DROP INDEX without CONCURRENTLY (whether the table is new is not known)
    // ALTER TABLE ... ADD CONSTRAINT: CHECK/FOREIGN KEY without NOT VALID; UNIQUE/PRIMARY KEY/EXCLUDE
    // (they have no NOT VALID form) unless USING INDEX
    ConstraintNotValid,
    VacuumFull,            // VACUUM (FULL)
    Cluster,               // CLUSTER
    LockTable,             // LOCK [TABLE]
};

// Stable names: "drop", "truncate", "delete_without_where", "update_without_where",
// "alter_drop_column", "alter_system", "copy_program", "create_drop_database", "opaque_code",
// "explain_analyze", "unparsable", "rename", "alter_column_type", "set_not_null",
// "add_not_null_column", "index_not_concurrently", "constraint_not_valid", "vacuum_full",
// "cluster", "lock_table".
std::string_view to_string(Rule rule) noexcept;
std::optional<Rule> rule_from_string(std::string_view name) noexcept;
// In the default rule set (Drop ... Unparsable); false for the migration_safety pack.
bool is_default(Rule rule) noexcept;

struct Finding {
    Rule rule;
    std::string statement_type;   // e.g. "DELETE", "DROP TABLE", "CREATE FUNCTION", "EXPLAIN ANALYZE"
    std::string table;            // the table concerned, schema-qualified as written; empty when none
    std::size_t statement_index;  // which statement of a multi-statement string (0-based)
};

struct GuardVerdict {
    bool parsed = false;
    std::string error;              // the parser's message when !parsed
    std::vector<Finding> findings;  // every rule hit, in statement order (empty: allowed)
};

// Cheap, conservative test to run on every client SQL string before any parse: false means no
// rule (default or migration_safety) can find anything in the text, so it need not be parsed. One
// pass, no allocation: it looks for the first keywords of the statements rules find (alter,
// cluster, copy, create, delete, do, drop, lock, truncate, update, vacuum) as whole words anywhere,
// in comments and string literals too, and after digits or '$' glued to them. A text without any
// of them is not parsed, so `unparsable` applies only to texts with one (a statement no rule could
// find does not need the parser's word).
bool may_break_rule(std::string_view sql) noexcept;

// An unparsed tree gives parsed = false and no findings (the caller applies unparsable).
// Never throws except std::bad_alloc.
GuardVerdict classify(const ParseTree& tree);
GuardVerdict classify(std::string_view sql);  // parses (uncached), then the above

}  // namespace sluice::sql
