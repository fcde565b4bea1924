// Issue #3 acceptance, session state in transaction mode: two clients share one server
// connection (pool size 1), yet each keeps its own reported settings (SET TimeZone) and its
// own startup options, applied for that client only.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

class ProxySessionParams : public ::testing::Test {
protected:
    void SetUp() override {
        auto config = SluiceConfig::trust();
        config.pool_size = 1;
        sluice_.emplace(config);
        server_timezone_ = pg().exec_superuser("SHOW TimeZone").at(0).at(0);
        server_search_path_ = pg().exec_superuser("SHOW search_path").at(0).at(0);
        ASSERT_NE(server_timezone_, "Asia/Tokyo");
    }
    PgConn connect(std::string_view extra = {}) {
        auto c = pq_connect(sluice_->conninfo(kTrustRole.user, {}, "postgres", extra));
        EXPECT_TRUE(connected(c.get())) << conn_error(c.get());
        return c;
    }
    std::optional<SluiceProcess> sluice_;
    std::string server_timezone_;
    std::string server_search_path_;
};

TEST_F(ProxySessionParams, SetTimeZoneStaysWithItsClient) {
    auto a = connect();
    auto b = connect();
    ASSERT_TRUE(connected(a.get()) && connected(b.get()));
    const auto server_pid = query_value(a.get(), "SELECT pg_backend_pid()");
    ASSERT_EQ(query_value(b.get(), "SELECT pg_backend_pid()"), server_pid) << "pool size 1: one shared server";

    exec_ok(a.get(), "SET TimeZone = 'Asia/Tokyo'");
    EXPECT_STREQ(PQparameterStatus(a.get(), "TimeZone"), "Asia/Tokyo");
    EXPECT_EQ(query_value(b.get(), "SHOW TimeZone"), server_timezone_) << "A's SET leaked to B";
    EXPECT_STREQ(PQparameterStatus(b.get(), "TimeZone"), server_timezone_.c_str());
    EXPECT_EQ(query_value(a.get(), "SHOW TimeZone"), "Asia/Tokyo") << "A lost its own SET";
    EXPECT_EQ(query_value(b.get(), "SELECT current_setting('TimeZone')"), server_timezone_);
    // A transaction of A's sees its zone throughout.
    exec_ok(a.get(), "BEGIN");
    EXPECT_EQ(query_value(a.get(), "SELECT to_char(TIMESTAMPTZ '2024-01-01 00:00:00+00', 'HH24')"), "09");
    exec_ok(a.get(), "COMMIT");
    EXPECT_EQ(query_value(b.get(), "SELECT to_char(TIMESTAMPTZ '2024-01-01 00:00:00+00' AT TIME ZONE 'UTC', 'HH24')"),
              "00");
    // Back to the default: B never notices, A gets it.
    exec_ok(a.get(), "RESET TimeZone");
    EXPECT_EQ(query_value(a.get(), "SHOW TimeZone"), server_timezone_);
    EXPECT_EQ(query_value(b.get(), "SHOW TimeZone"), server_timezone_);
}

TEST_F(ProxySessionParams, StartupOptionsApplyToThatClientOnly) {
    const std::string startup =
        "application_name=client_a client_encoding=utf8 options='-c search_path=a_schema,public -c DateStyle=SQL,DMY'";
    auto a = connect(startup);
    auto b = connect("application_name=client_b");
    ASSERT_TRUE(connected(a.get()) && connected(b.get()));
    // PostgreSQL itself, asked the same, is the reference for what the client must see.
    auto direct = pq_connect(pg().conninfo(kTrustRole.user) + " " + startup);
    ASSERT_TRUE(connected(direct.get())) << conn_error(direct.get());
    for (const char* name : {"application_name", "client_encoding", "DateStyle", "TimeZone", "IntervalStyle",
                             "standard_conforming_strings", "server_version", "integer_datetimes"}) {
        const char* want = PQparameterStatus(direct.get(), name);
        const char* got = PQparameterStatus(a.get(), name);
        ASSERT_NE(want, nullptr) << name;
        EXPECT_STREQ(got ? got : "(not sent)", want) << "ParameterStatus " << name << " differs from PostgreSQL's";
    }
    const std::string want_search_path = query_value(direct.get(), "SHOW search_path");
    const std::string want_datestyle = query_value(direct.get(), "SHOW DateStyle");
    for (int round = 0; round < 3; ++round) {  // alternate on the one shared server
        EXPECT_EQ(query_value(a.get(), "SHOW search_path"), want_search_path);
        EXPECT_EQ(query_value(b.get(), "SHOW search_path"), server_search_path_);
        EXPECT_EQ(query_value(a.get(), "SELECT current_setting('application_name')"), "client_a");
        EXPECT_EQ(query_value(b.get(), "SELECT current_setting('application_name')"), "client_b");
        EXPECT_EQ(query_value(a.get(), "SHOW DateStyle"), want_datestyle);
        EXPECT_EQ(query_value(a.get(), "SELECT DATE '2024-03-01'::text"), "01/03/2024");
        EXPECT_EQ(query_value(b.get(), "SHOW DateStyle"), "ISO, MDY");
        EXPECT_EQ(query_value(b.get(), "SELECT DATE '2024-03-01'::text"), "2024-03-01");
    }
    // pg_stat_activity shows the name of whichever client the server works for right now.
    exec_ok(b.get(), "BEGIN");
    EXPECT_EQ(query_value(b.get(), "SELECT application_name FROM pg_stat_activity WHERE pid = pg_backend_pid()"),
              "client_b");
    exec_ok(b.get(), "COMMIT");
}

