#pragma once
// Helpers of the timeout tests (issue 9): configs with [timeouts] keys, a stopwatch, and reading a
// client until sluice's error (SQLSTATE, severity, message) for raw clients and libpq.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <poll.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/error_fields.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::timeouts {

using namespace std::chrono_literals;
using relay::Outcome;
using relay::try_query;

// Milliseconds since it was made (or restarted).
class Stopwatch {
public:
    Stopwatch() noexcept : start_(std::chrono::steady_clock::now()) {}
    void restart() noexcept { start_ = std::chrono::steady_clock::now(); }
    [[nodiscard]] long long ms() const noexcept {
        return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::chrono::steady_clock::time_point start_;
};

inline bool contains(std::string_view haystack, std::string_view needle) {
    return haystack.find(needle) != std::string_view::npos;
}

// Trust auth (cheap logins) with `timeouts` as more [timeouts] lines.
inline SluiceConfig trust_config(std::uint32_t pool_size, std::string timeouts) {
    auto c = SluiceConfig::trust();
    c.pool_size = pool_size;
    c.timeouts_toml = std::move(timeouts);
    c.query_wait = "3s";  // no test here waits for a server that long: a missing timeout fails fast
    return c;
}

// A raw client of sluice as `role`, optionally with an application_name at startup.
inline BlockingClient open_client(const SluiceProcess& sluice, const PgRole& role = kTrustRole,
                              std::string_view database = "postgres", std::string_view application_name = {}) {
    auto o = sluice_client(sluice, role, database);
    o.timeout = 15s;  // each read: past every timeout under test, short of a hung test
    if (!application_name.empty()) o.parameters.emplace_back("application_name", std::string(application_name));
    return BlockingClient::connect(o);
}

// What a client saw of the first ErrorResponse, with whatever ended the exchange.
struct SeenError {
    std::string sqlstate;
    std::string severity;
    std::string message;
    bool closed = false;  // the connection ended (EOF, reset) after it
    long long ms = -1;    // when it arrived, from the stopwatch given
    [[nodiscard]] std::string describe() const {
        return sqlstate.empty() ? std::string("no error") + (closed ? " (closed)" : "")
                                : severity + " " + sqlstate + ": " + message + (closed ? " (closed)" : "");
    }
};

inline SeenError seen(const Outcome& o, const Stopwatch& clock) {
    SeenError e;
    e.ms = clock.ms();
    if (o.error) {
        e.sqlstate = std::string(o.error->code());
        e.severity = std::string(o.error->severity());
        e.message = std::string(o.error->message());
    }
    e.closed = !o.ended.empty();
    return e;
}

// A simple query timed by `clock` (restarted just before it is sent).
inline SeenError timed_query(BlockingClient& c, std::string_view sql, Stopwatch& clock) {
    clock.restart();
    return seen(try_query(c, sql), clock);
}

// Reads `c` until it closes or nothing arrives for `timeout`: the first ErrorResponse and when it
// arrived (for a client that is silent while sluice acts on its own).
inline SeenError wait_for_error_and_close(BlockingClient& c, std::chrono::milliseconds timeout,
                                          const Stopwatch& clock) {
    SeenError e;
    auto saved = c.timeout();
    c.set_timeout(timeout);
    try {
        for (;;) {
            auto m = c.read_message_or_eof();
            if (!m) {
                e.closed = true;
                break;
            }
            if (auto f = relay::error_of(*m); f && e.sqlstate.empty()) {
                e.ms = clock.ms();
                e.sqlstate = std::string(f->code());
                e.severity = std::string(f->severity());
                e.message = std::string(f->message());
            }
        }
    } catch (const ClientError& err) {
        // A reset counts as a close; a read timeout leaves `closed` false.
        e.closed = !contains(err.what(), "timed out");
    }
    c.set_timeout(saved);
    if (e.ms < 0) e.ms = clock.ms();
    return e;
}

// True if nothing arrives on `c` for `quiet` (the client stays silent meanwhile).
inline bool nothing_arrives(const BlockingClient& c, std::chrono::milliseconds quiet) {
    pollfd p{c.native_handle(), POLLIN, 0};
    return ::poll(&p, 1, static_cast<int>(quiet.count())) == 0;
}

// What differs from sluice's statement timeout as the client must see it (ERROR 57014 naming the
// key and the value as written in the config); "" when nothing does. A string, so that a failure
// points at the test's line.
inline std::string statement_timeout_problems(const SeenError& e, std::string_view value) {
    std::string why;
    if (e.sqlstate != "57014") why += "SQLSTATE is not 57014; ";
    if (e.severity != "ERROR") why += "severity is not ERROR; ";
    if (!contains(e.message, "timeouts.statement")) why += "message does not name timeouts.statement; ";
    if (!contains(e.message, value)) why += "message does not name " + std::string(value) + "; ";
    return why.empty() ? why : why + "got " + e.describe();
}

// Backends of PostgreSQL still running a pg_sleep (not counting the query asking).
inline int sleeping_backends(const PgCluster& cluster = pg()) {
    return std::stoi(cluster
                         .exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' AND "
                                         "query LIKE '%pg_sleep%' AND pid <> pg_backend_pid()")
                         .at(0)
                         .at(0));
}

// Updates row `id` of `table` directly on PostgreSQL without waiting more than 200 ms for its
// lock; the row's value after, or the error ("[55P03] ...") if the lock was still held.
inline std::string update_directly(const std::string& table, int id, const PgCluster& cluster = pg()) {
    try {
        auto rows = cluster.exec_superuser("SET lock_timeout = '200ms'; UPDATE " + table + " SET v = v WHERE id = " +
                                           std::to_string(id) + " RETURNING v");
        return rows.empty() ? "<no row>" : rows.at(0).at(0);
    } catch (const std::exception& e) {
        return std::string("error: ") + e.what();
    }
}

// ---- libpq with a deadline, for the extended protocol ------------------------------------------

inline SeenError seen(const TimedResult& r, const Stopwatch& clock) {
    SeenError e;
    e.ms = clock.ms();
    if (r.result && !succeeded(r.result.get())) {
        e.sqlstate = sqlstate(r.result.get());
        const char* s = PQresultErrorField(r.result.get(), PG_DIAG_SEVERITY_NONLOCALIZED);
        e.severity = s ? s : "";
        const char* m = PQresultErrorField(r.result.get(), PG_DIAG_MESSAGE_PRIMARY);
        e.message = m ? m : "";
    }
    e.closed = r.connection_lost;
    return e;
}

}  // namespace sluice::testing::timeouts
