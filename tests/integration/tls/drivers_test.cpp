// Issue 10 acceptance: Python drivers reach sluice over TLS with verification on (the test CA,
// the host name checked), through [client_tls] mode = "require" and a TLS upstream.
#include <fstream>

#include "tests/integration/tls/tls_support.hpp"
#include "tests/support/child_process.hpp"

namespace sluice::testing::tls {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPython = "/usr/bin/python3";  // Debian's python3-asyncpg / python3-psycopg

SluiceConfig tls_both_sides() {
    SluiceConfig c;
    c.extra_toml = client_tls_toml("require");
    c.upstream_host = "localhost";
    c.upstream_query = "sslmode=verify-full&sslrootcert=" + certs().ca_cert.string();
    return c;
}

std::string run_python(const std::string& script, const std::vector<std::string>& args) {
    ChildOptions o;
    o.argv = {kPython, "-c", script};
    o.argv.insert(o.argv.end(), args.begin(), args.end());
    ChildProcess py(o);
    auto st = py.wait_for_exit(60s);
    EXPECT_TRUE(st && st->success()) << py.log();
    return py.log();
}

TEST(TlsDrivers, PsycopgVerifyFull) {
    SluiceProcess sluice(tls_both_sides(), tls_pg());
    const std::string script = R"PY(
import sys, psycopg
port, ca = sys.argv[1], sys.argv[2]
with psycopg.connect(f"host=localhost port={port} dbname=postgres user=sluice_scram password=scram_pw "
                     f"sslmode=verify-full sslrootcert={ca}") as conn:
    assert conn.pgconn.ssl_in_use
    for i in range(20):
        with conn.transaction():
            got = conn.execute("SELECT %s::int + 1, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", (i,)).fetchone()
            assert got == (i + 1, True), got
print("OK psycopg tls")
)PY";
    auto out = run_python(script, {std::to_string(sluice.port()), certs().ca_cert.string()});
    EXPECT_NE(out.find("OK psycopg tls"), std::string::npos) << out;
}

TEST(TlsDrivers, AsyncpgVerifyFull) {
    SluiceProcess sluice(tls_both_sides(), tls_pg());
    const std::string script = R"PY(
import asyncio, ssl, sys, asyncpg
port, ca = int(sys.argv[1]), sys.argv[2]
async def main():
    ctx = ssl.create_default_context(cafile=ca)  # verifies the chain and the host name
    conn = await asyncpg.connect(host="localhost", port=port, user="sluice_scram", password="scram_pw",
                                 database="postgres", ssl=ctx)
    for i in range(20):
        got = await conn.fetchval("SELECT $1::int + 1", i)
        assert got == i + 1, got
    await conn.close()
    print("OK asyncpg tls")
asyncio.run(main())
)PY";
    auto out = run_python(script, {std::to_string(sluice.port()), certs().ca_cert.string()});
    EXPECT_NE(out.find("OK asyncpg tls"), std::string::npos) << out;
}

// node-postgres with ssl: { ca, rejectUnauthorized: true } (its verifying form), installed from
// the npm registry into the build tree once, pinned as in tests/integration/prepared.
TEST(TlsDrivers, NodePostgresVerifyFull) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::path(SLUICE_BINARY_DIR) / "tests" / "tls-node";
    fs::create_directories(dir);
    if (!fs::exists(dir / "node_modules" / "pg" / "package.json")) {
        ChildOptions npm;
        npm.argv = {"npm", "install", "--no-audit", "--no-fund", "--no-save", "--no-package-lock", "--loglevel=error",
                    "pg@8.23.1"};
        npm.working_dir = dir;
        npm.log_path = dir / "npm-install.log";
        auto st = run_to_completion(npm, 600s);
        ASSERT_TRUE(st.success()) << "npm install pg (from the npm registry) " << st.describe();
    }
    std::ofstream(dir / "tls_pg.mjs") << R"JS(
import pg from 'pg';
import fs from 'fs';
const [port, ca] = process.argv.slice(2);
const client = new pg.Client({ host: 'localhost', port: Number(port), user: 'sluice_scram', password: 'scram_pw',
                               database: 'postgres', ssl: { ca: fs.readFileSync(ca), rejectUnauthorized: true } });
await client.connect();
for (let i = 0; i < 20; i++) {
  const r = await client.query('SELECT $1::int + 1 AS n', [i]);
  if (r.rows[0].n !== i + 1) throw new Error(`got ${r.rows[0].n}`);
}
await client.end();
console.log('OK node-postgres tls');
)JS";
    SluiceProcess sluice(tls_both_sides(), tls_pg());
    ChildOptions node;
    node.argv = {"node", (dir / "tls_pg.mjs").string(), std::to_string(sluice.port()), certs().ca_cert.string()};
    node.working_dir = dir;
    ChildProcess run(node);
    auto st = run.wait_for_exit(60s);
    ASSERT_TRUE(st && st->success()) << run.log();
    EXPECT_NE(run.log().find("OK node-postgres tls"), std::string::npos) << run.log();
}

}  // namespace
}  // namespace sluice::testing::tls
