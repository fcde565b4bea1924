// Issue #8 acceptance, real drivers with their default prepared-statement behaviour, through
// sluice in transaction mode on a small pool with many more connections than servers. Each driver
// script (clients/) checks every value it gets back and exits non-zero with "FAIL" lines; it runs
// against PostgreSQL directly first (the script's own check), then through sluice.
//   PreparedAsyncpg  default statement cache, 20 connections x 200 transactions, executemany
//   PreparedPsycopg  prepare=True, prepare_threshold=0 with prepared_max=5 (psycopg DEALLOCATEs
//                    its own evicted names), pipeline mode
//   PreparedNode     node-postgres named queries, postgres.js defaults, Drizzle on postgres.js,
//                    postgres.js transactions under churn (no spurious 26000/42P05, no silent
//                    rollback); pg, postgres and drizzle-orm come from the npm registry, installed
//                    once into the build tree (clients/node/package.json pins them)
//   PreparedJdbc     pgjdbc (Debian's postgresql.jar) from JdbcCases.java run as a source file:
//                    named S_n statements past prepareThreshold (default 5, 1 with Close on
//                    re-prepare, -1), extendedForPrepared, batches, rollback after an error;
//                    20 connections x 100 transactions
//   PreparedPgx      pgx v4 (Debian's golang-github-jackc-pgx-v4-dev, built offline in GOPATH mode
//                    once into the build tree) from pgx_cases.go: the default statement cache
//                    (named lrupsc_* statements), capacity 2 (DEALLOCATE on every eviction),
//                    describe mode, the simple protocol as a control, an explicit Prepare under a
//                    name every client shares, rollback after an error, a Batch, CopyFrom;
//                    20 connections x 100 transactions, then a pgxpool of 20 x 50
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/prepared/prepared_support.hpp"
#include "tests/support/file_text.hpp"

namespace sluice::testing::prepared {
namespace {

constexpr const char* kPython = "/usr/bin/python3";  // Debian's python3-asyncpg / python3-psycopg

// Runs `argv` against PostgreSQL (after `reset()`), then through a sluice with `pool_size`
// servers (after `reset()` again); both must exit 0 and print `ok_line`.
void direct_then_pooled(const std::function<void()>& reset, const std::vector<std::string>& argv,
                        std::uint32_t pool_size, const std::string& ok_line,
                        const std::vector<std::pair<std::string, std::string>>& env = {},
                        const fs::path& working_dir = {}, const std::string& pool_toml = {}) {
    reset();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    const auto direct = Target::direct();
    auto control = run_driver(direct, argv, env, 180s, working_dir);
    ASSERT_TRUE(control.ok()) << "the driver script fails against PostgreSQL itself (fix the script):\n"
                              << control.describe(direct);
    ASSERT_NE(control.output.find(ok_line), std::string::npos) << control.describe(direct);

    reset();
    ASSERT_TRUE(wait_no_backends(kRole.user));
    SluiceProcess sluice(pool_config(pool_size, pool_toml));
    const auto pooled = Target::through(sluice);
    auto run = run_driver(pooled, argv, env, 300s, working_dir);
    if (!run.ok()) {
        ADD_FAILURE() << run.describe(pooled);
        return;
    }
    EXPECT_NE(run.output.find(ok_line), std::string::npos) << run.describe(pooled);
    std::cout << argv.back() << " through sluice (pool " << pool_size << "): " << run.output;
}

TEST(PreparedAsyncpg, DefaultStatementCache) {
    auto reset = [] {
        create_table("prep_asyncpg_rows", "id serial PRIMARY KEY, owner int NOT NULL, n int NOT NULL, note text");
        create_table("prep_asyncpg_counters", "owner int PRIMARY KEY, total bigint NOT NULL");
        create_table("prep_asyncpg_many", "owner int NOT NULL, k int NOT NULL, v int NOT NULL");
        pg().exec_superuser("GRANT USAGE ON SEQUENCE prep_asyncpg_rows_id_seq TO PUBLIC");
    };
    direct_then_pooled(reset, {kPython, (clients_dir() / "asyncpg_cases.py").string()}, 4,
                       "OK asyncpg conns=20 txs=200", {{"CONNS", "20"}, {"TXS", "200"}});
}

TEST(PreparedPsycopg, PrepareTrueThresholdZeroEvictionPipeline) {
    auto reset = [] { create_table("prep_psycopg", "owner int NOT NULL, kind text NOT NULL, n int NOT NULL"); };
    direct_then_pooled(reset, {kPython, (clients_dir() / "psycopg_cases.py").string()}, 3,
                       "OK psycopg conns=6 txs=60", {{"CONNS", "6"}, {"TXS", "60"}});
}

// `program` on the PATH, or empty.
fs::path find_on_path(const std::string& program) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        const fs::path candidate = fs::path(dir.empty() ? "." : dir) / program;
        std::error_code ec;
        if (fs::is_regular_file(candidate, ec)) return candidate;
    }
    return {};
}

