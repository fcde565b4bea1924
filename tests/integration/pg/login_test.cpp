// BlockingClient logs in to a real PostgreSQL 15 with each authentication method, using only
// sluice's codec and auth code: the foundation's proof that both speak PostgreSQL's dialect.
#include <gtest/gtest.h>

#include "protocol/auth/md5.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/sqlstate.hpp"
#include "tests/support/cluster_client.hpp"

namespace sluice::testing {
namespace {

namespace auth = protocol::auth;
namespace sqlstate = protocol::sqlstate;

constexpr std::int32_t kOk = 0, kMd5 = 5, kSasl = 10, kSaslContinue = 11, kSaslFinal = 12;

PgCluster& pg() { return PgCluster::shared(); }

ServerError login_error(const ConnectOptions& o) {
    try {
        BlockingClient::connect(o);
    } catch (const ServerError& e) {
        return e;
    }
    throw std::runtime_error("login unexpectedly succeeded");
}

TEST(Login, ScramSha256) {
    auto c = BlockingClient::connect(connect_options(pg(), kScramRole));
    EXPECT_EQ(c.auth_codes(), (std::vector<std::int32_t>{kSasl, kSaslContinue, kSaslFinal, kOk}));
    EXPECT_EQ(c.simple_query("SELECT current_user").at(0, 0), "sluice_scram");
    ASSERT_TRUE(c.parameter("server_version"));
    EXPECT_TRUE(c.parameter("server_version")->starts_with("15"));
    EXPECT_EQ(c.parameter("client_encoding"), "UTF8");
    EXPECT_NE(c.backend_pid(), 0);
    EXPECT_EQ(c.secret_key().size(), 4u);
    EXPECT_EQ(c.tx_status(), protocol::TxStatus::Idle);
}

TEST(Login, Md5) {
    auto c = BlockingClient::connect(connect_options(pg(), kMd5Role));
    EXPECT_EQ(c.auth_codes(), (std::vector<std::int32_t>{kMd5, kOk}));
    EXPECT_EQ(c.simple_query("SELECT current_user").at(0, 0), "sluice_md5");
}

TEST(Login, Trust) {
    auto c = BlockingClient::connect(connect_options(pg(), kTrustRole));
    EXPECT_EQ(c.auth_codes(), (std::vector<std::int32_t>{kOk}));
    EXPECT_EQ(c.simple_query("SELECT current_user").at(0, 0), "sluice_trust");
}

TEST(Login, ClientSuiteRolesReachTheirDatabase) {
    for (const auto& role : {kClientsRole, kHcMd5Role, kHcScramRole}) {
        auto c = BlockingClient::connect(connect_options(pg(), role, "clients"));
        auto r = c.simple_query("SELECT current_user, current_database()");
        ASSERT_TRUE(r.ok()) << role.user;
        EXPECT_EQ(r.at(0, 0), role.user);
        EXPECT_EQ(r.at(0, 1), "clients");
    }
    EXPECT_EQ(BlockingClient::connect(connect_options(pg(), kHcMd5Role, "clients")).auth_codes().front(), kMd5);
    EXPECT_EQ(BlockingClient::connect(connect_options(pg(), kClientsRole, "clients")).auth_codes().front(), kSasl);
}

TEST(Login, StartupParametersReachTheServer) {
    auto o = connect_options(pg(), kScramRole);
    o.parameters = {{"application_name", "sluice-login-test"}, {"options", "-c search_path=pg_catalog"}};
    auto c = BlockingClient::connect(o);
    EXPECT_EQ(c.parameter("application_name"), "sluice-login-test");
    EXPECT_EQ(c.simple_query("SHOW search_path").at(0, 0), "pg_catalog");
}

TEST(Login, WrongPasswordIs28P01FromTheServer) {
    for (auto role : {kScramRole, kMd5Role, kHcScramRole, kHcMd5Role}) {
        auto o = connect_options(pg(), role);
        o.password = "wrong";
        auto e = login_error(o);
        EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidPassword) << role.user << ": " << e.what();
        EXPECT_EQ(e.fields().severity(), "FATAL");
        EXPECT_NE(e.fields().message().find("password authentication failed"), std::string_view::npos);
    }
}

TEST(Login, UnknownUserLooksLikeAWrongPassword) {
    // scram-sha-256 in pg_hba.conf: PostgreSQL runs a mock exchange so user names do not leak.
    auto o = connect_options(pg(), kScramRole);
    o.user = "no_such_user";
    EXPECT_EQ(login_error(o).sqlstate(), sqlstate::kInvalidPassword);
}

TEST(Login, UnknownDatabaseIs3D000) {
    auto e = login_error(connect_options(pg(), kTrustRole, "no_such_db"));
    EXPECT_EQ(e.sqlstate(), sqlstate::kInvalidCatalogName);
}

TEST(Login, Md5SecretMatchesWhatPostgresStores) {
    auto stored = pg().exec_superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'sluice_md5'").at(0).at(0);
    EXPECT_EQ(stored, auth::md5_secret("md5_pw", "sluice_md5"));
    EXPECT_TRUE(auth::is_md5_secret(stored));
}

TEST(Login, ScramSecretComputedBySluiceIsAcceptedByPostgres) {
    // A role whose secret sluice computed: PostgreSQL verifies our proof against our math.
    auto secret = auth::ScramSecret::from_password("known_pw", "sluice-salt-0123", 4096);
    auto text = secret.to_string();
    ASSERT_TRUE(auth::ScramSecret::looks_like(text));
    pg().exec_superuser("DROP ROLE IF EXISTS sluice_known_secret");
    pg().exec_superuser("CREATE ROLE sluice_known_secret LOGIN PASSWORD '" + text + "'");
    EXPECT_EQ(pg().exec_superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'sluice_known_secret'")
                  .at(0)
                  .at(0),
              text)
        << "PostgreSQL stores a pre-hashed SCRAM secret verbatim";

    ConnectOptions o = connect_options(pg(), PgRole{"sluice_known_secret", "known_pw"});
    auto c = BlockingClient::connect(o);
    EXPECT_EQ(c.simple_query("SELECT current_user").at(0, 0), "sluice_known_secret");
    o.password = "known_pW";
    EXPECT_EQ(login_error(o).sqlstate(), sqlstate::kInvalidPassword);
}

TEST(Login, ScramKeysRecoveredFromAClientProofLogInUpstream) {
    // sluice's pass-through: verify a client against PostgreSQL's own stored secret, recover its
    // ClientKey from the proof, then log in upstream with ClientKey/ServerKey, never the password.
    auto stored = pg().exec_superuser("SELECT rolpassword FROM pg_authid WHERE rolname = 'sluice_scram'").at(0).at(0);
    auto secret = auth::ScramSecret::parse(stored);
    ASSERT_TRUE(secret) << secret.error().message;

    auth::ScramServer server(*secret);
    auth::ScramClient client("scram_pw");
    auto server_first = server.server_first(auth::kScramSha256, client.client_first());
    ASSERT_TRUE(server_first) << server_first.error().message;
    auto client_final = client.client_final(*server_first);
    ASSERT_TRUE(client_final) << client_final.error().message;
    auto server_final = server.server_final(*client_final);
    ASSERT_TRUE(server_final) << server_final.error().message;
    ASSERT_TRUE(client.verify_server_final(*server_final));

    auto o = connect_options(pg(), kScramRole);
    o.password.clear();
    o.scram_keys = auth::ScramClient::Keys{server.client_key(), secret->server_key};
    auto c = BlockingClient::connect(o);
    EXPECT_EQ(c.auth_codes(), (std::vector<std::int32_t>{kSasl, kSaslContinue, kSaslFinal, kOk}));
    EXPECT_EQ(c.simple_query("SELECT current_user").at(0, 0), "sluice_scram");

    // A wrong ServerKey: PostgreSQL accepts the proof, but we must reject its signature.
    o.scram_keys->server_key[0] ^= 1;
    EXPECT_THROW(BlockingClient::connect(o), ClientError);
}

}  // namespace
}  // namespace sluice::testing
