#pragma once
// Helpers of the pool tests: a client that holds a server (inside a transaction) and a client
// whose statement must wait out query_wait.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <string_view>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing::pool {

using namespace std::chrono_literals;

// A client of sluice inside a transaction: in transaction mode it holds one server until COMMIT.
struct Holder {
    PgConn conn;
    std::string server;  // pg_backend_pid() of the server it holds
};

inline Holder hold_server(const SluiceProcess& sluice, std::string_view user, std::string_view database) {
    Holder h{pq_connect(sluice.conninfo(user, {}, database)), {}};
    if (!connected(h.conn.get())) throw std::runtime_error("connect as " + std::string(user) + ": " + conn_error(h.conn.get()));
    exec_ok(h.conn.get(), "BEGIN");
    h.server = query_value(h.conn.get(), "SELECT pg_backend_pid()");
    return h;
}

// A new client's first statement, with a deadline well past query_wait.
inline TimedResult first_statement(const SluiceProcess& sluice, std::string_view user, std::string_view database,
                                   const std::string& sql, PgConn* keep = nullptr) {
    auto c = pq_connect(sluice.conninfo(user, {}, database));
    if (!connected(c.get())) {
        TimedResult r;
        r.connection_lost = true;
        r.error = conn_error(c.get());
        return r;
    }
    auto r = exec_with_deadline(c.get(), sql, 20s);
    if (keep) *keep = std::move(c);
    return r;
}

// A statement that had to wait for a server and got none: sluice's FATAL 53300 naming query_wait.
inline void expect_query_wait_timeout(const TimedResult& r, const std::string& why) {
    EXPECT_EQ(r.state(), "53300") << why << ": " << r.describe();
    if (r.result) {
        EXPECT_NE(error_message(r.result.get()).find("query_wait"), std::string::npos)
            << why << ": " << error_message(r.result.get());
    }
}

// The server `pid` is no longer connected to PostgreSQL.
inline bool server_gone(const std::string& pid, const PgCluster& cluster = pg()) {
    return cluster.exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {pid}).at(0).at(0) == "0";
}

}  // namespace sluice::testing::pool
