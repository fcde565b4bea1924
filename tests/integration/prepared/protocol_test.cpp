// Issue #8 acceptance, protocol semantics: scripted sequences of raw extended-protocol messages,
// run once against PostgreSQL directly and once through sluice (transaction mode, pool of 2),
// must give the same answers: message tags in order, SQLSTATEs, ParameterDescription and
// RowDescription bodies, DataRows, CommandComplete tags and ReadyForQuery statuses. Through
// sluice, the Rig makes chosen steps land on the other server, so a statement prepared in one
// transaction is used in a later one on a server that never saw its Parse.
#include <gtest/gtest.h>

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/integration/prepared/prepared_support.hpp"

namespace sluice::testing::prepared {
namespace {

using Transcript = std::vector<std::string>;

// Appends one step's answers under a heading, so a diff points at the step.
void record(Transcript& t, const std::string& label, const std::vector<std::string>& answers) {
    t.push_back("-- " + label);
    t.insert(t.end(), answers.begin(), answers.end());
}

struct Script {
    std::string name;
    int clients = 1;
    std::string setup_sql;  // run by the superuser before each run (tables the script uses)
    std::function<void(Rig&, Transcript&)> run;
    std::string pool_toml = {};  // more [pool] lines for sluice
};

// gtest names the parameter in failure lines: the script's name, not its bytes.
void PrintTo(const Script& s, std::ostream* os) { *os << s.name; }

const std::vector<Script>& scripts() {
    static const std::vector<Script> all = {
        {"DuplicateParseName", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "prepare s1", r.step(0, parse("s1", "SELECT $1::int + 1 AS n") + sync()));
             record(t, "prepare s1 again", r.step(0, parse("s1", "SELECT 2") + sync()));
             record(t, "s1 still works", r.step(0, run_statement("s1", {"41"})));
             r.switch_server();
             record(t, "prepare s1 again, other server", r.step(0, parse("s1", "SELECT 3") + sync()));
             record(t, "s1 still works, other server", r.step(0, run_statement("s1", {"1"})));
             record(t, "duplicate inside one pipeline",
                    r.step(0, parse("s2", "SELECT 1") + parse("s2", "SELECT 1") + bind("s2") + execute() + sync()));
             r.switch_server();
             record(t, "s2 exists after the failed pipeline", r.step(0, run_statement("s2")));
         }},
        {"UnknownName", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "bind unknown", r.step(0, bind("nope") + execute() + sync()));
             record(t, "describe unknown", r.step(0, describe_statement("nope") + sync()));
             record(t, "prepare and close", r.step(0, parse("gone", "SELECT 1") + close_statement("gone") + sync()));
             r.switch_server();
             record(t, "bind closed, other server", r.step(0, bind("gone") + execute() + sync()));
             record(t, "describe closed", r.step(0, describe_statement("gone") + sync()));
             record(t, "session works after", r.step(0, query("SELECT 'alive'")));
         }},
        {"CloseMissingName", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "close missing statement", r.step(0, close_statement("never") + sync()));
             record(t, "close missing portal", r.step(0, close_portal("never") + sync()));
             record(t, "close twice", r.step(0, parse("c", "SELECT 1") + close_statement("c") +
                                                   close_statement("c") + sync()));
             r.switch_server();
             record(t, "close unnamed", r.step(0, close_statement("") + sync()));
         }},
        {"DescribeStatement", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "parse + describe",
                    r.step(0, parse("d1", "SELECT id, name, $1::int4 + 1 AS p, $2::text AS q FROM proto_desc WHERE id = $1",
                                    {23, 0}) +
                                  describe_statement("d1") + sync()));
             r.switch_server();
             record(t, "describe on the other server", r.step(0, describe_statement("d1") + sync()));
             record(t, "run it", r.step(0, run_statement("d1", {"2", "x"})));
             r.switch_server();
             record(t, "describe + bind + describe portal in one pipeline",
                    r.step(0, describe_statement("d1") + bind("d1", {"1", "y"}) + describe_portal() + execute() +
                                  sync()));
         }},
        {"ReuseAcrossTransactions", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "prepare", r.step(0, parse("r", "SELECT $1::int * 10 AS tens") + sync()));
             for (int i = 1; i <= 4; ++i) {
                 r.switch_server();
                 record(t, "run " + std::to_string(i), r.step(0, run_statement("r", {std::to_string(i)})));
             }
             record(t, "parse+bind+execute in one write",
                    r.step(0, parse("p", "SELECT $1::text || '!' AS bang") + bind("p", {"hi"}) + execute() + sync()));
             r.switch_server();
             record(t, "bind+execute only", r.step(0, bind("p", {"again"}) + execute() + sync()));
             record(t, "both in one pipeline",
                    r.step(0, bind("r", {"7"}) + execute() + bind("p", {"x"}) + execute() + sync()));
         }},
        {"SameNameDifferentQueries", 2, "",
         [](Rig& r, Transcript& t) {
             record(t, "c0 prepares x", r.step(0, parse("x", "SELECT 'zero:' || $1::text AS v") + sync()));
             record(t, "c1 prepares x", r.step(1, parse("x", "SELECT 'one:' || $1::text AS w") + sync()));
             r.switch_server();
             record(t, "c0 runs x", r.step(0, run_statement("x", {"a"})));
             record(t, "c1 runs x", r.step(1, run_statement("x", {"b"})));
             r.switch_server();
             record(t, "c1 runs x", r.step(1, run_statement("x", {"c"})));
             record(t, "c0 describes x", r.step(0, describe_statement("x") + sync()));
         }},
        {"DifferentNamesSameQuery", 2, "",
         [](Rig& r, Transcript& t) {
             record(t, "c0 prepares a", r.step(0, parse("a", "SELECT $1::int - 1 AS m") + sync()));
             record(t, "c1 prepares b", r.step(1, parse("b", "SELECT $1::int - 1 AS m") + sync()));
             r.switch_server();
             record(t, "c0 runs a", r.step(0, run_statement("a", {"10"})));
             record(t, "c1 runs b", r.step(1, run_statement("b", {"20"})));
             record(t, "c0 closes a", r.step(0, close_statement("a") + sync()));
             r.switch_server();
             record(t, "c1 still runs b", r.step(1, run_statement("b", {"30"})));
             record(t, "c0 cannot run a", r.step(0, bind("a", {"1"}) + execute() + sync()));
             record(t, "c1 cannot run a", r.step(1, bind("a", {"1"}) + execute() + sync()));
             record(t, "c0 cannot run b", r.step(0, bind("b", {"1"}) + execute() + sync()));
         }},
        {"FailedParseLeavesNoName", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "syntax error", r.step(0, parse("bad", "SELEC 1") + bind("bad") + execute() + sync()));
             record(t, "bind after sync", r.step(0, bind("bad") + execute() + sync()));
             r.switch_server();
             record(t, "bind, other server", r.step(0, bind("bad") + execute() + sync()));
             record(t, "name is free", r.step(0, parse("bad", "SELECT 'fixed' AS f") + sync()));
             record(t, "and works", r.step(0, run_statement("bad")));
             record(t, "semantic error",
                    r.step(0, parse("nt", "SELECT * FROM proto_no_such_table") + sync()));
             r.switch_server();
             record(t, "bind it", r.step(0, bind("nt") + execute() + sync()));
         }},
        {"UnnamedInterleaved", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "mixed pipeline",
                    r.step(0, parse("", "SELECT $1::int AS u") + bind("", {"5"}) + describe_portal() + execute() +
                                  parse("n1", "SELECT $1::text AS n") + bind("n1", {"x"}, "p1") +
                                  describe_portal("p1") + execute("p1") + bind("n1", {"y"}) + execute() +
                                  execute("p1") + sync()));
             r.switch_server();
             record(t, "unnamed again, named portal of a named statement",
                    r.step(0, parse("", "SELECT 'u2' AS u") + bind("n1", {"z"}, "p2") + execute("p2") + bind("") +
                                  execute() + sync()));
             record(t, "portal suspended",
                    r.step(0, parse("series", "SELECT g FROM generate_series(1, $1::int) g") +
                                  bind("series", {"5"}, "ps") + execute("ps", 2) + execute("ps", 2) +
                                  execute("ps", 2) + sync()));
             r.switch_server();
             record(t, "portal gone after sync", r.step(0, execute("ps") + sync()));
             record(t, "named portal of a re-parsed statement",
                    r.step(0, bind("series", {"3"}, "ps") + execute("ps", 1) + execute("ps") + close_portal("ps") +
                                  sync()));
         }},
        {"ReparseAfterTableDropped", 1,
         "DROP TABLE IF EXISTS proto_drop; CREATE TABLE proto_drop (id int); INSERT INTO proto_drop VALUES (1), (2);"
         " GRANT ALL ON proto_drop TO PUBLIC",
         [](Rig& r, Transcript& t) {
             record(t, "prepare and run",
                    r.step(0, parse("q", "SELECT id FROM proto_drop ORDER BY id") + bind("q") + execute() + sync()));
             pg().exec_superuser("DROP TABLE proto_drop");
             r.switch_server();
             record(t, "bind after drop, other server", r.step(0, bind("q") + execute() + sync()));
             record(t, "error at the bind's place in a pipeline",
                    r.step(0, parse("", "SELECT 'before' AS b") + bind("") + execute() + bind("q") + execute() +
                                  parse("", "SELECT 'after' AS a") + bind("") + execute() + sync()));
             record(t, "session works after", r.step(0, query("SELECT 'alive'")));
         }},
        {"CloseThenReparseSameName", 1, "",
         [](Rig& r, Transcript& t) {
             record(t, "prepare c", r.step(0, parse("c", "SELECT 1 AS one") + sync()));
             record(t, "run c", r.step(0, run_statement("c")));
             record(t, "close c", r.step(0, close_statement("c") + sync()));
             record(t, "re-prepare c", r.step(0, parse("c", "SELECT 'two'::text AS two, 2 AS n") + sync()));
             record(t, "run new c", r.step(0, run_statement("c")));
             r.switch_server();
             record(t, "run new c, other server", r.step(0, run_statement("c")));
             record(t, "close + re-parse + run in one pipeline",
                    r.step(0, close_statement("c") + parse("c", "SELECT 3.5::numeric AS three") + bind("c") +
                                  describe_portal() + execute() + sync()));
             r.switch_server();
             record(t, "describe c", r.step(0, describe_statement("c") + sync()));
         }},
        {"PreparedInsideTransactions", 1,
         "DROP TABLE IF EXISTS proto_tx; CREATE TABLE proto_tx (id int); GRANT ALL ON proto_tx TO PUBLIC",
         [](Rig& r, Transcript& t) {
             record(t, "begin", r.step(0, query("BEGIN")));
             record(t, "prepare in tx",
                    r.step(0, parse("ins", "INSERT INTO proto_tx VALUES ($1::int)") + bind("ins", {"1"}) + execute() +
                                  sync()));
             record(t, "rollback", r.step(0, query("ROLLBACK")));
             r.switch_server();
             record(t, "statement survives the rollback", r.step(0, bind("ins", {"2"}) + execute() + sync()));
             record(t, "begin", r.step(0, query("BEGIN")));
             record(t, "in tx", r.step(0, bind("ins", {"3"}) + execute() + sync()));
             record(t, "error in tx", r.step(0, bind("nope") + execute() + sync()));
             record(t, "rollback", r.step(0, query("ROLLBACK")));
             r.switch_server();
             record(t, "rows", r.step(0, query("SELECT array_agg(id ORDER BY id) FROM proto_tx")));
         }},
        {"MoreStatementsThanTheServerCap", 1, "",
         [](Rig& r, Transcript& t) {
             // max_prepared_statements = 3 per server: the servers keep evicting, the client never notices.
             std::string prepare_all, run_all;
             for (int i = 0; i < 10; ++i) {
                 const std::string name = "cap" + std::to_string(i);
                 prepare_all += parse(name, "SELECT $1::int + " + std::to_string(i) + " AS v" + std::to_string(i));
                 run_all += bind(name, {std::to_string(100 * i)}) + execute();
             }
             record(t, "prepare 10", r.step(0, prepare_all + sync()));
             for (int round = 0; round < 3; ++round) {
                 r.switch_server();
                 record(t, "run all 10, round " + std::to_string(round), r.step(0, run_all + sync()));
                 for (int i = 9; i >= 0; i -= 3)
                     record(t, "run one", r.step(0, run_statement("cap" + std::to_string(i), {"1"})));
             }
             record(t, "describe the first", r.step(0, describe_statement("cap0") + sync()));
         },
         "max_prepared_statements = 3\n"},
    };
    return all;
}

