// Issue #3 acceptance, basics: a client behind sluice sees PostgreSQL as if it were connected
// directly — logins with each method, queries in both protocols, errors, notices, transaction
// blocks, COPY both ways, login failures with PostgreSQL's SQLSTATEs, and the startup data
// (ParameterStatus, a BackendKeyData that is sluice's own, not a server's).
#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <array>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "protocol/sqlstate.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

constexpr std::int32_t kAuthOk = 0, kAuthMd5 = 5, kAuthSasl = 10, kAuthSaslContinue = 11, kAuthSaslFinal = 12;

class ProxyBasics : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        try {
            sluice_ = std::make_unique<SluiceProcess>(SluiceConfig{});
        } catch (const std::exception& e) {
            start_error_ = e.what();
        }
    }
    static void TearDownTestSuite() { sluice_.reset(); }
    // A failed start fails every test (instead of gtest's "skipped").
    void SetUp() override { ASSERT_TRUE(sluice_) << start_error_; }

    static PgConn connect_as(const PgRole& role, std::string_view db = "postgres") {
        auto c = pq_connect(sluice_->conninfo(role.user, role.password, db));
        EXPECT_TRUE(connected(c.get())) << conn_error(c.get());
        return c;
    }

    static std::unique_ptr<SluiceProcess> sluice_;
    static std::string start_error_;
};
std::unique_ptr<SluiceProcess> ProxyBasics::sluice_;
std::string ProxyBasics::start_error_;

TEST_F(ProxyBasics, ScramLoginWithUpstreamScramAndMd5Roles) {
    // sluice authenticates the client with SCRAM, then logs in upstream with the role's own
    // method: SCRAM for sluice_scram, MD5 for sluice_md5.
    for (const auto& role : {kScramRole, kMd5Role}) {
        auto client = BlockingClient::connect(sluice_client(*sluice_, role));
        EXPECT_EQ(client.auth_codes(), (std::vector<std::int32_t>{kAuthSasl, kAuthSaslContinue, kAuthSaslFinal, kAuthOk}))
            << role.user;
        EXPECT_EQ(client.simple_query("SELECT current_user").at(0, 0), std::string(role.user));

        auto c = connect_as(role);
        ASSERT_TRUE(connected(c.get()));
        EXPECT_EQ(query_value(c.get(), "SELECT current_user || '@' || current_database()"),
                  std::string(role.user) + "@postgres");
    }
    // The "clients" database is routed to its own upstream database.
    auto c = connect_as(kClientsRole, "clients");
    ASSERT_TRUE(connected(c.get()));
    EXPECT_EQ(query_value(c.get(), "SELECT current_database()"), "clients");
}

TEST_F(ProxyBasics, Md5MethodLogin) {
    SluiceConfig config;
    config.auth_method = "md5";
    SluiceProcess md5(config);
    auto client = BlockingClient::connect(sluice_client(md5, kMd5Role));
    EXPECT_EQ(client.auth_codes(), (std::vector<std::int32_t>{kAuthMd5, kAuthOk}));
    EXPECT_EQ(client.simple_query("SELECT current_user").at(0, 0), "sluice_md5");
    // An MD5 client whose upstream role uses SCRAM: sluice logs in upstream with the password.
    auto c = pq_connect(md5.conninfo(kScramRole.user, kScramRole.password));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_EQ(query_value(c.get(), "SELECT current_user"), "sluice_scram");

    auto bad = sluice_client(md5, kMd5Role);
    bad.password = "not_md5_pw";
    auto e = login_error(bad);
    ASSERT_TRUE(e) << "MD5 login with a wrong password succeeded";
    EXPECT_EQ(e->sqlstate(), protocol::sqlstate::kInvalidPassword);
}

