// Issue 10, sluice to PostgreSQL over TLS: every sslmode (pg_stat_ssl says whether the server
// connection is encrypted), verify-full against a certificate for another host, an expired one and
// an unknown CA (the client gets 08006 naming the host and the reason), channel_binding=require
// (SCRAM-SHA-256-PLUS), SNI seen by a relay in front of PostgreSQL, the options parameter
// reaching the server, an IPv6 upstream, and pgbench -S over TLS on both sides.
#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/integration/tls/sni_relay.hpp"
#include "tests/integration/tls/tls_support.hpp"
#include "tests/support/child_process.hpp"

#include <future>

namespace sluice::testing::tls {
namespace {

using namespace std::chrono_literals;

SluiceConfig upstream(const std::string& query, const std::string& host = "localhost") {
    SluiceConfig c;
    c.upstream_host = host;
    c.upstream_query = query;
    return c;
}

std::string plain_conninfo(const SluiceProcess& sluice, const std::string& user = "sluice_scram",
                           const std::string& password = "scram_pw") {
    return sluice.conninfo(user, password) + " sslmode=disable";
}

constexpr const char* kServerSsl = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

TEST(UpstreamTls, EachSslMode) {
    const std::pair<const char*, const char*> modes[] = {{"disable", "f"},  {"allow", "f"},     {"prefer", "t"},
                                                         {"require", "t"},  {"verify-ca", "t"}, {"verify-full", "t"}};
    for (const auto& [mode, encrypted] : modes) {
        SCOPED_TRACE(mode);
        SluiceProcess sluice(upstream(std::string("sslmode=") + mode + "&sslrootcert=" + certs().ca_cert.string()),
                             tls_pg());
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
        EXPECT_EQ(query_value(c.get(), kServerSsl), encrypted);
    }
}

// libpq's second tries. "prefer": TLS first, plaintext again when the handshake or the login over
// TLS fails; "allow": plaintext first, TLS again when the plaintext login is refused.
TEST(UpstreamTls, PreferTriesPlaintextWhenTheHandshakeFails) {
    // A server that speaks only TLS 1.1, which OpenSSL 3 clients refuse: the handshake fails.
    auto options = tls_cluster_options(certs().server_cert, certs().server_key);
    options.extra_conf.push_back("ssl_min_protocol_version = 'TLSv1'");
    options.extra_conf.push_back("ssl_max_protocol_version = 'TLSv1.1'");
    PgCluster old_tls(options);
    SluiceProcess sluice(upstream("sslmode=prefer"), old_tls);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
    EXPECT_EQ(query_value(c.get(), kServerSsl), "f");
    EXPECT_NE(sluice.log().find("trying again without TLS (sslmode=prefer)"), std::string::npos) << sluice.log();
    // require has no second try.
    SluiceProcess strict(upstream("sslmode=require"), old_tls);
    auto r = pq_connect(plain_conninfo(strict));
    EXPECT_FALSE(connected(r.get()));
}

TEST(UpstreamTls, PreferTriesPlaintextWhenTheLoginOverTlsIsRefused) {
    auto options = tls_cluster_options(certs().server_cert, certs().server_key);
    options.extra_hba = {"hostssl all all 127.0.0.1/32 reject"};
    PgCluster no_tls_logins(options);
    SluiceProcess sluice(upstream("sslmode=prefer", "127.0.0.1"), no_tls_logins);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
    EXPECT_EQ(query_value(c.get(), kServerSsl), "f");
}

TEST(UpstreamTls, AllowTriesTlsWhenThePlaintextLoginIsRefused) {
    auto options = tls_cluster_options(certs().server_cert, certs().server_key);
    options.extra_hba = {"hostnossl all all 127.0.0.1/32 reject"};
    PgCluster tls_only(options);
    SluiceProcess sluice(upstream("sslmode=allow", "127.0.0.1"), tls_only);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
    EXPECT_EQ(query_value(c.get(), kServerSsl), "t");
    EXPECT_NE(sluice.log().find("trying again with TLS (sslmode=allow)"), std::string::npos) << sluice.log();
    // disable has no second try: the refusal reaches the client.
    SluiceProcess plain(upstream("sslmode=disable", "127.0.0.1"), tls_only);
    auto r = pq_connect(plain_conninfo(plain));
    EXPECT_FALSE(connected(r.get()));
}

TEST(UpstreamTls, VerifyFullAgainstAnotherHostsCertificate) {
    PgCluster other(tls_cluster_options(certs().other_host_cert, certs().other_host_key));
    SluiceProcess sluice(upstream("sslmode=verify-full&sslrootcert=" + certs().ca_cert.string()), other);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_FALSE(connected(c.get()));
    const std::string expected = "TLS to localhost:" + std::to_string(other.port()) + " failed: certificate is for another host";
    EXPECT_NE(conn_error(c.get()).find(expected), std::string::npos) << conn_error(c.get());
    EXPECT_NE(sluice.log().find(expected), std::string::npos) << sluice.log();
    auto refused = login_error(sluice_client(sluice, kScramRole));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->sqlstate(), "08006");
    EXPECT_NE(std::string(refused->what()).find(expected), std::string::npos) << refused->what();
}

TEST(UpstreamTls, VerifyFullAgainstAnExpiredCertificate) {
    PgCluster expired(tls_cluster_options(certs().expired_cert, certs().expired_key));
    SluiceProcess sluice(upstream("sslmode=verify-full&sslrootcert=" + certs().ca_cert.string()), expired);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_FALSE(connected(c.get()));
    const std::string expected = "TLS to localhost:" + std::to_string(expired.port()) + " failed: certificate has expired";
    EXPECT_NE(conn_error(c.get()).find(expected), std::string::npos) << conn_error(c.get());
    EXPECT_NE(sluice.log().find(expected), std::string::npos) << sluice.log();
}

// Supabase's direct hosts are IPv6-only: a bracketed IPv6 literal, over TLS, and SCRAM through it.
TEST(UpstreamTls, IPv6Upstream) {
    auto options = tls_cluster_options(certs().server_cert, certs().server_key);
    options.extra_conf.push_back("listen_addresses = '::1'");
    PgCluster v6(options);
    SluiceProcess sluice(upstream("sslmode=require", "[::1]"), v6);
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
    EXPECT_EQ(query_value(c.get(), kServerSsl), "t");
    EXPECT_EQ(query_value(c.get(), "SELECT inet_client_addr()::text"), "::1/128");
}

TEST(UpstreamTls, VerifyCaAgainstAnUnknownCa) {
    SluiceProcess sluice(upstream("sslmode=verify-ca&sslrootcert=" + certs().other_ca_cert.string()), tls_pg());
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_FALSE(connected(c.get()));
    EXPECT_NE(conn_error(c.get()).find("certificate signed by an unknown CA"), std::string::npos) << conn_error(c.get());
}

TEST(UpstreamTls, ChannelBindingRequire) {
    SluiceProcess sluice(upstream("sslmode=verify-full&channel_binding=require&sslrootcert=" + certs().ca_cert.string()),
                         tls_pg());
    {
        // SCRAM-SHA-256 on PostgreSQL: sluice answers with SCRAM-SHA-256-PLUS.
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
        EXPECT_EQ(query_value(c.get(), kServerSsl), "t");
    }
    {
        // MD5 on PostgreSQL cannot be bound: refused rather than sent unbound.
        auto c = pq_connect(plain_conninfo(sluice, "sluice_md5", "md5_pw"));
        ASSERT_FALSE(connected(c.get()));
        EXPECT_NE(conn_error(c.get()).find("channel_binding=require"), std::string::npos) << conn_error(c.get());
    }
}

TEST(UpstreamTls, SniIsTheHostName) {
    SniRelay relay(tls_pg().port());
    {
        auto config = upstream("sslmode=verify-full&sslrootcert=" + certs().ca_cert.string());
        config.upstream_port = relay.port();
        SluiceProcess sluice(config, tls_pg());
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
        EXPECT_EQ(query_value(c.get(), kServerSsl), "t");
    }
    {
        // An address is not a name: no SNI (RFC 6066), as with sslsni=0.
        auto config = upstream("sslmode=require", "127.0.0.1");
        config.upstream_port = relay.port();
        SluiceProcess sluice(config, tls_pg());
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
    }
    auto names = relay.server_names();
    ASSERT_GE(names.size(), 2u);
    EXPECT_EQ(names.front(), "localhost");
    EXPECT_EQ(names.back(), "");
}

TEST(UpstreamTls, EndpointOptionReachesTheServer) {
    std::size_t from = tls_pg().log_size();
    SluiceProcess sluice(upstream("sslmode=require&options=endpoint%3Dxyz"), tls_pg());
    auto c = pq_connect(plain_conninfo(sluice));
    // PostgreSQL itself does not know the option (Neon's proxy does): its refusal shows it arrived.
    EXPECT_FALSE(connected(c.get()));
    EXPECT_TRUE(wait_until([&] { return tls_pg().read_log(from).find("endpoint=xyz") != std::string::npos; }, 5s))
        << tls_pg().read_log(from);
}

// sslcert/sslkey: PostgreSQL's "cert" authentication (the certificate's CN is the role) logs
// sluice in with no password at all.
TEST(UpstreamTls, ClientCertificateAuthentication) {
    auto options = tls_cluster_options(certs().server_cert, certs().server_key);
    options.extra_hba = {"hostssl all sluice_scram 127.0.0.1/32 cert"};
    PgCluster cluster(options);
    const std::string base = "sslmode=verify-full&sslrootcert=" + certs().ca_cert.string();
    {
        SluiceProcess sluice(upstream(base + "&sslcert=" + certs().client_cert.string() + "&sslkey=" +
                                      certs().client_key.string()),
                             cluster);
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get()) << sluice.log();
        EXPECT_EQ(query_value(c.get(), "SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()"),
                  "/CN=sluice_scram");
    }
    {
        // Without the certificate PostgreSQL refuses the login, and the client sees its error.
        SluiceProcess sluice(upstream(base), cluster);
        auto c = pq_connect(plain_conninfo(sluice));
        ASSERT_FALSE(connected(c.get()));
        EXPECT_NE(conn_error(c.get()).find("certificate"), std::string::npos) << conn_error(c.get());
    }
}