class PreparedProtocol : public ::testing::TestWithParam<Script> {};

Transcript run_script(const Script& s, const Target& target) {
    if (!s.setup_sql.empty()) pg().exec_superuser(s.setup_sql);
    Rig rig(target, s.clients);
    Transcript t;
    s.run(rig, t);
    if (target.label == "sluice") {
        EXPECT_TRUE(rig.placement_errors().empty())
            << "the rig could not place steps on the servers it meant (a test problem, not a verdict on "
               "prepared statements):\n"
            << join(rig.placement_errors());
        EXPECT_EQ(rig.servers_seen(), 2) << "the script's steps did not run on both servers of the pool";
    }
    return t;
}

TEST_P(PreparedProtocol, SameAnswersAsPostgres) {
    const Script& s = GetParam();
    pg().exec_superuser(
        "DROP TABLE IF EXISTS proto_desc; CREATE TABLE proto_desc (id int PRIMARY KEY, name text);"
        " INSERT INTO proto_desc VALUES (1, 'one'), (2, 'two'); GRANT ALL ON proto_desc TO PUBLIC");
    ASSERT_TRUE(wait_no_backends(kRole.user));
    Transcript direct;
    try {
        direct = run_script(s, Target::direct());
    } catch (const std::exception& e) {
        FAIL() << "the script fails against PostgreSQL itself: " << e.what();
    }
    SluiceProcess sluice(pool_config(2, s.pool_toml));
    Transcript pooled;
    try {
        pooled = run_script(s, Target::through(sluice));
    } catch (const std::exception& e) {
        ADD_FAILURE() << "through sluice: " << e.what() << "\n(PostgreSQL answered:\n" << join(direct) << ")";
        return;
    }
    EXPECT_EQ(pooled, direct) << "through sluice:\n" << join(pooled) << "PostgreSQL:\n" << join(direct);
}

INSTANTIATE_TEST_SUITE_P(Scripts, PreparedProtocol, ::testing::ValuesIn(scripts()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace sluice::testing::prepared
