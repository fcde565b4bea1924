// Issue #8 acceptance, session state in transaction mode (pool of 2, many more clients):
//   SessionStateTrack  (default policy) plain SETs follow their client to whichever server it
//                      gets next and never reach another client; SQL PREPARE/EXECUTE/DEALLOCATE
//                      and DISCARD ALL behave as in a session of their own.
//   SessionStatePin    [pool] session_state = "pin" (or the user's own session_state): LISTEN,
//                      session advisory locks and temp tables keep their server with the client,
//                      invisible to the others, and none of it outlives the client.
//   SessionStateReject [pool] session_state = "reject": those statements answer 0A000 with a
//                      message that names the statement and suggests session mode.
// Each scenario runs against PostgreSQL directly first (where every client is a session of its
// own, so the expected answers hold by definition): a failure through sluice is sluice's.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <iostream>
#include <string>
#include <vector>

#include "tests/integration/prepared/prepared_support.hpp"

namespace sluice::testing::prepared {
namespace {

constexpr int kOthers = 8;

// A simple query's rows; an error fails the test with the statement and the target.
std::vector<Row> rows(BlockingClient& c, const std::string& sql, const std::string& who) {
    auto r = c.simple_query(sql);
    EXPECT_TRUE(r.ok()) << who << ": " << sql << " -> " << r.sqlstate() << " " << (r.error ? r.error->message() : "");
    return r.rows;
}
std::string value(BlockingClient& c, const std::string& sql, const std::string& who) {
    auto r = rows(c, sql, who);
    if (r.empty() || r[0].empty()) return "<no row>";
    return r[0][0].value_or("<NULL>");
}
std::string lower(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
    return out;
}

// ---- track -------------------------------------------------------------------------------------

constexpr const char* kProbe =
    "SELECT current_setting('search_path'), current_setting('TimeZone'), "
    "coalesce(current_setting('app.tenant', true), ''), (SELECT v FROM marker), current_setting('work_mem')";

struct Settings {
    std::string search_path, timezone, tenant, marker, work_mem;
    friend bool operator==(const Settings&, const Settings&) = default;
};
std::ostream& operator<<(std::ostream& os, const Settings& s) {
    return os << "{search_path=" << s.search_path << " TimeZone=" << s.timezone << " app.tenant='" << s.tenant
              << "' marker=" << s.marker << " work_mem=" << s.work_mem << "}";
}
Settings probe(Rig& rig, int client) {
    auto a = decode_answer(rig.exchange(client, query(kProbe)));
    if (a.error || a.rows.size() != 1 || a.rows[0].size() != 5)
        throw std::runtime_error("probe failed:\n" + a.transcript);
    const auto& r = a.rows[0];
    return {r[0].value_or(""), r[1].value_or(""), r[2].value_or(""), r[3].value_or(""), r[4].value_or("")};
}
void ok(Rig& rig, int client, const std::string& sql) {
    auto a = decode_answer(rig.exchange(client, query(sql)));
    if (a.error) throw std::runtime_error(sql + " -> " + std::string(a.error->code()) + " " +
                                          std::string(a.error->message()));
}

void setup_track_schema() {
    pg().exec_superuser(
        "DROP SCHEMA IF EXISTS tenant_a CASCADE; CREATE SCHEMA tenant_a; GRANT USAGE ON SCHEMA tenant_a TO PUBLIC;"
        " CREATE TABLE tenant_a.marker (v text); INSERT INTO tenant_a.marker VALUES ('tenant_a');"
        " GRANT SELECT ON tenant_a.marker TO PUBLIC;"
        " DROP TABLE IF EXISTS public.marker; CREATE TABLE public.marker (v text);"
        " INSERT INTO public.marker VALUES ('public'); GRANT SELECT ON public.marker TO PUBLIC");
}

// Client 0 changes its session; clients 1..kOthers, on the same two servers, check they never
// see it. Every expectation is what PostgreSQL gives separate sessions.
void track_scenario(const Target& target) {
    Rig rig(target, 1 + kOthers);
    const Settings defaults = probe(rig, 1);
    ASSERT_EQ(defaults.search_path, "\"$user\", public");
    ASSERT_EQ(defaults.marker, "public");
    ASSERT_NE(defaults.timezone, "Asia/Tokyo");
    ASSERT_EQ(defaults.tenant, "");
    Settings mine{"tenant_a, public", "Asia/Tokyo", "42", "tenant_a", defaults.work_mem};

    auto others_see_defaults = [&](const std::string& when) {
        int leaked = 0;
        for (int i = 1; i <= kOthers; ++i) {
            // app.tenant reads '' or NULL on a server where no one set it: both are "not set".
            const Settings seen = probe(rig, i);
            if (seen != defaults && leaked++ == 0)
                ADD_FAILURE() << "client " << i << " through " << target.label << ", " << when << ", sees " << seen
                              << " instead of " << defaults;
        }
        EXPECT_EQ(leaked, 0) << "of " << kOthers << " other clients, " << when;
    };
    ok(rig, 0, "SET search_path = tenant_a, public");
    ok(rig, 0, "SET TimeZone = 'Asia/Tokyo'");
    ok(rig, 0, "SET app.tenant = '42'");
    others_see_defaults("after client 0's SETs");
    for (int round = 0; round < 4; ++round) {
        rig.switch_server();
        EXPECT_EQ(probe(rig, 0), mine) << "client 0 through " << target.label << ", round " << round;
        others_see_defaults("round " + std::to_string(round));
    }
    // Inside transactions: SET LOCAL ends with the transaction, a rolled-back SET never was, a
    // committed one stays.
    ok(rig, 0, "BEGIN; SET LOCAL work_mem = '7MB'; SET app.tenant = '43'; ROLLBACK");
    rig.switch_server();
    EXPECT_EQ(probe(rig, 0), mine) << "after a rolled-back SET, through " << target.label;
    ok(rig, 0, "BEGIN; SET LOCAL work_mem = '7MB'; SET app.tenant = '44'; COMMIT");
    mine.tenant = "44";
    rig.switch_server();
    EXPECT_EQ(probe(rig, 0), mine) << "after a committed SET, through " << target.label;
    others_see_defaults("after client 0's transactions");
    ok(rig, 0, "SELECT set_config('app.tenant', '45', false)");
    ok(rig, 0, "RESET TimeZone");
    mine.tenant = "45";
    mine.timezone = defaults.timezone;
    rig.switch_server();
    EXPECT_EQ(probe(rig, 0), mine) << "after set_config() and RESET, through " << target.label;
    rig.switch_server();
    EXPECT_EQ(probe(rig, 0), mine) << "after set_config() and RESET, through " << target.label;
    others_see_defaults("at the end");
    if (target.label == "sluice") {
        EXPECT_TRUE(rig.placement_errors().empty()) << join(rig.placement_errors());
        EXPECT_EQ(rig.servers_seen(), 2) << "client 0's transactions did not run on both servers";
    }
}

TEST(SessionStateTrack, SetsFollowTheirClientAndNoOneElse) {
    setup_track_schema();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    {
        SCOPED_TRACE("against PostgreSQL directly (checks the scenario itself)");
        ASSERT_NO_THROW(track_scenario(Target::direct()));
    }
    if (HasFailure()) return;
    SluiceProcess sluice(pool_config(2));
    try {
        track_scenario(Target::through(sluice));
    } catch (const std::exception& e) {
        FAIL() << "through sluice: " << e.what();
    }
}

// The issue lets sluice either track SQL PREPARE or pin the client: both must keep these
// answers, so the rig accepts a pinned client 0 here (and then stops moving it).
void sql_prepare_scenario(const Target& target) {
    Rig rig(target, 1 + kOthers, /*may_pin=*/true);
    auto answer = [&](int client, const std::string& sql) { return decode_answer(rig.exchange(client, query(sql))); };
    auto expect_value = [&](int client, const std::string& sql, const std::string& expected) {
        auto a = answer(client, sql);
        EXPECT_FALSE(a.error) << target.label << ", client " << client << ": " << sql << "\n" << a.transcript;
        ASSERT_EQ(a.rows.size(), 1u) << target.label << ": " << sql << "\n" << a.transcript;
        EXPECT_EQ(a.rows[0].at(0).value_or("<NULL>"), expected) << target.label << ": " << sql;
    };
    auto expect_state = [&](int client, const std::string& sql, std::string_view sqlstate) {
        auto a = answer(client, sql);
        ASSERT_TRUE(a.error) << target.label << ", client " << client << ": " << sql << " succeeded\n" << a.transcript;
        EXPECT_EQ(a.error->code(), sqlstate) << target.label << ": " << sql << ": " << a.error->message();
        EXPECT_EQ(a.status, 'I') << a.transcript;
    };

    ok(rig, 0, "PREPARE q(int) AS SELECT $1 * 3");
    for (int round = 0; round < 3; ++round) {
        rig.switch_server();
        expect_value(0, "EXECUTE q(" + std::to_string(round + 5) + ")", std::to_string(3 * (round + 5)));
        for (int i = 1; i <= kOthers; ++i) expect_state(i, "EXECUTE q(1)", "26000");
    }
    ok(rig, 1, "PREPARE q(int) AS SELECT $1 + 100");  // the same name in another session: no 42P05
    expect_value(1, "EXECUTE q(1)", "101");
    rig.switch_server();
    expect_value(0, "EXECUTE q(2)", "6");
    expect_value(1, "EXECUTE q(2)", "102");
    expect_state(0, "PREPARE q(int) AS SELECT 0", "42P05");
    ok(rig, 0, "DEALLOCATE q");
    rig.switch_server();
    expect_state(0, "EXECUTE q(1)", "26000");
    expect_value(1, "EXECUTE q(3)", "103");
    ok(rig, 0, "BEGIN; PREPARE t1 AS SELECT 't1'; COMMIT");
    ok(rig, 0, "PREPARE t2 AS SELECT 't2'");
    rig.switch_server();
    expect_value(0, "EXECUTE t1", "t1");
    expect_value(0, "EXECUTE t2", "t2");
    ok(rig, 0, "DEALLOCATE ALL");
    rig.switch_server();
    expect_state(0, "EXECUTE t1", "26000");
    expect_state(0, "EXECUTE t2", "26000");
    expect_value(1, "EXECUTE q(4)", "104");
    // DISCARD ALL forgets the client's statements and settings.
    ok(rig, 0, "PREPARE z AS SELECT 'z'");
    ok(rig, 0, "SET app.tenant = 'discarded'");
    ok(rig, 0, "DISCARD ALL");
    rig.switch_server();
    expect_state(0, "EXECUTE z", "26000");
    expect_value(0, "SELECT coalesce(current_setting('app.tenant', true), '')", "");
    expect_value(1, "EXECUTE q(5)", "105");
    if (target.label == "sluice") {
        EXPECT_TRUE(rig.placement_errors().empty()) << join(rig.placement_errors());
        std::cout << "SQL PREPARE through sluice: client 0 " << (rig.pinned() ? "was pinned" : "was tracked")
                  << ", its steps ran on " << rig.servers_seen() << " server(s)\n";
    }
}

TEST(SessionStateTrack, SqlPrepareExecuteDeallocate) {
    ASSERT_TRUE(wait_no_backends(kRole.user));
    {
        SCOPED_TRACE("against PostgreSQL directly (checks the scenario itself)");
        ASSERT_NO_THROW(sql_prepare_scenario(Target::direct()));
    }
    if (HasFailure()) return;
    SluiceProcess sluice(pool_config(2));
    try {
        sql_prepare_scenario(Target::through(sluice));
    } catch (const std::exception& e) {
        FAIL() << "through sluice: " << e.what();
    }
}

// ---- pin ---------------------------------------------------------------------------------------

std::vector<BlockingClient> connect_all(const Target& target, int n) {
    std::vector<BlockingClient> out;
    for (int i = 0; i < n; ++i) out.push_back(BlockingClient::connect(connect_options(target.host, target.port, kRole)));
    return out;
}

// Every other client runs a statement: they share what the pinned client left of the pool.
void others_run(std::vector<BlockingClient>& others, const std::string& sql, const std::string& expected,
                const std::string& who) {
    for (std::size_t i = 0; i < others.size(); ++i)
        EXPECT_EQ(value(others[i], sql, who), expected) << who << ", other client " << i << ": " << sql;
}

// NotificationResponses ('A') the client receives, as "channel:payload", within `timeout`:
// each poll runs a query, so a proxy that only relays at a query's end still gets counted.
std::vector<std::string> notifications(BlockingClient& c, std::size_t want, std::chrono::milliseconds timeout) {
    std::vector<std::string> seen;
    wait_until(
        [&] {
            c.send_raw(query("SELECT 1"));
            for (const auto& m : c.read_until_ready()) {
                if (m.tag != 'A' || m.body.size() < 4) continue;
                std::string_view rest(m.body);
                rest.remove_prefix(4);  // the notifying backend's pid
                auto channel = rest.substr(0, rest.find('\0'));
                rest.remove_prefix(std::min(rest.size(), channel.size() + 1));
                seen.push_back(std::string(channel) + ":" + std::string(rest.substr(0, rest.find('\0'))));
            }
            return seen.size() >= want;
        },
        timeout, std::chrono::milliseconds(100));
    return seen;
}

void pin_scenario(const Target& target) {
    const std::string who = "through " + target.label;
    auto pinned = connect_all(target, 1);
    auto& a = pinned[0];
    auto others = connect_all(target, kOthers);

    // LISTEN: a NOTIFY from another connection (PostgreSQL directly) and from another client.
    rows(a, "LISTEN pin_chan", who);
    others_run(others, "SELECT count(*) FROM pg_listening_channels()", "0", who);
    pg().exec_superuser("NOTIFY pin_chan, 'from-superuser'");
    rows(others[0], "NOTIFY pin_chan, 'from-client'", who);
    auto got = notifications(a, 2, 10s);
    EXPECT_EQ(got, (std::vector<std::string>{"pin_chan:from-superuser", "pin_chan:from-client"})) << who;

    // A session advisory lock blocks the others until it is released.
    EXPECT_EQ(value(a, "SELECT pg_advisory_lock(4242)::text", who), "");
    // The others probe with the transaction-level try-lock: a session-level one would be session
    // state of their own (and pin them too).
    others_run(others, "SELECT pg_try_advisory_xact_lock(4242)", "f", who);
    EXPECT_EQ(value(a, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()", who),
              "1");

    // A temp table lives on in the client's later transactions, unseen by the others.
    rows(a, "CREATE TEMP TABLE pin_tmp (x int); INSERT INTO pin_tmp VALUES (1)", who);
    for (int i = 2; i <= 4; ++i) {
        others_run(others, "SELECT to_regclass('pg_temp.pin_tmp') IS NULL", "t", who);
        rows(a, "BEGIN; INSERT INTO pin_tmp VALUES (" + std::to_string(i) + "); COMMIT", who);
        EXPECT_EQ(value(a, "SELECT sum(x) FROM pin_tmp", who), std::to_string(i * (i + 1) / 2)) << who;
    }
    others_run(others, "SELECT pg_try_advisory_xact_lock(4242)", "f", who);
    EXPECT_EQ(value(a, "SELECT pg_advisory_unlock(4242)", who), "t");
    EXPECT_EQ(value(others[1], "SELECT pg_try_advisory_xact_lock(4242)", who), "t");

    // The pinned client leaves holding all three: none of it reaches the others.
    EXPECT_EQ(value(a, "SELECT pg_advisory_lock(4243)::text", who), "");
    a.terminate();
    // others[0] takes it with the session-level try-lock, which pins it in turn (a's server is
    // free again for the rest).
    EXPECT_TRUE(wait_until([&] { return value(others[0], "SELECT pg_try_advisory_lock(4243)", who) == "t"; }, 10s))
        << who << ": the lock of a client that left is still held";
    EXPECT_EQ(value(others[0], "SELECT pg_advisory_unlock(4243)", who), "t");
    others_run(others, "SELECT count(*) FROM pg_listening_channels()", "0", who);
    others_run(others, "SELECT to_regclass('pg_temp.pin_tmp') IS NULL", "t", who);
}

TEST(SessionStatePin, ListenAdvisoryLockTempTable) {
    ASSERT_TRUE(wait_no_backends(kRole.user));
    {
        SCOPED_TRACE("against PostgreSQL directly (checks the scenario itself)");
        ASSERT_NO_THROW(pin_scenario(Target::direct()));
    }
    if (HasFailure()) return;
    SluiceProcess sluice(pool_config(2, "session_state = \"pin\"\n"));
    try {
        pin_scenario(Target::through(sluice));
    } catch (const std::exception& e) {
        FAIL() << "through sluice: " << e.what();
    }
}

TEST(SessionStatePin, PerUserSetting) {
    ASSERT_TRUE(wait_no_backends(kRole.user));
    // [pool] keeps the default (track); only this user's entry asks for pin.
    auto config = pool_config(2);
    config.user_toml[std::string(kRole.user)] = "session_state = \"pin\"\n";
    SluiceProcess sluice(config);
    try {
        pin_scenario(Target::through(sluice));
    } catch (const std::exception& e) {
        FAIL() << "through sluice: " << e.what();
    }
}

// ---- reject ------------------------------------------------------------------------------------

TEST(SessionStateReject, SessionStatementsAnswer0A000) {
    ASSERT_TRUE(wait_no_backends(kRole.user));
    SluiceProcess sluice(pool_config(2, "session_state = \"reject\"\n"));
    auto clients = connect_all(Target::through(sluice), 4);
    struct Case {
        std::string sql;
        std::string names;  // what the message must mention (lower case)
    };
    const std::vector<Case> cases = {
        {"LISTEN reject_chan", "listen"},
        {"SELECT pg_advisory_lock(4244)", "advisory"},
        {"CREATE TEMP TABLE reject_tmp (x int)", "temp"},
        {"DECLARE reject_cur CURSOR WITH HOLD FOR SELECT 1", "hold"},
    };
    for (const auto& c : cases) {
        auto& client = clients[0];
        auto r = client.simple_query(c.sql);
        ASSERT_TRUE(r.error) << c.sql << " was accepted under session_state = \"reject\"";
        EXPECT_EQ(r.sqlstate(), "0A000") << c.sql << ": " << r.error->message();
        const std::string message = lower(r.error->message()) + " " + lower(r.error->get(protocol::ErrorField::Hint).value_or(""));
        EXPECT_NE(message.find(c.names), std::string::npos) << c.sql << ": the message does not name it: " << message;
        EXPECT_NE(message.find("session"), std::string::npos) << c.sql << ": no hint at session mode: " << message;
        EXPECT_EQ(r.tx_status, protocol::TxStatus::Idle) << c.sql;
        // Nothing of it happened, and the client goes on.
        EXPECT_EQ(value(client, "SELECT 'next'", "after " + c.sql), "next");
        for (auto& other : clients) {
            EXPECT_EQ(value(other, "SELECT count(*) FROM pg_listening_channels()", c.sql), "0");
            EXPECT_EQ(value(other, "SELECT to_regclass('pg_temp.reject_tmp') IS NULL", c.sql), "t");
        }
        // (The transaction-level try-lock: the session-level one is rejected here too.)
        EXPECT_EQ(value(clients[1], "SELECT pg_try_advisory_xact_lock(4244)", c.sql), "t");
    }
    // Plain SETs are still tracked, not rejected.
    EXPECT_EQ(value(clients[2], "SET app.tenant = 'r'", "SET"), "<no row>");
    EXPECT_EQ(value(clients[2], "SELECT current_setting('app.tenant')", "SET"), "r");
}

}  // namespace
}  // namespace sluice::testing::prepared
