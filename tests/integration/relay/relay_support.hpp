#pragma once
// Helpers shared by the relay fault tests (issue 6): raw frontend messages, reading a client's
// messages with a deadline, and the four checks every fault case ends with.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frontend.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/integration/relay/fault_link.hpp"

namespace sluice::testing::relay {

using namespace std::chrono_literals;
namespace proto = sluice::protocol;

// ---- frontend messages, framed -------------------------------------------------------------

inline std::string query_msg(std::string_view sql) {
    std::string out;
    proto::Query{sql}.encode(out);
    return out;
}
inline std::string parse_msg(std::string_view sql) {
    std::string out;
    proto::Parse{"", sql, {}}.encode(out);
    return out;
}
inline std::string bind_msg() {
    std::string out;
    proto::Bind{}.encode(out);
    return out;
}
inline std::string describe_portal_msg() {
    std::string out;
    proto::Describe{proto::ObjectKind::Portal, ""}.encode(out);
    return out;
}
inline std::string execute_msg() {
    std::string out;
    proto::Execute{"", 0}.encode(out);
    return out;
}
inline std::string sync_msg() {
    std::string out;
    proto::Sync{}.encode(out);
    return out;
}
inline std::string copy_data_msg(std::string_view data) {
    std::string out;
    proto::CopyData{data}.encode(out);
    return out;
}
inline std::string copy_done_msg() {
    std::string out;
    proto::CopyDone{}.encode(out);
    return out;
}
// One CopyData whose body is `size` bytes of filler (never valid protocol if misframed).
inline std::string big_copy_data_msg(std::size_t size) { return copy_data_msg(std::string(size, 'x')); }

// ---- reading -----------------------------------------------------------------------------

inline bool is_tag(const Message& m, char tag) { return m.tag == tag; }

// The tags of `messages` as a string ("12GCZ"), for comparing with what PostgreSQL sends.
inline std::string tags(const std::vector<Message>& messages) {
    std::string s;
    for (const auto& m : messages) s.push_back(m.tag);
    return s;
}

inline std::optional<proto::ErrorFields> error_of(const Message& m) {
    if (m.tag != 'E') return std::nullopt;
    auto f = proto::ErrorFields::decode(m.body);
    if (!f) return std::nullopt;
    return *f;
}

// The SQLSTATEs of every ErrorResponse in `messages`, space separated.
inline std::string error_codes(const std::vector<Message>& messages) {
    std::string s;
    for (const auto& m : messages)
        if (auto e = error_of(m)) s += (s.empty() ? "" : " ") + std::string(e->code());
    return s;
}

// Reads messages until ReadyForQuery; on a close or an error before that, `ended` says why.
struct Read {
    std::vector<Message> messages;
    std::string ended;  // "" when it stopped at ReadyForQuery
};
inline Read read_until_ready_or_end(BlockingClient& c) {
    Read r;
    try {
        for (;;) {
            auto m = c.read_message_or_eof();
            if (!m) {
                r.ended = "closed";
                return r;
            }
            r.messages.push_back(std::move(*m));
            if (r.messages.back().tag == 'Z') return r;
        }
    } catch (const ClientError& e) {
        r.ended = e.what();
    }
    return r;
}

// Reads everything until the connection closes (or the client's timeout passes).
inline Read read_until_closed(BlockingClient& c) {
    Read r;
    try {
        for (;;) {
            auto m = c.read_message_or_eof();
            if (!m) {
                r.ended = "closed";
                return r;
            }
            r.messages.push_back(std::move(*m));
        }
    } catch (const ClientError& e) {
        r.ended = e.what();
    }
    return r;
}

// A simple query through `c` that never throws. Unlike BlockingClient::simple_query it keeps
// an ErrorResponse that arrives just before the connection closes (a FATAL such as 53300).
struct Outcome {
    std::vector<std::optional<std::string>> first_column;  // of every DataRow
    std::optional<proto::ErrorFields> error;
    std::vector<std::pair<std::string, std::string>> parameter_status;  // ParameterStatus messages
    std::string ended;  // "" when it ended with ReadyForQuery, else why it stopped
    [[nodiscard]] bool ok() const { return !error && ended.empty(); }
    [[nodiscard]] std::string sqlstate() const { return error ? std::string(error->code()) : std::string(); }
    [[nodiscard]] std::string describe() const {
        std::string s;
        if (error) s = "error " + std::string(error->code()) + ": " + std::string(error->message());
        if (!ended.empty()) s += (s.empty() ? "" : "; ") + ended;
        return s.empty() ? "ok" : s;
    }
    [[nodiscard]] std::string value() const {
        if (!ok() || first_column.empty() || !first_column[0]) return "<none>";
        return *first_column[0];
    }
};
inline Outcome try_query(BlockingClient& c, std::string_view sql) {
    Outcome o;
    try {
        c.send_raw(query_msg(sql));
    } catch (const std::exception& e) {
        o.ended = std::string("send failed: ") + e.what();
        return o;
    }
    auto read = read_until_ready_or_end(c);
    for (const auto& m : read.messages) {
        if (auto e = error_of(m); e && !o.error) o.error = std::move(e);
        if (m.tag == 'S') {
            if (auto ps = proto::ParameterStatus::decode(m.body))
                o.parameter_status.emplace_back(std::string(ps->name), std::string(ps->value));
        }
        if (m.tag == 'D') {
            auto row = proto::DataRow::decode(m.body);
            if (row && !row->values.empty())
                o.first_column.push_back(row->values[0] ? std::optional<std::string>(std::string(*row->values[0]))
                                                        : std::nullopt);
        }
    }
    if (!read.ended.empty()) o.ended = "connection ended: " + read.ended;
    return o;
}

// Logs in and runs `sql`; never throws.
inline Outcome connect_and_query(const ConnectOptions& options, std::string_view sql) {
    try {
        auto c = BlockingClient::connect(options);
        return try_query(c, sql);
    } catch (const std::exception& e) {
        Outcome o;
        o.ended = std::string("login failed: ") + e.what();
        return o;
    }
}

// Closes a client's socket with an RST and no Terminate, as a crashed client host does.
inline void vanish(BlockingClient& c) {
    if (!c.is_open()) return;
    linger hard{1, 0};
    ::setsockopt(c.native_handle(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    c.close();
}

// ---- PostgreSQL's view ---------------------------------------------------------------------

inline int count_rows(const PgCluster& cluster, const std::string& sql) {
    return std::stoi(cluster.exec_superuser(sql).at(0).at(0));
}

inline int count_in_state(const PgCluster& cluster, std::string_view user, std::string_view state_like) {
    return std::stoi(cluster
                         .exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE usename = $1 AND "
                                         "backend_type = 'client backend' AND state LIKE $2",
                                         {std::string(user), std::string(state_like)})
                         .at(0)
                         .at(0));
}

// The pid of the backend running exactly `query` (state active), once there is one.
inline std::optional<int> wait_for_active_query(const PgCluster& cluster, const std::string& query,
                                                std::chrono::milliseconds timeout = 10s) {
    std::optional<int> pid;
    wait_until(
        [&] {
            auto rows = cluster.exec_superuser(
                "SELECT pid FROM pg_stat_activity WHERE query = $1 AND state = 'active' ORDER BY pid LIMIT 1", {query});
            if (rows.empty()) return false;
            pid = std::stoi(rows[0][0]);
            return true;
        },
        timeout, 10ms);
    return pid;
}

// ---- configuration -------------------------------------------------------------------------

// sluice's one database ("postgres") reached through `link` instead of directly.
inline void route_through(SluiceConfig& config, const FaultLink& link) {
    config.databases.clear();
    config.extra_toml += "\n[[databases]]\nname = \"postgres\"\nurl = \"" + link.url("postgres") + "\"\n";
}

// ---- the four checks after every fault case ------------------------------------------------

// After a fault case (issue 6):
//   (iii) no client hangs: every client thread the test started has returned (each of their
//         calls has a deadline of its own, so a thread that has not returned is a hung client);
//   (i)   the pooled user's servers in pg_stat_activity are at most the pool size;
//   (ii)  none of them sits idle in transaction;
//   (iv)  the pool serves a new client ("select 1").
// (i) and (ii) are polled briefly: PostgreSQL notices a closed connection asynchronously.
inline void expect_pool_sound(const PgCluster& cluster, const SluiceProcess& sluice, const PgRole& role,
                              std::uint32_t pool_size, std::vector<std::future<void>>* clients = nullptr) {
    SCOPED_TRACE("the four checks after a fault case");
    if (clients) {
        int hung = 0;
        for (auto& f : *clients)
            if (f.valid() && f.wait_for(30s) != std::future_status::ready) ++hung;
        EXPECT_EQ(hung, 0) << hung << " client(s) hung";
    }
    int backends = -1;
    EXPECT_TRUE(wait_until([&] { return (backends = cluster.count_backends(role.user)) <= static_cast<int>(pool_size); },
                           5s, 50ms))
        << backends << " server connections for " << role.user << " with pool size " << pool_size;
    int idle_in_tx = -1;
    EXPECT_TRUE(wait_until([&] { return (idle_in_tx = count_in_state(cluster, role.user, "idle in transaction%")) == 0; },
                           5s, 50ms))
        << idle_in_tx << " server(s) of " << role.user << " left idle in transaction";
    auto options = sluice_client(sluice, role);
    options.timeout = 15s;
    auto served = connect_and_query(options, "select 1");
    EXPECT_TRUE(served.ok()) << "a new client was not served: " << served.describe();
    EXPECT_EQ(served.value(), "1");
}

}  // namespace sluice::testing::relay
