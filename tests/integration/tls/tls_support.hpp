#pragma once
// The TLS tests' fixture: a PostgreSQL with ssl=on and the throwaway certificates of
// tests/support/tls_certs, and sluice configs with [client_tls] and TLS upstream URLs.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/sluice_process.hpp"
#include "tests/support/pg_cluster.hpp"
#include "tests/support/tls_certs.hpp"
#include "tests/support/wait_until.hpp"

namespace sluice::testing::tls {

inline const TlsCerts& certs() { return TlsCerts::shared(); }

inline std::string quoted(const std::filesystem::path& p) { return "'" + p.string() + "'"; }

// A cluster presenting `cert`/`key` (the localhost certificate unless told otherwise).
inline PgCluster::Options tls_cluster_options(const std::filesystem::path& cert, const std::filesystem::path& key) {
    PgCluster::Options o;
    o.max_connections = 200;
    o.extra_conf = {"ssl = on", "ssl_cert_file = " + quoted(cert), "ssl_key_file = " + quoted(key),
                    "ssl_ca_file = " + quoted(certs().ca_cert)};
    return o;
}

// The shared TLS cluster of this test binary.
inline PgCluster& tls_pg() {
    static PgCluster cluster(tls_cluster_options(certs().server_cert, certs().server_key));
    return cluster;
}

// [client_tls] with sluice's certificate for localhost (the same one PostgreSQL uses).
inline std::string client_tls_toml(const std::string& mode, const std::string& more = {}) {
    return "\n[client_tls]\nmode = \"" + mode + "\"\ncert_file = \"" + certs().server_cert.string() +
           "\"\nkey_file = \"" + certs().server_key.string() + "\"\n" + more;
}

// libpq conninfo for sluice over TLS as `sslmode`, verifying with the test CA where asked.
inline std::string tls_conninfo(const SluiceProcess& sluice, const std::string& user, const std::string& password,
                                const std::string& sslmode, const std::string& extra = {}) {
    return "host=localhost port=" + std::to_string(sluice.port()) + " user=" + user + " password=" + password +
           " dbname=postgres sslmode=" + sslmode + " sslrootcert=" + certs().ca_cert.string() + " " + extra;
}

}  // namespace sluice::testing::tls
