// upstream_pooler acceptance, named prepared statements at the protocol level: a statement
// prepared in one transaction keeps working in every later one, whichever backend of the
// upstream pooler it lands on (autocommit, explicit transactions spanning several Syncs,
// Describe, two Sync groups in one write), and Close, re-Parse and SQL DEALLOCATE behave as on
// PostgreSQL. Without the setting, sluice believes its server connection still has the
// statement while PgBouncer moved it to another backend: Bind fails with 26000.
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/integration/upstream_pooler/upstream_pooler_support.hpp"

namespace sluice::testing::upstream_pooler {
namespace {

using prepared::bind;
using prepared::close_statement;
using prepared::describe_statement;
using prepared::execute;
using prepared::parse;
using prepared::query;
using prepared::run_statement;
using prepared::sync;

class UpstreamPoolerPrepared : public UpstreamPoolerTest {};

constexpr const char* kPlusOne = "SELECT $1::int + 1 AS n, pg_backend_pid() AS pid";
constexpr const char* kBang = "SELECT $1::text || '!' AS bang, pg_backend_pid() AS pid";
constexpr const char* kTimesThree = "SELECT $1::int * 3 AS n3, pg_backend_pid() AS pid";
constexpr std::int32_t kInt4Oid = 23;

std::string failure_text(const Answer& a) {
    return a.error ? std::string(a.error->code()) + " " + std::string(a.error->message()) : std::string("no error");
}

// An exchange that must succeed (ParseComplete, CloseComplete, a command tag): throws otherwise.
void expect_ok(const Answer& a, const std::string& when) {
    if (a.error || a.status == 'E')
        throw std::runtime_error(when + ": expected success, got " + failure_text(a) + "\n" + a.transcript);
}

// A run of a statement whose row is (value, pg_backend_pid()): the value must be `expected`.
// Returns the backend it ran on.
std::string checked_row(const Answer& a, const std::string& expected, const std::string& when) {
    if (a.error)
        throw std::runtime_error(when + ": expected the row (" + expected + ", <pid>), got " + failure_text(a) + "\n" +
                                 a.transcript);
    if (a.rows.size() != 1 || a.rows[0].size() != 2 || !a.rows[0][0] || !a.rows[0][1])
        throw std::runtime_error(when + ": expected one row (" + expected + ", <pid>), got\n" + a.transcript);
    if (*a.rows[0][0] != expected)
        throw std::runtime_error(when + ": expected " + expected + ", got " + *a.rows[0][0] + "\n" + a.transcript);
    return *a.rows[0][1];
}

// Bind + Execute of a statement that must be gone: 26000 as on PostgreSQL, the session idle after.
void expect_no_statement(BlockingClient& c, const std::string& name, const std::string& when) {
    auto a = round_trip(c, bind(name, {"1"}) + execute() + sync());
    if (!a.error || a.error->code() != "26000")
        throw std::runtime_error(when + ": expected 26000 (prepared statement \"" + name + "\" does not exist), got " +
                                 failure_text(a) + "\n" + a.transcript);
    if (a.status != 'I')
        throw std::runtime_error(when + ": expected the session idle after the error, got status '" +
                                 std::string(1, a.status) + "'");
}

// Runs `statement` with `arg` in `rounds` transactions, every other one on the other backend.
void run_across_backends(BlockingClient& c, Holder& holder, BackendLog& backends, const std::string& statement,
                         int rounds, const std::function<std::string(int)>& arg,
                         const std::function<std::string(int)>& expected, const std::string& what) {
    for (int i = 0; i < rounds; ++i) {
        holder.hold_if_odd(i);
        const std::string a = arg(i);
        backends.add(checked_row(round_trip(c, run_statement(statement, {a})), expected(i),
                                 what + ", round " + std::to_string(i)));
        holder.release();
    }
}

TEST_F(UpstreamPoolerPrepared, NamedStatementsFollowTheClientAcrossBackends) {
    Holder holder(*bouncer_);
    auto c = raw_client();
    BackendLog backends;
    std::string pipelines;  // the backends of each pipeline's two Sync groups, for the report
    try {
        expect_ok(round_trip(c, parse("s1", kPlusOne) + sync()), "Parse s1 in a transaction of its own");

        // ~30 transactions: autocommit runs, and every fifth an explicit transaction of three
        // Syncs (which PostgreSQL keeps on one backend: sluice must not prepare twice in it).
        for (int i = 0; i < 30; ++i) {
            holder.hold_if_odd(i);
            const std::string when = "s1, round " + std::to_string(i);
            if (i % 5 == 4) {
                expect_ok(round_trip(c, query("BEGIN")), when + ": BEGIN");
                std::set<std::string> in_tx;
                for (int k = 0; k < 3; ++k) {
                    const std::string arg = std::to_string(100 * i + k);
                    in_tx.insert(checked_row(round_trip(c, run_statement("s1", {arg})), std::to_string(100 * i + k + 1),
                                             when + ", Sync " + std::to_string(k) + " of an explicit transaction"));
                }
                expect_ok(round_trip(c, query("COMMIT")), when + ": COMMIT");
                ASSERT_EQ(in_tx.size(), 1u) << when << ": one explicit transaction ran on several backends";
                backends.add(*in_tx.begin());
            } else {
                const std::string arg = std::to_string(i);
                backends.add(checked_row(round_trip(c, run_statement("s1", {arg})), std::to_string(i + 1), when));
            }
            holder.release();
        }

        // Describe on the other backend: the statement's parameter and columns.
        holder.hold();
        {
            c.send_raw(describe_statement("s1") + sync());
            auto messages = c.read_until_ready();
            auto a = decode_answer(messages);
            expect_ok(a, "Describe statement s1");
            std::optional<protocol::ParameterDescription> params;
            for (const auto& m : messages) {
                if (m.tag != 't') continue;
                if (auto d = protocol::ParameterDescription::decode(m.body)) params = *d;
            }
            ASSERT_TRUE(params) << "Describe s1: expected a ParameterDescription, got\n" << a.transcript;
            EXPECT_EQ(params->types, std::vector<std::int32_t>{kInt4Oid}) << "Describe s1: parameter types";
            EXPECT_EQ(a.columns, (std::vector<std::string>{"n", "pid"})) << "Describe s1: columns\n" << a.transcript;
        }
        holder.release();

        // Two Sync groups in one write: two transactions, both must find s1. (PgBouncer 1.18 was
        // seen to keep one backend for every Sync group of a write, even 20 of them, so this
        // checks sluice's bookkeeping of a pipeline rather than a switch in the middle of one.)
        for (int i = 0; i < 6; ++i) {
            holder.hold_if_odd(i);
            const std::string first = std::to_string(1000 + i), second = std::to_string(2000 + i);
            c.send_raw(run_statement("s1", {first}) + run_statement("s1", {second}));
            const std::string when = "pipeline " + std::to_string(i);
            const auto pid1 = checked_row(decode_answer(c.read_until_ready()), std::to_string(1001 + i),
                                          when + ", first Sync group");
            const auto pid2 = checked_row(decode_answer(c.read_until_ready()), std::to_string(2001 + i),
                                          when + ", second Sync group");
            backends.add(pid1);
            backends.add(pid2);
            pipelines += " " + pid1 + (pid1 == pid2 ? "=" : "/") + pid2;
            holder.release();
        }

        // Close: gone, on every backend, as on PostgreSQL.
        expect_ok(round_trip(c, close_statement("s1") + sync()), "Close s1");
        holder.hold();
        expect_no_statement(c, "s1", "Bind s1 after Close, other backend");
        holder.release();
        expect_no_statement(c, "s1", "Bind s1 after Close");

        // The name again, for another query: the new text everywhere, never the old one.
        expect_ok(round_trip(c, parse("s1", kBang) + sync()), "Parse s1 again with another query");
        run_across_backends(
            c, holder, backends, "s1", 6, [](int i) { return "x" + std::to_string(i); },
            [](int i) { return "x" + std::to_string(i) + "!"; }, "re-parsed s1");

        // SQL DEALLOCATE of a protocol-level statement: gone too, and the name free again.
        expect_ok(round_trip(c, query("DEALLOCATE s1")), "DEALLOCATE s1");
        holder.hold();
        expect_no_statement(c, "s1", "Bind s1 after DEALLOCATE, other backend");
        holder.release();
        expect_ok(round_trip(c, parse("s1", kTimesThree) + sync()), "Parse s1 after DEALLOCATE");
        run_across_backends(
            c, holder, backends, "s1", 6, [](int i) { return std::to_string(i + 5); },
            [](int i) { return std::to_string(3 * (i + 5)); }, "s1 parsed after DEALLOCATE");
    } catch (const std::exception& e) {
        FAIL() << e.what() << "\n(backends so far: " << backends.describe() << ")";
    }
    report("s1 ran in " + backends.describe());
    report("pipelines of two Sync groups, backends (= same, / different):" + pipelines);
    EXPECT_GE(backends.distinct(), 2u) << "the transactions never switched backends, so this proves nothing: "
                                       << backends.describe();
    expect_fresh_client_works();
}

}  // namespace
}  // namespace sluice::testing::upstream_pooler