TEST_F(ProxyBasics, TrustMethodLogin) {
    SluiceProcess trust(SluiceConfig::trust());
    auto client = BlockingClient::connect(sluice_client(trust, kTrustRole));
    EXPECT_EQ(client.auth_codes(), (std::vector<std::int32_t>{kAuthOk}));
    EXPECT_EQ(client.simple_query("SELECT current_user").at(0, 0), "sluice_trust");
    auto c = pq_connect(trust.conninfo("sluice_trust"));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_EQ(query_value(c.get(), "SELECT 40 + 2"), "42");
    // With a user list, trust admits only the listed users.
    auto stranger = sluice_client(trust, kTrustRole);
    stranger.user = "no_such_user_sluice";
    auto e = login_error(stranger);
    ASSERT_TRUE(e) << "a user not in auth.users logged in through trust";
    EXPECT_EQ(e->sqlstate(), protocol::sqlstate::kInvalidAuthorizationSpecification);
}

TEST_F(ProxyBasics, SimpleAndExtendedQueriesWithNulls) {
    auto c = connect_as(kScramRole);
    ASSERT_TRUE(connected(c.get()));

    // Simple protocol, two statements in one Query: libpq returns the last result.
    auto r = exec(c.get(), "SELECT 1; SELECT 'a'::text AS x, NULL::int AS y, 2.5::numeric AS z");
    ASSERT_EQ(PQresultStatus(r.get()), PGRES_TUPLES_OK) << error_message(r.get());
    ASSERT_EQ(PQnfields(r.get()), 3);
    EXPECT_STREQ(PQfname(r.get(), 0), "x");
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 0), "a");
    EXPECT_TRUE(PQgetisnull(r.get(), 0, 1));
    EXPECT_STREQ(PQgetvalue(r.get(), 0, 2), "2.5");

    // Extended protocol: parameters in, including NULL; many rows out.
    const char* params[3] = {"41", nullptr, "it's"};
    PgResult e(PQexecParams(c.get(),
                            "SELECT $1::int + g, $2::text IS NULL, $3::text || g FROM generate_series(1, 3) g", 3,
                            nullptr, params, nullptr, nullptr, 0));
    ASSERT_EQ(PQresultStatus(e.get()), PGRES_TUPLES_OK) << error_message(e.get());
    ASSERT_EQ(PQntuples(e.get()), 3);
    EXPECT_STREQ(PQgetvalue(e.get(), 0, 0), "42");
    EXPECT_STREQ(PQgetvalue(e.get(), 2, 0), "44");
    EXPECT_STREQ(PQgetvalue(e.get(), 1, 1), "t");
    EXPECT_STREQ(PQgetvalue(e.get(), 2, 2), "it's3");

    // A NULL coming back through the extended protocol, and a binary-format result.
    const char* one[1] = {nullptr};
    PgResult n(PQexecParams(c.get(), "SELECT $1::int", 1, nullptr, one, nullptr, nullptr, 1));
    ASSERT_EQ(PQresultStatus(n.get()), PGRES_TUPLES_OK) << error_message(n.get());
    EXPECT_TRUE(PQgetisnull(n.get(), 0, 0));
}

TEST_F(ProxyBasics, ErrorKeepsTheSessionUsable) {
    auto c = connect_as(kScramRole);
    ASSERT_TRUE(connected(c.get()));
    auto r = exec(c.get(), "SELECT * FROM no_such_table_sluice");
    EXPECT_EQ(PQresultStatus(r.get()), PGRES_FATAL_ERROR);
    EXPECT_EQ(sqlstate(r.get()), "42P01");
    EXPECT_EQ(query_value(c.get(), "SELECT 'still here'"), "still here");

    // Same in the extended protocol, and inside a transaction block.
    PgResult e(PQexecParams(c.get(), "SELECT 1/$1::int", 1, nullptr, std::array<const char*, 1>{"0"}.data(), nullptr,
                            nullptr, 0));
    EXPECT_EQ(sqlstate(e.get()), "22012");
    exec_ok(c.get(), "BEGIN");
    EXPECT_EQ(sqlstate(exec(c.get(), "SELECT * FROM no_such_table_sluice").get()), "42P01");
    EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_INERROR);
    EXPECT_EQ(sqlstate(exec(c.get(), "SELECT 1").get()), "25P02");
    exec_ok(c.get(), "ROLLBACK");
    EXPECT_EQ(PQtransactionStatus(c.get()), PQTRANS_IDLE);
    EXPECT_EQ(query_value(c.get(), "SELECT 7"), "7");
}

