#include "tests/integration/proxy/pq.hpp"

#include <poll.h>

#include <algorithm>

#include <stdexcept>

namespace sluice::testing {

namespace {

std::string trimmed(const char* text) {
    std::string s = text ? text : "";
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
}

}  // namespace

PgConn pq_connect(const std::string& conninfo) { return PgConn(PQconnectdb(conninfo.c_str())); }

bool connected(const PGconn* c) noexcept { return c != nullptr && PQstatus(c) == CONNECTION_OK; }

std::string conn_error(const PGconn* c) { return c ? trimmed(PQerrorMessage(c)) : "no connection object"; }

std::string sqlstate(const PGresult* r) {
    const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
    return s ? s : "";
}

std::string error_message(const PGresult* r) { return r ? trimmed(PQresultErrorMessage(r)) : ""; }

bool succeeded(const PGresult* r) noexcept {
    if (!r) return false;
    auto st = PQresultStatus(r);
    return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY;
}

PgResult exec(PGconn* c, const std::string& sql) { return PgResult(PQexec(c, sql.c_str())); }

PgResult exec_ok(PGconn* c, const std::string& sql) {
    auto r = exec(c, sql);
    if (!succeeded(r.get())) {
        // Appended, not "[" + sqlstate(...): g++ 12 at -O3 reports a false -Wrestrict overlap in
        // that operator+ (GCC bug 105651).
        std::string why = r ? std::string("[").append(sqlstate(r.get())).append("] ").append(error_message(r.get()))
                            : conn_error(c);
        throw std::runtime_error("\"" + sql + "\" failed: " + why);
    }
    return r;
}

std::string query_value(PGconn* c, const std::string& sql) {
    auto r = exec_ok(c, sql);
    if (PQntuples(r.get()) < 1 || PQnfields(r.get()) < 1)
        throw std::runtime_error("\"" + sql + "\" returned no value");
    return PQgetvalue(r.get(), 0, 0);
}

std::string TimedResult::describe() const {
    if (timed_out) return "timed out";
    if (connection_lost && !result) return "connection lost: " + error;
    if (!result) return "no result: " + error;
    std::string s = PQresStatus(PQresultStatus(result.get()));
    if (!succeeded(result.get())) s += " [" + sqlstate(result.get()) + "] " + error_message(result.get());
    if (connection_lost) s += " (connection lost)";
    return s;
}

TimedResult collect_with_deadline(PGconn* c, const std::function<int(PGconn*)>& send, std::chrono::milliseconds timeout) {
    using Clock = std::chrono::steady_clock;
    TimedResult out;
    const auto deadline = Clock::now() + timeout;
    if (!send(c)) {
        out.connection_lost = true;
        out.error = conn_error(c);
        return out;
    }
    for (;;) {
        // Drain every result that can be read without blocking.
        while (!PQisBusy(c)) {
            PgResult r(PQgetResult(c));
            if (!r) {
                if (PQstatus(c) == CONNECTION_BAD) {
                    out.connection_lost = true;
                    out.error = conn_error(c);
                }
                return out;
            }
            // Keep the first error: later results (e.g. after a FATAL) add nothing.
            if (!out.result || succeeded(out.result.get())) out.result = std::move(r);
        }
        int flushed = PQflush(c);
        auto now = Clock::now();
        if (now >= deadline) {
            out.timed_out = true;
            return out;
        }
        pollfd p{PQsocket(c), static_cast<short>(POLLIN | (flushed == 1 ? POLLOUT : 0)), 0};
        if (p.fd < 0) {
            out.connection_lost = true;
            out.error = conn_error(c);
            return out;
        }
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
        ::poll(&p, 1, static_cast<int>(std::max<long long>(left, 1)));
        if (!PQconsumeInput(c)) {
            // The connection broke: whatever libpq parsed before is still readable.
            out.connection_lost = true;
            out.error = conn_error(c);
            while (!PQisBusy(c)) {
                PgResult r(PQgetResult(c));
                if (!r) break;
                if (!out.result || succeeded(out.result.get())) out.result = std::move(r);
            }
            return out;
        }
    }
}

TimedResult exec_with_deadline(PGconn* c, const std::string& sql, std::chrono::milliseconds timeout) {
    return collect_with_deadline(c, [&](PGconn* conn) { return PQsendQuery(conn, sql.c_str()); }, timeout);
}

}  // namespace sluice::testing
