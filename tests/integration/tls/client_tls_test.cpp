// Issue 10, clients to sluice over TLS: [client_tls] mode = "require" with a certificate for
// localhost; libpq with sslmode=require, verify-full (the test CA) and a client certificate;
// plaintext refused with 28000 and a message saying how; SCRAM-SHA-256-PLUS; PostgreSQL 17's
// direct TLS (ALPN "postgresql"), spoken by a Python client since PostgreSQL 15's libpq cannot;
// SIGHUP loading new certificates without dropping sessions.
#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "tests/integration/proxy/proxy_test_support.hpp"
#include "tests/integration/tls/tls_support.hpp"
#include "tests/support/child_process.hpp"

namespace sluice::testing::tls {
namespace {

using namespace std::chrono_literals;

SluiceConfig require_tls(const std::string& more = {}) {
    SluiceConfig c;
    c.extra_toml = client_tls_toml("require", more);
    return c;
}

TEST(ClientTls, LibpqRequireAndVerifyFull) {
    SluiceProcess sluice(require_tls(), tls_pg());
    for (const char* mode : {"require", "verify-ca", "verify-full"}) {
        SCOPED_TRACE(mode);
        auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", mode));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
        EXPECT_EQ(PQsslInUse(c.get()), 1);
        EXPECT_EQ(query_value(c.get(), "SELECT 40 + 2"), "42");
    }
    EXPECT_NE(sluice.log().find("TLS TLSv1.3 established"), std::string::npos) << sluice.log();
}

// TLS handshakes run on a thread of their own ("sluice-tls"), started by the first handshake: a
// sluice that never speaks TLS has no such thread (with one worker it stays single-threaded, and
// libc's socket calls skip their multi-threaded bookkeeping).
TEST(ClientTls, TheHandshakeThreadStartsWithTheFirstHandshake) {
    SluiceProcess sluice(require_tls(), tls_pg());
    auto has_tls_thread = [&] {
        auto names = sluice.thread_names();
        return std::find(names.begin(), names.end(), "sluice-tls") != names.end();
    };
    EXPECT_FALSE(has_tls_thread());
    auto plain = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "disable"));
    ASSERT_FALSE(connected(plain.get()));  // refused before any handshake
    EXPECT_FALSE(has_tls_thread());
    auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "require"));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_TRUE(has_tls_thread());
}

TEST(ClientTls, PlaintextRefusedWithTheReason) {
    SluiceProcess sluice(require_tls(), tls_pg());
    auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "disable"));
    ASSERT_FALSE(connected(c.get()));
    EXPECT_NE(conn_error(c.get()).find("TLS is required to connect to sluice"), std::string::npos) << conn_error(c.get());
    EXPECT_NE(conn_error(c.get()).find("sslmode=require"), std::string::npos) << conn_error(c.get());
    // The SQLSTATE, as a plaintext client reads it.
    auto refused = login_error(sluice_client(sluice, kScramRole));
    ASSERT_TRUE(refused.has_value());
    EXPECT_EQ(refused->sqlstate(), "28000");
}

// SIGHUP reads the certificate files again: established sessions stay, new logins get the new
// certificate, and files that do not load keep the running one (with an error in the log).
TEST(ClientTls, SighupReloadsTheCertificateWithoutDroppingConnections) {
    namespace fs = std::filesystem;
    ScratchDir dir("sluice-reload");
    const fs::path cert = dir.path / "sluice.crt", key = dir.path / "sluice.key";
    fs::copy_file(certs().server_cert, cert);
    fs::copy_file(certs().server_key, key);
    SluiceConfig config;
    config.extra_toml = "\n[client_tls]\nmode = \"require\"\ncert_file = \"" + cert.string() + "\"\nkey_file = \"" +
                        key.string() + "\"\n";
    SluiceProcess sluice(config, tls_pg());
    auto before = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "verify-full"));
    ASSERT_TRUE(connected(before.get())) << conn_error(before.get());

    // Now sluice's certificate is other.example's: verify-full for localhost must refuse it.
    fs::copy_file(certs().other_host_cert, cert, fs::copy_options::overwrite_existing);
    fs::copy_file(certs().other_host_key, key, fs::copy_options::overwrite_existing);
    std::size_t mark = sluice.log_size();
    sluice.process().send_signal(SIGHUP);
    ASSERT_TRUE(sluice.wait_for_log("client_tls certificates reloaded", 10s, mark)) << sluice.log(mark);
    auto after = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "verify-full"));
    ASSERT_FALSE(connected(after.get()));
    EXPECT_NE(conn_error(after.get()).find("other.example"), std::string::npos) << conn_error(after.get());
    auto unverified = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "require"));
    EXPECT_TRUE(connected(unverified.get())) << conn_error(unverified.get());
    // The session from before the reload goes on, over its own TLS.
    EXPECT_EQ(query_value(before.get(), "SELECT 40 + 2"), "42");

    // A broken file: the running certificate stays.
    { std::ofstream(cert) << "not a certificate\n"; }
    mark = sluice.log_size();
    sluice.process().send_signal(SIGHUP);
    ASSERT_TRUE(sluice.wait_for_log("the running certificates stay in use", 10s, mark)) << sluice.log(mark);
    auto still = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "require"));
    EXPECT_TRUE(connected(still.get())) << conn_error(still.get());
    EXPECT_EQ(query_value(before.get(), "SELECT 1"), "1");
}