void collect_notice(void* arg, const PGresult* r) {
    static_cast<std::vector<std::string>*>(arg)->push_back(PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY));
}

TEST_F(ProxyBasics, NoticeArrives) {
    auto c = connect_as(kScramRole);
    ASSERT_TRUE(connected(c.get()));
    std::vector<std::string> notices;
    PQsetNoticeReceiver(c.get(), collect_notice, &notices);
    exec_ok(c.get(), "DO $$ BEGIN RAISE NOTICE 'hello from %', 'plpgsql'; END $$");
    ASSERT_EQ(notices.size(), 1u);
    EXPECT_EQ(notices[0], "hello from plpgsql");
}

TEST_F(ProxyBasics, TransactionBlockCommitAndRollback) {
    create_table("basics_tx", "id int primary key, v text");
    auto a = connect_as(kScramRole);
    auto b = connect_as(kMd5Role);
    ASSERT_TRUE(connected(a.get()) && connected(b.get()));

    exec_ok(a.get(), "BEGIN");
    exec_ok(a.get(), "INSERT INTO basics_tx VALUES (1, 'rolled back')");
    EXPECT_EQ(PQtransactionStatus(a.get()), PQTRANS_INTRANS);
    EXPECT_EQ(query_value(a.get(), "SELECT count(*) FROM basics_tx"), "1");
    EXPECT_EQ(query_value(b.get(), "SELECT count(*) FROM basics_tx"), "0") << "uncommitted row visible to another client";
    exec_ok(a.get(), "ROLLBACK");
    EXPECT_EQ(query_value(a.get(), "SELECT count(*) FROM basics_tx"), "0");

    exec_ok(a.get(), "BEGIN");
    exec_ok(a.get(), "INSERT INTO basics_tx VALUES (2, 'kept')");
    exec_ok(a.get(), "COMMIT");
    EXPECT_EQ(query_value(b.get(), "SELECT string_agg(id || ':' || v, ',') FROM basics_tx"), "2:kept");
}

TEST_F(ProxyBasics, CopyInAndOutRoundTrip10kRows) {
    create_table("basics_copy", "id int, v text, n int");
    auto c = connect_as(kScramRole);
    ASSERT_TRUE(connected(c.get()));

    std::string data;
    for (int i = 0; i < 10000; ++i)
        data += std::to_string(i) + "\trow " + std::to_string(i) + (i % 100 == 0 ? " with\\ttab" : "") + "\t" +
                (i % 7 == 0 ? "\\N" : std::to_string(i * 3)) + "\n";

    auto start = exec(c.get(), "COPY basics_copy FROM STDIN");
    ASSERT_EQ(PQresultStatus(start.get()), PGRES_COPY_IN) << error_message(start.get());
    // Uneven chunks: CopyData boundaries need not match rows.
    for (std::size_t off = 0; off < data.size(); off += 3001) {
        auto len = std::min<std::size_t>(3001, data.size() - off);
        ASSERT_EQ(PQputCopyData(c.get(), data.data() + off, static_cast<int>(len)), 1) << conn_error(c.get());
    }
    ASSERT_EQ(PQputCopyEnd(c.get(), nullptr), 1);
    PgResult done(PQgetResult(c.get()));
    ASSERT_EQ(PQresultStatus(done.get()), PGRES_COMMAND_OK) << error_message(done.get());
    EXPECT_STREQ(PQcmdTuples(done.get()), "10000");
    while (PgResult(PQgetResult(c.get()))) {
    }
    EXPECT_EQ(query_value(c.get(), "SELECT count(*) || '/' || count(n) || '/' || sum(id) FROM basics_copy"),
              "10000/8571/49995000");

    auto out = exec(c.get(), "COPY (SELECT * FROM basics_copy ORDER BY id) TO STDOUT");
    ASSERT_EQ(PQresultStatus(out.get()), PGRES_COPY_OUT) << error_message(out.get());
    std::string copied;
    for (;;) {
        char* buf = nullptr;
        int n = PQgetCopyData(c.get(), &buf, 0);
        if (n == -1) break;
        ASSERT_GE(n, 0) << conn_error(c.get());
        copied.append(buf, static_cast<std::size_t>(n));
        PQfreemem(buf);
    }
    PgResult out_done(PQgetResult(c.get()));
    EXPECT_EQ(PQresultStatus(out_done.get()), PGRES_COMMAND_OK) << error_message(out_done.get());
    while (PgResult(PQgetResult(c.get()))) {
    }
    EXPECT_EQ(copied.size(), data.size());
    EXPECT_TRUE(copied == data) << "COPY TO STDOUT differs from what COPY FROM STDIN sent";
    EXPECT_EQ(query_value(c.get(), "SELECT 'after copy'"), "after copy");
}