// ---- node ---------------------------------------------------------------------------------------

// The node drivers installed from the npm registry under the build tree, once: reused while the
// pinned package.json is unchanged. Any failure is a test failure with npm's output: never a skip.
struct NodeDrivers {
    fs::path dir;
    std::string failure;  // empty when usable
};

const NodeDrivers& node_drivers() {
    static const NodeDrivers drivers = [] {
        NodeDrivers d;
        d.dir = fs::path(SLUICE_BINARY_DIR) / "tests" / "prepared-node";
        const fs::path source = clients_dir() / "node";
        const std::string manifest = file_text(source / "package.json");
        const fs::path stamp = d.dir / "node_modules" / ".sluice-installed";
        fs::create_directories(d.dir);
        if (!fs::exists(stamp) || file_text(stamp) != manifest) {
            fs::copy_file(source / "package.json", d.dir / "package.json", fs::copy_options::overwrite_existing);
            ChildOptions npm;
            npm.argv = {"npm", "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"};
            npm.working_dir = d.dir;
            npm.log_path = d.dir / "npm-install.log";
            try {
                auto st = run_to_completion(npm, 600s);
                if (!st.success())
                    d.failure = "npm install (pg, postgres, drizzle-orm from the npm registry) " + st.describe() +
                                " in " + d.dir.string() + ":\n" + file_text(npm.log_path);
            } catch (const std::exception& e) {
                d.failure = std::string("cannot run npm (install nodejs and npm: scripts/install-deps.sh): ") + e.what();
            }
            if (d.failure.empty()) std::ofstream(stamp) << manifest;
        }
        // The scripts import the packages: they run from beside node_modules.
        for (const auto& entry : fs::directory_iterator(source))
            if (entry.path().extension() == ".mjs")
                fs::copy_file(entry.path(), d.dir / entry.path().filename(), fs::copy_options::overwrite_existing);
        return d;
    }();
    return drivers;
}