TEST(ClientTls, VerifyFullWithTheWrongCaFails) {
    SluiceProcess sluice(require_tls(), tls_pg());
    auto c = pq_connect("host=localhost port=" + std::to_string(sluice.port()) +
                        " user=sluice_scram password=scram_pw dbname=postgres sslmode=verify-full sslrootcert=" +
                        certs().other_ca_cert.string());
    ASSERT_FALSE(connected(c.get()));
    EXPECT_NE(conn_error(c.get()).find("certificate verify failed"), std::string::npos) << conn_error(c.get());
}

TEST(ClientTls, ScramSha256PlusOverTls) {
    SluiceProcess sluice(require_tls(), tls_pg());
    auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "verify-full", "channel_binding=require"));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    EXPECT_EQ(query_value(c.get(), "SELECT 1"), "1");
}

TEST(ClientTls, ClientCertificateVerifyFull) {
    auto config = require_tls("ca_file = \"" + certs().ca_cert.string() + "\"\nclient_cert = \"verify-full\"\n");
    SluiceProcess sluice(config, tls_pg());
    const std::string cert = " sslcert=" + certs().client_cert.string() + " sslkey=" + certs().client_key.string();
    {
        auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "verify-full", cert));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
        EXPECT_EQ(query_value(c.get(), "SELECT 1"), "1");
    }
    {
        // The certificate names sluice_scram, not sluice_md5.
        auto c = pq_connect(tls_conninfo(sluice, "sluice_md5", "md5_pw", "verify-full", cert));
        ASSERT_FALSE(connected(c.get()));
        EXPECT_NE(conn_error(c.get()).find("does not match user \"sluice_md5\""), std::string::npos) << conn_error(c.get());
    }
    {
        // No certificate at all: the handshake fails.
        auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "verify-full",
                                         "sslcert=/nonexistent sslkey=/nonexistent"));
        ASSERT_FALSE(connected(c.get()));
    }
}

// PostgreSQL 17's sslnegotiation=direct: TLS from the first byte, ALPN "postgresql", then the
// startup packet inside TLS. The answer must be an authentication request ('R').
TEST(ClientTls, DirectTlsWithAlpn) {
    SluiceProcess sluice(require_tls(), tls_pg());
    const std::string script = R"PY(
import socket, ssl, struct, sys
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.set_alpn_protocols(["postgresql"])
with socket.create_connection(("127.0.0.1", port)) as raw:
    with ctx.wrap_socket(raw, server_hostname="localhost") as s:
        assert s.selected_alpn_protocol() == "postgresql", s.selected_alpn_protocol()
        body = struct.pack("!i", 196608) + b"user\0sluice_scram\0database\0postgres\0\0"
        s.sendall(struct.pack("!i", len(body) + 4) + body)
        tag = s.recv(1)
        print("answer", tag.decode())
)PY";
    ChildOptions o;
    o.argv = {"/usr/bin/python3", "-c", script, std::to_string(sluice.port()), certs().ca_cert.string()};
    ChildProcess py(o);
    auto st = py.wait_for_exit(30s);
    ASSERT_TRUE(st) << py.log();
    EXPECT_TRUE(st->success()) << py.log();
    EXPECT_NE(py.log().find("answer R"), std::string::npos) << py.log();
    EXPECT_TRUE(sluice.wait_for_log("established \\(direct\\)", 5s)) << sluice.log();
}

TEST(ClientTls, PreferAcceptsBoth) {
    SluiceConfig config;
    config.extra_toml = client_tls_toml("prefer");
    SluiceProcess sluice(config, tls_pg());
    for (const char* mode : {"disable", "require"}) {
        auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", mode));
        ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
        EXPECT_EQ(PQsslInUse(c.get()), std::string_view(mode) == "require" ? 1 : 0);
    }
}

// A parked TLS client's socket leaves the event loop while OpenSSL's session stays in sluice: it
// resumes with its settings, and parks again.
TEST(ClientTls, AParkedTlsClientResumesWithItsSession) {
    auto config = require_tls();
    config.log_level = "debug";
    SluiceProcess sluice(config, tls_pg());
    auto c = pq_connect(tls_conninfo(sluice, "sluice_scram", "scram_pw", "require"));
    ASSERT_TRUE(connected(c.get())) << conn_error(c.get());
    exec_ok(c.get(), "SET application_name = 'parked_over_tls'");
    for (int round = 0; round < 2; ++round) {
        SCOPED_TRACE(round);
        auto mark = sluice.log_size();
        ASSERT_TRUE(sluice.wait_for_log(" parked", 5s, mark)) << sluice.log(mark);
        EXPECT_EQ(query_value(c.get(), "SHOW application_name"), "parked_over_tls");
        EXPECT_TRUE(sluice.wait_for_log(" resumed", 5s, mark)) << sluice.log(mark);
    }
}

}  // namespace
}  // namespace sluice::testing::tls
