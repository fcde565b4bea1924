#pragma once
// Thin libpq helpers for the proxy tests: owning handles, SQLSTATE access, and query execution
// with a deadline so that a misbehaving proxy fails a test instead of hanging it.
#include <libpq-fe.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::testing {

struct PgConnCloser {
    void operator()(PGconn* c) const noexcept { PQfinish(c); }
};
struct PgResultClearer {
    void operator()(PGresult* r) const noexcept { PQclear(r); }
};
using PgConn = std::unique_ptr<PGconn, PgConnCloser>;
using PgResult = std::unique_ptr<PGresult, PgResultClearer>;

// PQconnectdb; never null (check connected()).
PgConn pq_connect(const std::string& conninfo);
[[nodiscard]] bool connected(const PGconn* c) noexcept;
// PQerrorMessage without the trailing newline.
[[nodiscard]] std::string conn_error(const PGconn* c);

[[nodiscard]] std::string sqlstate(const PGresult* r);  // "" when the result has none
[[nodiscard]] std::string error_message(const PGresult* r);
// True for PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_EMPTY_QUERY.
[[nodiscard]] bool succeeded(const PGresult* r) noexcept;

// PQexec (blocking; use where the test controls the server side).
PgResult exec(PGconn* c, const std::string& sql);
// PQexec that throws std::runtime_error ("[SQLSTATE] message") unless it succeeded.
PgResult exec_ok(PGconn* c, const std::string& sql);
// The first column of the first row (throws if there is none or on error).
std::string query_value(PGconn* c, const std::string& sql);

// The outcome of a statement run with a deadline.
struct TimedResult {
    PgResult result;            // the last result (the first error, if any), may be null
    bool timed_out = false;     // no ReadyForQuery before the deadline
    bool connection_lost = false;
    std::string error;          // libpq's error text when there was no result to read it from
    [[nodiscard]] bool ok() const noexcept { return !timed_out && !connection_lost && result && succeeded(result.get()); }
    [[nodiscard]] std::string state() const { return result ? sqlstate(result.get()) : std::string(); }
    [[nodiscard]] std::string describe() const;
};

// PQsendQuery, then polls the socket until every result arrived or `timeout` passed. Never
// blocks longer than `timeout` (plus scheduling noise).
TimedResult exec_with_deadline(PGconn* c, const std::string& sql, std::chrono::milliseconds timeout);
// The same for any way of sending (PQsendQueryParams, PQsendQueryPrepared...): `send` returns
// what the PQsend* call returned.
TimedResult collect_with_deadline(PGconn* c, const std::function<int(PGconn*)>& send, std::chrono::milliseconds timeout);

}  // namespace sluice::testing