// The server connection is TLS: the CancelRequest sluice forwards goes over TLS the same way.
TEST(UpstreamTls, CancelRequestOverTls) {
    SluiceProcess sluice(upstream("sslmode=verify-full&sslrootcert=" + certs().ca_cert.string()), tls_pg());
    auto c = pq_connect(plain_conninfo(sluice));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    auto running = std::async(std::launch::async, [&] { return exec_with_deadline(c.get(), "SELECT pg_sleep(20)", 30s); });
    ASSERT_TRUE(wait_until(
        [] {
            return tls_pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(20)' "
                                           "AND state = 'active'")
                       .at(0)
                       .at(0) == "1";
        },
        10s));
    std::unique_ptr<PGcancel, decltype(&PQfreeCancel)> cancel(PQgetCancel(c.get()), &PQfreeCancel);
    ASSERT_TRUE(cancel);
    char err[256] = {};
    ASSERT_EQ(PQcancel(cancel.get(), err, sizeof err), 1) << err;
    ASSERT_EQ(running.wait_for(10s), std::future_status::ready) << "the query did not return after the cancel";
    auto result = running.get();
    EXPECT_EQ(result.state(), "57014") << result.describe();
    EXPECT_TRUE(sluice.wait_for_log("forwarding a cancel request", 2s));
    EXPECT_EQ(sluice.log().find("could not forward a cancel request"), std::string::npos) << sluice.log();
}