// The first login with these settings checks them on a server, the second finds them known, the
// rest reuse what the second was told (Pool::Welcome): all must see what PostgreSQL reports, and a
// SET by one of them must not reach the welcome of the next.
TEST_F(ProxySessionParams, LoginsThatStartAlikeAreToldTheSame) {
    const std::string startup = "application_name=alike client_encoding=utf8 options='-c DateStyle=SQL,DMY'";
    auto direct = pq_connect(pg().conninfo(kTrustRole.user) + " " + startup);
    ASSERT_TRUE(connected(direct.get())) << conn_error(direct.get());
    std::vector<PgConn> clients;
    for (int i = 0; i < 5; ++i) {
        clients.push_back(connect(startup));
        auto* c = clients.back().get();
        ASSERT_TRUE(connected(c));
        for (const char* name : {"application_name", "client_encoding", "DateStyle", "TimeZone", "server_version"}) {
            const char* want = PQparameterStatus(direct.get(), name);
            const char* got = PQparameterStatus(c, name);
            ASSERT_NE(want, nullptr) << name;
            EXPECT_STREQ(got ? got : "(not sent)", want) << "login " << i << ": ParameterStatus " << name;
        }
        EXPECT_EQ(query_value(c, "SELECT DATE '2024-03-01'::text"), "01/03/2024") << "login " << i;
        // Each changes its own copy; the next login is told the startup values all the same.
        exec_ok(c, "SET TimeZone = 'Asia/Tokyo'");
        exec_ok(c, "SET DateStyle = 'ISO, MDY'");
        EXPECT_STREQ(PQparameterStatus(c, "TimeZone"), "Asia/Tokyo");
    }
    for (auto& c : clients) {
        EXPECT_EQ(query_value(c.get(), "SHOW TimeZone"), "Asia/Tokyo");
        EXPECT_EQ(query_value(c.get(), "SELECT DATE '2024-03-01'::text"), "2024-03-01");
    }
    auto plain = connect("application_name=alike");
    EXPECT_STREQ(PQparameterStatus(plain.get(), "DateStyle"), "ISO, MDY");
    EXPECT_STREQ(PQparameterStatus(plain.get(), "TimeZone"), server_timezone_.c_str());
    EXPECT_EQ(query_value(plain.get(), "SELECT DATE '2024-03-01'::text"), "2024-03-01");
}

TEST_F(ProxySessionParams, InvalidStartupOptionIsRejectedLikePostgres) {
    auto e = login_error([&] {
        auto o = sluice_client(*sluice_, kTrustRole);
        o.parameters = {{"options", "-c no_such_setting_x=1"}};
        return o;
    }());
    // Unknown unqualified settings are refused by the server at login (42704 undefined_object).
    ASSERT_TRUE(e) << "a login with an unknown setting succeeded";
    EXPECT_EQ(e->sqlstate(), "42704") << e->fields().message();
    // The shared server survived the check: the next client works.
    auto c = connect();
    EXPECT_EQ(query_value(c.get(), "SELECT 'fine'"), "fine");

    // A bad value for a reported setting is refused at login too (22023), as PostgreSQL does,
    // not accepted and then fatal at the first query. The pool knows its defaults by now.
    auto bad_zone = sluice_client(*sluice_, kTrustRole);
    bad_zone.parameters = {{"options", "-c TimeZone=Not/AZone"}};
    auto z = login_error(bad_zone);
    EXPECT_TRUE(z) << "a login with TimeZone=Not/AZone succeeded (PostgreSQL refuses it at login)";
    if (z) {
        EXPECT_EQ(z->sqlstate(), "22023") << z->fields().message();
    }
    EXPECT_EQ(query_value(c.get(), "SELECT 'still fine'"), "still fine");
}

}  // namespace
}  // namespace sluice::testing
