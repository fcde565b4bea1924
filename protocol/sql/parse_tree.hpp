#pragma once
// One SQL string parsed by libpg_query (PostgreSQL 15's own grammar), as an owned tree. The one
// place that calls pg_query_*: session-state classification (session_state.hpp) and the query
// guard (guard.hpp) read the same tree. Pure: no I/O, no logging.
//
// Thread safety: libpg_query keeps its memory context per thread, so parse() may run on several
// threads at once. Each call frees everything it allocated (the ParseTree owns the unpacked tree).
// Cost: the parse is linear in the text for ordinary SQL, but it is PostgreSQL's bison parser:
// a multi-megabyte string costs milliseconds. Callers cap the size; nothing is capped here.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

// libpg_query's protobuf-c types stay out of this header (only files that walk nodes include
// <pg_query/pg_query.pb-c.h>).
struct PgQuery__ParseResult;

namespace sluice::sql {

class ParseTree {
public:
    // Parses `sql`. As on the server, the text ends at its first NUL byte.
    static ParseTree parse(std::string_view sql);

    [[nodiscard]] bool ok() const noexcept { return result_ != nullptr; }
    // Why the parse failed (PostgreSQL's message, e.g. `syntax error at or near "x"`); empty when ok().
    [[nodiscard]] const std::string& error() const noexcept { return error_; }
    // The statements (RawStmt list) when ok(). Valid as long as this ParseTree lives.
    [[nodiscard]] const PgQuery__ParseResult& result() const noexcept { return *result_; }
    // The text that was parsed (up to the first NUL): statement locations index into it.
    [[nodiscard]] std::string_view text() const noexcept { return text_; }

private:
    struct Free {
        void operator()(PgQuery__ParseResult* result) const noexcept;
    };
    std::string text_;
    std::unique_ptr<PgQuery__ParseResult, Free> result_;
    std::string error_;
};

// For audit logs: the text with every literal replaced by $1, $2... (no values leak into logs), and
// libpg_query's fingerprint of the statement's shape (16 hex digits; the same for texts that differ
// only in literals, whitespace and comments). nullopt when the text does not parse.
std::optional<std::string> normalized_text(std::string_view sql);
std::optional<std::string> fingerprint(std::string_view sql);

}  // namespace sluice::sql