// 100 clients over TLS on a pool of 10 TLS server connections: every transaction succeeds.
TEST(TlsLoad, PgbenchSelectOnlyBothSides) {
    ChildOptions init;
    init.argv = {"pgbench", "-i", "-q", "-s", "1", "-h", tls_pg().host(), "-p", std::to_string(tls_pg().port()),
                 "-U", "postgres", "postgres"};
    ChildProcess init_run(init);
    auto init_st = init_run.wait_for_exit(120s);
    ASSERT_TRUE(init_st && init_st->success()) << init_run.log();
    tls_pg().exec_superuser("GRANT SELECT ON pgbench_accounts, pgbench_branches, pgbench_tellers TO sluice_trust");

    auto config = SluiceConfig::trust();
    config.pool_size = 10;
    config.max_client_connections = 200;
    config.upstream_host = "localhost";
    config.upstream_query = "sslmode=verify-full&sslrootcert=" + certs().ca_cert.string();
    config.extra_toml = client_tls_toml("require");
    config.log_connections = false;
    SluiceProcess sluice(config, tls_pg());

    ChildOptions bench;
    bench.argv = {"pgbench", "-n", "-S", "-c", "100", "-j", "4", "-t", "50", "-h", "localhost", "-p",
                  std::to_string(sluice.port()), "-U", "sluice_trust", "postgres"};
    bench.env = {{"PGSSLMODE", "verify-full"}, {"PGSSLROOTCERT", certs().ca_cert.string()}};
    ChildProcess run(bench);
    auto st = run.wait_for_exit(300s);
    ASSERT_TRUE(st) << "pgbench did not finish:\n" << run.log();
    const std::string out = run.log();
    EXPECT_TRUE(st->success()) << out;
    EXPECT_NE(out.find("number of transactions actually processed: 5000/5000"), std::string::npos) << out;
    EXPECT_NE(out.find("number of failed transactions: 0 "), std::string::npos) << out;
    EXPECT_LE(tls_pg().count_backends("sluice_trust"), 10);
}

}  // namespace
}  // namespace sluice::testing::tls