TEST_F(ProxyBasics, WrongPasswordIs28P01) {
    auto o = sluice_client(*sluice_, kScramRole);
    o.password = "wrong";
    auto e = login_error(o);
    ASSERT_TRUE(e) << "login with a wrong password succeeded";
    EXPECT_EQ(e->sqlstate(), protocol::sqlstate::kInvalidPassword);
    EXPECT_EQ(e->fields().message(), "password authentication failed for user \"sluice_scram\"");

    auto c = pq_connect(sluice_->conninfo(kScramRole.user, "wrong"));
    EXPECT_FALSE(connected(c.get()));
    EXPECT_NE(conn_error(c.get()).find("password authentication failed"), std::string::npos) << conn_error(c.get());
}

TEST_F(ProxyBasics, UnknownUserLooksLikeAWrongPassword) {
    auto wrong = sluice_client(*sluice_, kScramRole);
    wrong.password = "wrong";
    auto known = login_error(wrong);
    ConnectOptions stranger = wrong;
    stranger.user = "no_such_user_sluice";
    auto unknown = login_error(stranger);
    ASSERT_TRUE(known && unknown);
    EXPECT_EQ(unknown->sqlstate(), protocol::sqlstate::kInvalidPassword);
    // Identical apart from the name: a prober cannot tell which users exist.
    auto shape = [](const ServerError& e, std::string_view user) {
        return std::regex_replace(std::string(e.fields().message()), std::regex(std::string(user)), "<user>");
    };
    EXPECT_EQ(shape(*unknown, stranger.user), shape(*known, wrong.user));
    EXPECT_EQ(unknown->fields().severity(), known->fields().severity());
}

TEST_F(ProxyBasics, UnknownDatabaseIs3D000) {
    auto e = login_error(sluice_client(*sluice_, kScramRole, "no_such_db_sluice"));
    ASSERT_TRUE(e) << "login to an unconfigured database succeeded";
    EXPECT_EQ(e->sqlstate(), protocol::sqlstate::kInvalidCatalogName);
    EXPECT_NE(e->fields().message().find("no_such_db_sluice"), std::string_view::npos);
}

TEST_F(ProxyBasics, ParameterStatusAndSluiceOwnBackendKey) {
    auto c = connect_as(kScramRole);
    ASSERT_TRUE(connected(c.get()));
    const char* version = PQparameterStatus(c.get(), "server_version");
    ASSERT_NE(version, nullptr);
    EXPECT_TRUE(std::string(version).starts_with("15")) << version;
    EXPECT_EQ(PQserverVersion(c.get()) / 10000, 15);
    ASSERT_NE(PQparameterStatus(c.get(), "client_encoding"), nullptr);
    EXPECT_STREQ(PQparameterStatus(c.get(), "client_encoding"), "UTF8");
    ASSERT_NE(PQparameterStatus(c.get(), "TimeZone"), nullptr);
    ASSERT_NE(PQparameterStatus(c.get(), "integer_datetimes"), nullptr);

    int pid = PQbackendPID(c.get());
    EXPECT_NE(pid, 0);
    auto server_pid = query_value(c.get(), "SELECT pg_backend_pid()");
    EXPECT_NE(std::to_string(pid), server_pid) << "the client sees a real server process id";
    auto rows = pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE pid = $1", {std::to_string(pid)});
    EXPECT_EQ(rows.at(0).at(0), "0") << "BackendKeyData pid " << pid << " is a real backend";
}

}  // namespace
}  // namespace sluice::testing