class PreparedNode : public ::testing::Test {
protected:
    void SetUp() override {
        const auto& d = node_drivers();
        ASSERT_TRUE(d.failure.empty()) << d.failure;
    }
    static std::vector<std::string> node(const std::string& script, std::vector<std::string> args = {}) {
        std::vector<std::string> argv = {"node", (node_drivers().dir / script).string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return argv;
    }
};

TEST_F(PreparedNode, NodePostgresNamedQueries) {
    auto reset = [] {
        create_table("prep_node_pg", "owner int NOT NULL, n int NOT NULL");
        create_table("prep_node_pg_counters", "owner int PRIMARY KEY, total int NOT NULL");
    };
    direct_then_pooled(reset, node("node_pg.mjs"), 4, "OK node-postgres clients=20 txs=40",
                       {{"CLIENTS", "20"}, {"TXS", "40"}}, node_drivers().dir);
}

TEST_F(PreparedNode, PostgresJsDefaults) {
    auto reset = [] {
        create_table("prep_pgjs", "owner int NOT NULL, n int NOT NULL");
        create_table("prep_pgjs_counters", "owner int PRIMARY KEY, total int NOT NULL");
        create_table("prep_pgjs_churn", "id int PRIMARY KEY");
    };
    direct_then_pooled(reset, node("postgres_js.mjs", {"basic"}), 4, "OK postgres.js case=basic",
                       {{"CONNS", "20"}, {"TXS", "200"}}, node_drivers().dir);
}

TEST_F(PreparedNode, PostgresJsTransactionsUnderChurn) {
    auto reset = [] {
        create_table("prep_pgjs", "owner int NOT NULL, n int NOT NULL");
        create_table("prep_pgjs_counters", "owner int PRIMARY KEY, total int NOT NULL");
        create_table("prep_pgjs_churn", "id int PRIMARY KEY");
    };
    // Churn on both sides: every round brings new client connections (whose statement names
    // collide with the last round's on the shared servers), and servers live 300 ms, so sluice
    // keeps preparing on fresh servers (COMMIT included) mid-run.
    direct_then_pooled(reset, node("postgres_js.mjs", {"churn"}), 3, "OK postgres.js case=churn",
                       {{"CONNS", "20"}, {"ROUNDS", "5"}, {"CHURN", "100"}}, node_drivers().dir,
                       "server_lifetime = \"300ms\"\n");
}

TEST_F(PreparedNode, DrizzleOnPostgresJs) {
    auto reset = [] {
        create_table("prep_drizzle", "id serial PRIMARY KEY, owner int NOT NULL, n int NOT NULL");
        create_table("prep_drizzle_counters", "owner int PRIMARY KEY, total int NOT NULL");
        pg().exec_superuser("GRANT USAGE ON SEQUENCE prep_drizzle_id_seq TO PUBLIC");
    };
    direct_then_pooled(reset, node("drizzle.mjs"), 4, "OK drizzle conns=20 txs=200", {{"CONNS", "20"}, {"TXS", "200"}},
                       node_drivers().dir);
}

// ---- pgjdbc -------------------------------------------------------------------------------------

constexpr const char* kJdbcJar = "/usr/share/java/postgresql.jar";  // Debian's libpostgresql-jdbc-java

TEST(PreparedJdbc, ThresholdsBatchesRePrepare) {
    // Missing tools are a failure, not a skip: CI must not pass without running pgjdbc.
    const fs::path java = find_on_path("java");
    ASSERT_FALSE(java.empty()) << "no java on the PATH: run scripts/install-deps.sh (default-jre-headless)";
    ASSERT_TRUE(fs::exists(kJdbcJar)) << kJdbcJar
                                      << " is missing: run scripts/install-deps.sh (libpostgresql-jdbc-java)";
    auto reset = [] {
        create_table("prep_jdbc_rows", "owner int NOT NULL, n int NOT NULL, note text");
        create_table("prep_jdbc_counters", "owner int PRIMARY KEY, total bigint NOT NULL");
        create_table("prep_jdbc_batch", "owner int NOT NULL, k int NOT NULL, v int NOT NULL");
    };
    // Java 11+ compiles and runs a single source file itself: no build step.
    direct_then_pooled(reset, {java.string(), "-cp", kJdbcJar, (clients_dir() / "JdbcCases.java").string()}, 4,
                       "OK jdbc conns=20 txs=100", {{"CONNS", "20"}, {"TXS", "100"}});
}

// ---- pgx ----------------------------------------------------------------------------------------

constexpr const char* kGoPath = "/usr/share/gocode";  // Debian's golang-*-dev sources (pgx v4 and its deps)

// pgx_cases.go built under the build tree, once: rebuilt only when the source changes (go's own
// cache, also in the build tree, keeps a rebuild short). GOPATH mode and no network: every import
// resolves under kGoPath. Any failure is a test failure with go's output: never a skip.
struct PgxProgram {
    fs::path binary;
    std::string failure;  // empty when usable
};

const PgxProgram& pgx_program() {
    static const PgxProgram program = [] {
        PgxProgram p;
        const fs::path dir = fs::path(SLUICE_BINARY_DIR) / "tests" / "prepared-pgx";
        const fs::path source = clients_dir() / "pgx_cases.go";
        p.binary = dir / "pgx_cases";
        const fs::path stamp = dir / "pgx_cases.built-from";
        const std::string text = file_text(source);
        fs::create_directories(dir);
        if (fs::exists(p.binary) && fs::exists(stamp) && file_text(stamp) == text) return p;
        const fs::path go = find_on_path("go");
        if (go.empty()) {
            p.failure = "no go on the PATH: run scripts/install-deps.sh (golang-go)";
            return p;
        }
        if (!fs::exists(fs::path(kGoPath) / "src/github.com/jackc/pgx/v4")) {
            p.failure = std::string(kGoPath) + "/src/github.com/jackc/pgx/v4 is missing: run scripts/install-deps.sh "
                                               "(golang-github-jackc-pgx-v4-dev)";
            return p;
        }
        fs::remove(stamp);
        ChildOptions build;
        build.argv = {go.string(), "build", "-o", p.binary.string(), source.string()};
        build.env = {{"GO111MODULE", "off"},
                     {"GOPATH", (dir / "gopath").string() + ":" + kGoPath},
                     {"GOCACHE", (dir / "gocache").string()},
                     {"GOFLAGS", ""},
                     {"GOENV", "off"},
                     {"GOPROXY", "off"},
                     {"CGO_ENABLED", "0"}};
        build.working_dir = dir;
        build.log_path = dir / "go-build.log";
        fs::remove(build.log_path);
        try {
            auto st = run_to_completion(build, 300s);
            if (!st.success())
                p.failure = "go build of " + source.string() + " against Debian's pgx v4 " + st.describe() + ":\n" +
                            file_text(build.log_path);
        } catch (const std::exception& e) {
            p.failure = std::string("cannot run go build: ") + e.what();
        }
        if (p.failure.empty()) std::ofstream(stamp) << text;
        return p;
    }();
    return program;
}

TEST(PreparedPgx, StatementCacheModesBatchCopyPool) {
    const auto& program = pgx_program();
    ASSERT_TRUE(program.failure.empty()) << program.failure;
    auto reset = [] {
        create_table("prep_pgx_rows", "owner int NOT NULL, n int NOT NULL, note text");
        create_table("prep_pgx_counters", "owner int PRIMARY KEY, total bigint NOT NULL");
        create_table("prep_pgx_batch", "owner int NOT NULL, k int NOT NULL, v int NOT NULL");
        create_table("prep_pgx_copy", "owner int NOT NULL, k int NOT NULL");
    };
    direct_then_pooled(reset, {program.binary.string()}, 4, "OK pgx conns=20 txs=100 pool_txs=50",
                       {{"CONNS", "20"}, {"TXS", "100"}, {"POOL_TXS", "50"}});
}

}  // namespace
}  // namespace sluice::testing::prepared
