// Issue 6, defect 6: server-owned ParameterStatus values (is_superuser, session_authorization,
// in_hot_standby) are not the client's settings: sluice must not replay them with set_config on
// the next server, and SET ROLE / SET SESSION AUTHORIZATION must never carry over to the next
// client of a server.
#include <gtest/gtest.h>

#include <algorithm>
#include <regex>
#include <string>
#include <thread>

#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

constexpr std::string_view kMemberRole = "relay_member";  // NOLOGIN, something to SET ROLE to
constexpr PgRole kSuperRole{"relay_super", "relay_super_pw"};

void create_roles() {
    pg().exec_superuser(
        "DO $$ BEGIN "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relay_member') THEN CREATE ROLE relay_member NOLOGIN; "
        "END IF; "
        "IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'relay_super') THEN "
        "CREATE ROLE relay_super SUPERUSER LOGIN PASSWORD 'relay_super_pw'; END IF; "
        "END $$;"
        "GRANT relay_member TO sluice_trust;"
        // Every statement a relay_super server runs lands in the server log, sluice's own included.
        "ALTER ROLE relay_super SET log_statement = 'all';");
}

std::string current_users(BlockingClient& c) {
    auto r = try_query(c, "SELECT current_user || '/' || session_user");
    return r.ok() ? r.value() : r.describe();
}

// A pooled role that is not a superuser: it may SET ROLE to a role it is a member of.
TEST(RelayFaults, SetRoleDoesNotCarryOverToNextClient) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_roles();
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    auto options = sluice_client(sluice, kTrustRole);
    auto a = BlockingClient::connect(options);
    auto b = BlockingClient::connect(options);

    auto set = try_query(a, "SET ROLE " + std::string(kMemberRole));
    ASSERT_TRUE(set.ok()) << set.describe();
    auto tx = try_query(a, "BEGIN; SELECT 1; COMMIT");
    ASSERT_TRUE(tx.ok()) << tx.describe();

    // B gets the same server (pool size 1), and must run as itself.
    EXPECT_EQ(current_users(b), "sluice_trust/sluice_trust") << "A's SET ROLE carried over to B";

    // A goes on as the role it took (session_state "track" replays it), and B never sees it.
    auto next = try_query(a, "BEGIN; SELECT current_user; COMMIT");
    EXPECT_TRUE(next.ok()) << "A's next transaction after SET ROLE: " << next.describe();
    EXPECT_EQ(current_users(a), std::string(kMemberRole) + "/sluice_trust") << "A lost its SET ROLE";
    EXPECT_EQ(current_users(b), "sluice_trust/sluice_trust");
    EXPECT_EQ(current_users(a), std::string(kMemberRole) + "/sluice_trust");
    EXPECT_EQ(current_users(b), "sluice_trust/sluice_trust");
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

// A pooled superuser changes is_superuser and session_authorization with SET SESSION
// AUTHORIZATION: PostgreSQL reports both with ParameterStatus. Today sluice records them as the
// client's settings and, on the next server, runs set_config('is_superuser', ...), which fails,
// and A's session ends with a FATAL.
TEST(RelayFaults, ServerOwnedParametersAreNotSynced) {
    create_roles();
    ASSERT_TRUE(wait_no_backends(kSuperRole.user));
    auto config = SluiceConfig::trust();
    config.users.push_back({std::string(kSuperRole.user), std::string(kSuperRole.password)});
    config.pool_size = 1;
    config.query_wait = "5s";
    // Long enough for A and B to share the first server, short enough to get a fresh one for A.
    config.databases.clear();
    config.extra_toml += "\n[[databases]]\nname = \"postgres\"\nurl = \"postgres://" + pg().host() + ":" +
                         std::to_string(pg().port()) +
                         "/postgres?sslmode=disable\"\npool = { server_lifetime = \"3s\" }\n";
    SluiceProcess sluice(config);
    const auto log_from = pg().log_size();
    const auto lifetime_start = std::chrono::steady_clock::now();  // no server is older than this
    auto options = sluice_client(sluice, kSuperRole);
    auto a = BlockingClient::connect(options);
    auto b = BlockingClient::connect(options);

    auto set = try_query(a, "SET SESSION AUTHORIZATION " + std::string(kMemberRole));
    ASSERT_TRUE(set.ok()) << set.describe();
    // PostgreSQL reports both changes with ParameterStatus; sluice passes them on.
    auto reported = [&](const std::string& name, const std::string& value) {
        return std::find(set.parameter_status.begin(), set.parameter_status.end(), std::pair{name, value}) !=
               set.parameter_status.end();
    };
    EXPECT_TRUE(reported("is_superuser", "off"));
    EXPECT_TRUE(reported("session_authorization", std::string(kMemberRole)));
    auto tx = try_query(a, "BEGIN; SELECT 1; COMMIT");
    ASSERT_TRUE(tx.ok()) << tx.describe();

    EXPECT_EQ(current_users(b), "relay_super/relay_super") << "A's SET SESSION AUTHORIZATION carried over to B";

    // A's next transaction gets a fresh server: the one it changed reaches server_lifetime (3s),
    // and sluice retires it, idle (pool maintenance) or when it would lend it next.
    wait_until([] { return pg().count_backends(kSuperRole.user) == 0; }, 5s, 50ms);
    std::this_thread::sleep_until(lifetime_start + 3500ms);  // in case it is retired only when lent
    auto next = try_query(a, "BEGIN; SELECT 'a again'; COMMIT");
    EXPECT_TRUE(next.ok()) << "A's next transaction, on a new server: " << next.describe();

    // From outside: sluice never tried to set a server-owned parameter.
    auto log = pg().read_log(log_from);
    std::smatch m;
    EXPECT_FALSE(std::regex_search(log, m,
                                   std::regex("set_config\\('(is_superuser|session_authorization|in_hot_standby)'")))
        << "sluice replayed a server-owned parameter: ..." << m.str(0) << "...";
    b.close();
    expect_pool_sound(pg(), sluice, kSuperRole, 1);
}

}  // namespace
}  // namespace sluice::testing::relay
