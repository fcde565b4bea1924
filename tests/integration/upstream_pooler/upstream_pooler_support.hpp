#pragma once
// Helpers of the upstream_pooler acceptance tests: sluice (transaction mode, pool of 2, database
// setting `upstream_pooler = true`) in front of PgBouncer 1.18 (transaction mode,
// default_pool_size = 2) in front of the shared PostgreSQL. Consecutive transactions of one of
// sluice's server connections may then run on different PostgreSQL backends, which is what the
// setting is for.
//
// Making transactions switch backends: a Holder, a client of PgBouncer directly (not of sluice),
// opens a transaction before every other one of the test's transactions and commits after it.
// It keeps one of PgBouncer's two backends busy, so the test's transaction gets the other one;
// PgBouncer hands out its most recently released backend first, so the test's transactions
// alternate between the two. Each test still records the backend (pg_backend_pid()) of every
// transaction and asserts that it saw at least two: a test that never switched proves nothing.
#include <gtest/gtest.h>

#include <iostream>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "tests/integration/prepared/prepared_support.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/support/pgbouncer.hpp"

namespace sluice::testing::upstream_pooler {

using namespace std::chrono_literals;
using prepared::Answer;
using prepared::decode_answer;

inline constexpr PgRole kRole = kTrustRole;
inline constexpr int kPoolSize = 2;  // sluice's and PgBouncer's alike
// Empty the database_toml (no upstream_pooler) to watch these tests fail for the right reason.
inline constexpr const char* kDatabaseToml = "upstream_pooler = true\n";

// A client of PgBouncer itself that keeps one backend busy in an open transaction on request.
class Holder {
public:
    explicit Holder(const PgBouncer& bouncer)
        : client_(BlockingClient::connect(connect_options(bouncer.host(), bouncer.port(), kRole))) {}
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;

    // BEGIN and a query, so PgBouncer gives it a backend and keeps it until release().
    void hold() {
        auto r = client_.simple_query("BEGIN; SELECT pg_backend_pid()");
        if (!r.ok() || r.tx_status != protocol::TxStatus::InTransaction || r.rows.empty() || !r.at(0, 0))
            throw std::runtime_error("the holder could not open a transaction on PgBouncer: " +
                                     std::string(r.sqlstate()));
        held_pid_ = *r.at(0, 0);
    }
    // COMMIT if holding; the backend goes back to PgBouncer's pool.
    void release() {
        if (held_pid_.empty()) return;
        auto r = client_.simple_query("COMMIT");
        if (!r.ok()) throw std::runtime_error("the holder's COMMIT failed: " + std::string(r.sqlstate()));
        held_pid_.clear();
    }
    // Holds on odd iterations only: the test's transactions of even ones get the backend the
    // holder released last, those of odd ones the other.
    void hold_if_odd(int iteration) {
        if (iteration % 2 == 1) hold();
    }
    // Moves the next transaction to the other backend: the one the holder releases (PgBouncer's
    // most recently used), or the other one when the holder takes the most recently used.
    void toggle() {
        if (holding()) release();
        else hold();
    }
    [[nodiscard]] bool holding() const noexcept { return !held_pid_.empty(); }
    [[nodiscard]] const std::string& held_pid() const noexcept { return held_pid_; }

private:
    BlockingClient client_;
    std::string held_pid_;
};

// The backends a client's transactions ran on, in order, for the "did it switch" assertion and
// the report.
class BackendLog {
public:
    void add(const std::string& pid) {
        order_.push_back(pid);
        distinct_.insert(pid);
    }
    [[nodiscard]] std::size_t distinct() const noexcept { return distinct_.size(); }
    [[nodiscard]] bool contains(const std::string& pid) const { return distinct_.count(pid) > 0; }
    [[nodiscard]] const std::set<std::string>& pids() const noexcept { return distinct_; }
    [[nodiscard]] std::string describe() const {
        std::string s = std::to_string(order_.size()) + " transactions on " + std::to_string(distinct_.size()) +
                        " backends {";
        for (const auto& p : distinct_) s += (s.back() == '{' ? "" : ", ") + p;
        s += "}, in order:";
        for (const auto& p : order_) s += " " + p;
        return s;
    }

private:
    std::vector<std::string> order_;
    std::set<std::string> distinct_;
};

// PgBouncer and sluice in front of it, fresh for each test.
class UpstreamPoolerTest : public ::testing::Test {
protected:
    void SetUp() override {
        // Backends of an earlier test (through an earlier PgBouncer) are gone first.
        ASSERT_TRUE(wait_no_backends(kRole.user)) << "backends of " << kRole.user << " left by an earlier test";
        PgBouncer::Options options;
        options.default_pool_size = kPoolSize;
        bouncer_.emplace(pg(), options);
        auto config = SluiceConfig::trust();
        config.pool_size = kPoolSize;
        config.databases = {"postgres"};
        config.upstream_port = bouncer_->port();
        config.database_toml = kDatabaseToml;
        sluice_.emplace(config);
    }
    void TearDown() override {
        if (HasFailure() && bouncer_)
            std::cerr << "---- PgBouncer log (tail) ----\n"
                      << [&] {
                             auto log = bouncer_->log();
                             return log.size() > 6000 ? "..." + log.substr(log.size() - 6000) : log;
                         }()
                      << "\n---- end of PgBouncer log ----\n";
    }

    [[nodiscard]] BlockingClient raw_client() const {
        auto o = sluice_client(*sluice_, kRole);
        return BlockingClient::connect(o);
    }
    [[nodiscard]] PgConn libpq_client(std::string_view extra = {}) const {
        return pq_connect(sluice_->conninfo(kRole.user, {}, "postgres", extra));
    }

    // A client that logs in after everything the test did gets a working session with the
    // server's defaults: nothing the test's clients set or prepared broke or leaked into the pool.
    void expect_fresh_client_works() {
        auto c = libpq_client();
        ASSERT_TRUE(connected(c.get())) << "a fresh client through sluice could not log in: " << conn_error(c.get());
        auto r = exec(c.get(),
                      "SELECT 41 + 1, current_setting('search_path'), current_setting('statement_timeout')");
        ASSERT_TRUE(succeeded(r.get())) << "a fresh client's first query failed: [" << sqlstate(r.get()) << "] "
                                        << error_message(r.get());
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "42") << "a fresh client's SELECT 41 + 1";
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 1), "\"$user\", public") << "a fresh client's search_path";
        EXPECT_STREQ(PQgetvalue(r.get(), 0, 2), "0") << "a fresh client's statement_timeout";
    }

    std::optional<PgBouncer> bouncer_;
    std::optional<SluiceProcess> sluice_;
};

// Sends `messages`, reads until ReadyForQuery and decodes the answers.
inline Answer round_trip(BlockingClient& c, const std::string& messages) {
    c.send_raw(messages);
    return decode_answer(c.read_until_ready());
}

inline void report(const std::string& what) {
    std::cout << "[upstream_pooler] "
              << ::testing::UnitTest::GetInstance()->current_test_info()->name() << ": " << what << "\n";
}

}  // namespace sluice::testing::upstream_pooler
