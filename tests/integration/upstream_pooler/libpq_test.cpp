// upstream_pooler acceptance, the common driver path: libpq's PQprepare once, then
// PQexecPrepared (Bind/Describe/Execute/Sync) in many transactions that land on different
// backends of the upstream pooler, in autocommit and inside BEGIN ... COMMIT.
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <array>
#include <set>
#include <stdexcept>
#include <string>

#include "tests/integration/upstream_pooler/upstream_pooler_support.hpp"

namespace sluice::testing::upstream_pooler {
namespace {

class UpstreamPoolerLibpq : public UpstreamPoolerTest {};

// PQexecPrepared of "double" with `arg`: the row must be (2 * arg); returns the backend pid.
std::string run_double(PGconn* c, int arg, const std::string& when) {
    const std::string text = std::to_string(arg);
    const std::array<const char*, 1> values{text.c_str()};
    PgResult r(PQexecPrepared(c, "double", 1, values.data(), nullptr, nullptr, 0));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
        throw std::runtime_error(when + ": PQexecPrepared(\"double\", " + text + ") expected a row, got [" +
                                 sqlstate(r.get()) + "] " + error_message(r.get()));
    if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != 2)
        throw std::runtime_error(when + ": expected one row of two columns");
    const std::string expected = std::to_string(2 * arg);
    if (expected != PQgetvalue(r.get(), 0, 0))
        throw std::runtime_error(when + ": expected " + expected + ", got " + PQgetvalue(r.get(), 0, 0));
    return PQgetvalue(r.get(), 0, 1);
}

TEST_F(UpstreamPoolerLibpq, PQexecPreparedAcrossBackends) {
    Holder holder(*bouncer_);
    auto c = libpq_client();
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    BackendLog backends;
    try {
        PgResult prepared(PQprepare(c.get(), "double", "SELECT $1::int * 2, pg_backend_pid()", 1, nullptr));
        ASSERT_EQ(PQresultStatus(prepared.get()), PGRES_COMMAND_OK)
            << "PQprepare: [" << sqlstate(prepared.get()) << "] " << error_message(prepared.get());

        for (int i = 0; i < 40; ++i) {
            holder.hold_if_odd(i);
            const std::string when = "round " + std::to_string(i);
            if (i % 4 == 3) {
                // Three executions in one transaction: one backend throughout.
                exec_ok(c.get(), "BEGIN");
                std::set<std::string> in_tx;
                for (int k = 0; k < 3; ++k) in_tx.insert(run_double(c.get(), 10 * i + k, when + ", in BEGIN"));
                exec_ok(c.get(), "COMMIT");
                ASSERT_EQ(in_tx.size(), 1u) << when << ": one transaction ran on several backends";
                backends.add(*in_tx.begin());
            } else {
                backends.add(run_double(c.get(), i, when));
            }
            holder.release();
        }

        // PQdescribePrepared (Describe statement) on the other backend.
        holder.hold();
        PgResult described(PQdescribePrepared(c.get(), "double"));
        holder.release();
        ASSERT_EQ(PQresultStatus(described.get()), PGRES_COMMAND_OK)
            << "PQdescribePrepared: [" << sqlstate(described.get()) << "] " << error_message(described.get());
        EXPECT_EQ(PQnparams(described.get()), 1) << "PQdescribePrepared: parameters";
        EXPECT_EQ(PQparamtype(described.get(), 0), 23u) << "PQdescribePrepared: the parameter's type (int4)";
        EXPECT_EQ(PQnfields(described.get()), 2) << "PQdescribePrepared: columns";
        backends.add(run_double(c.get(), 21, "after PQdescribePrepared"));
    } catch (const std::exception& e) {
        FAIL() << e.what() << "\n(backends so far: " << backends.describe() << ")";
    }
    report("\"double\" ran in " + backends.describe());
    EXPECT_GE(backends.distinct(), 2u) << "the transactions never switched backends, so this proves nothing: "
                                       << backends.describe();
    expect_fresh_client_works();
}

}  // namespace
}  // namespace sluice::testing::upstream_pooler
