// upstream_pooler acceptance, session settings: a client's startup options and its plain SETs
// are in force in every one of its transactions, whichever backend of the upstream pooler it
// lands on, and never in another client's transactions, even on a backend where they were just
// in force. (PgBouncer itself ignores the startup "options" and never resets a backend in
// transaction mode: whatever a transaction SETs stays on that backend for the next one.)
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "tests/integration/upstream_pooler/upstream_pooler_support.hpp"

namespace sluice::testing::upstream_pooler {
namespace {

class UpstreamPoolerSettings : public UpstreamPoolerTest {};

constexpr const char* kDefaultSearchPath = "\"$user\", public";
constexpr const char* kSearchPathA = "a_schema, public";

struct Seen {
    std::string statement_timeout, search_path, table, pid;
    std::string error;  // the query's error ("[42P01] ..."), empty if it ran
    [[nodiscard]] std::string describe() const {
        if (!error.empty()) return "the error " + error;
        return "{statement_timeout=" + statement_timeout + " search_path=" + search_path +
               (table.empty() ? "" : " a_only=" + table) + " backend " + pid + "}";
    }
};

// What a transaction sees. `with_table`: also reads a_only unqualified (only a_schema has it, so
// without A's search_path the query fails with 42P01).
Seen probe(PGconn* c, bool with_table) {
    const std::string sql = std::string("SELECT current_setting('statement_timeout'), current_setting('search_path'), ") +
                            (with_table ? "(SELECT v FROM a_only)" : "''") + ", pg_backend_pid()";
    PgResult r = exec(c, sql);
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK || PQntuples(r.get()) != 1) {
        Seen failed;
        failed.error = "[" + sqlstate(r.get()) + "] " + error_message(r.get());
        return failed;
    }
    return {PQgetvalue(r.get(), 0, 0), PQgetvalue(r.get(), 0, 1), PQgetvalue(r.get(), 0, 2), PQgetvalue(r.get(), 0, 3),
            {}};
}

// Checks of one probe: throw with what was expected and what was seen.
void expect_a(const Seen& seen, const std::string& when) {
    if (!seen.error.empty())
        throw std::runtime_error("client A, " + when + ": expected its settings (statement_timeout 1234ms from its " +
                                 "startup option, search_path " + kSearchPathA + " from its SET, so a_only " +
                                 "readable unqualified), got " + seen.describe());
    if (seen.statement_timeout != "1234ms")
        throw std::runtime_error("client A, " + when + ": expected statement_timeout 1234ms (its startup option), saw " +
                                 seen.describe());
    if (seen.search_path != kSearchPathA || seen.table != "in a_schema")
        throw std::runtime_error("client A, " + when + ": expected search_path " + kSearchPathA +
                                 " (its SET) and a_only readable, saw " + seen.describe());
}
void expect_b(const Seen& seen, const std::string& when, const std::string& a_pid) {
    if (!seen.error.empty() || seen.statement_timeout != "0" || seen.search_path != kDefaultSearchPath)
        throw std::runtime_error("client B, " + when + ": expected the defaults {statement_timeout=0 search_path=" +
                                 kDefaultSearchPath + "}, saw " + seen.describe() + " (A's last transaction was on " +
                                 a_pid + ")");
}

TEST_F(UpstreamPoolerSettings, StartupOptionsAndSetsFollowTheirClientOnly) {
    pg().exec_superuser(
        "DROP SCHEMA IF EXISTS a_schema CASCADE; CREATE SCHEMA a_schema; GRANT USAGE ON SCHEMA a_schema TO PUBLIC;"
        " CREATE TABLE a_schema.a_only (v text); INSERT INTO a_schema.a_only VALUES ('in a_schema');"
        " GRANT SELECT ON a_schema.a_only TO PUBLIC");
    Holder holder(*bouncer_);
    auto a = libpq_client("options='-c statement_timeout=1234'");
    auto b = libpq_client();
    ASSERT_TRUE(connected(a.get())) << "client A: " << conn_error(a.get());
    ASSERT_TRUE(connected(b.get())) << "client B: " << conn_error(b.get());
    BackendLog backends_a, backends_b;
    int b_after_a_on_same_backend = 0;  // B's transactions on the backend A's transaction just used
    int a_moved = 0;                    // A's transactions right after its own on another backend
    try {
        exec_ok(a.get(), "SET search_path = a_schema, public");
        auto probe_a = [&](const std::string& when) {
            auto seen = probe(a.get(), true);
            expect_a(seen, when);
            backends_a.add(seen.pid);
            return seen;
        };
        auto probe_b = [&](const std::string& when, const Seen& last_a) {
            auto seen = probe(b.get(), false);
            expect_b(seen, when, last_a.pid);
            backends_b.add(seen.pid);
            if (seen.pid == last_a.pid) ++b_after_a_on_same_backend;
        };
        // Three kinds of rounds, so that sluice's server connections and the backends behind them
        // mix every way: B right after A on A's backend; A twice in a row on two backends (no
        // other client between them on sluice's server connection); B while A is inside a
        // transaction (so on sluice's other server connection and PgBouncer's other backend).
        for (int i = 0; i < 30; ++i) {
            const std::string round = "round " + std::to_string(i);
            switch (i % 3) {
                case 0: {
                    holder.hold_if_odd(i);
                    const auto seen_a = probe_a(round);
                    probe_b(round + ", after A", seen_a);
                    holder.release();
                    break;
                }
                case 1: {
                    holder.hold_if_odd(i);
                    const auto first = probe_a(round + ", first of two");
                    holder.toggle();
                    const auto second = probe_a(round + ", second of two");
                    if (second.pid != first.pid) ++a_moved;
                    probe_b(round + ", after A's two", second);
                    holder.release();
                    break;
                }
                default: {
                    exec_ok(a.get(), "BEGIN");
                    const auto seen_a = probe_a(round + ", in A's BEGIN");
                    probe_b(round + ", while A is in a transaction", seen_a);
                    probe_a(round + ", in A's BEGIN, after B");
                    exec_ok(a.get(), "COMMIT");
                    break;
                }
            }
        }
    } catch (const std::exception& e) {
        FAIL() << e.what() << "\n(A so far: " << backends_a.describe() << "; B so far: " << backends_b.describe()
               << ")";
    }
    report("client A ran in " + backends_a.describe() + "; moved between two of its own transactions " +
           std::to_string(a_moved) + " times of 10");
    report("client B ran in " + backends_b.describe() + "; " + std::to_string(b_after_a_on_same_backend) +
           " of them on the backend A had just used");
    EXPECT_GE(backends_a.distinct(), 2u) << "A's transactions never switched backends, so this proves nothing: "
                                         << backends_a.describe();
    EXPECT_GT(a_moved, 0) << "A never ran two transactions in a row on different backends";
    EXPECT_GT(b_after_a_on_same_backend, 0)
        << "B never ran on the backend A had just used, so B's defaults prove nothing: A " << backends_a.describe()
        << "; B " << backends_b.describe();
    expect_fresh_client_works();
}

}  // namespace
}  // namespace sluice::testing::upstream_pooler
