// Parked sessions (ClientSession::park): a client idle between transactions holds no coroutine,
// buffer or relay in sluice, only its session object, its socket in the parking lot. What it
// set up before (settings, prepared statements, the guard, limits) must be there when it speaks
// again, and shutdown must still reach it. sluice logs "C<n> parked" / "C<n> resumed" at debug
// level, which is how these tests know the path they exercise was taken.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

class ProxyParking : public ::testing::Test {
protected:
    void start(const std::string& extra_toml = {}) {
        auto config = SluiceConfig::trust();
        config.pool_size = 1;
        config.log_level = "debug";
        config.extra_toml = extra_toml;
        sluice_.emplace(config);
    }
    PgConn connect(std::string_view extra = {}) {
        auto c = pq_connect(sluice_->conninfo(kTrustRole.user, {}, "postgres", extra));
        EXPECT_TRUE(connected(c.get())) << conn_error(c.get());
        return c;
    }
    // How many times sluice's log says a session parked (or resumed) since `from`.
    std::size_t count(const std::string& what, std::size_t from = 0) const {
        const std::regex line("C[0-9]+ " + what);
        auto log = sluice_->log(from);
        return static_cast<std::size_t>(std::distance(std::sregex_iterator(log.begin(), log.end(), line), {}));
    }
    // Waits until `n` more sessions parked after log offset `from`.
    bool parked(std::size_t n, std::size_t from) const {
        for (auto until = std::chrono::steady_clock::now() + 5s; std::chrono::steady_clock::now() < until;) {
            if (count("parked", from) >= n) return true;
            std::this_thread::sleep_for(20ms);
        }
        return false;
    }
    std::optional<SluiceProcess> sluice_;
};

TEST_F(ProxyParking, AClientParksAtLoginAndAfterEachIdleSpellAndKeepsItsState) {
    start();
    auto from = sluice_->log_size();
    auto a = connect();
    ASSERT_TRUE(parked(1, from)) << "a client that has not spoken yet waits parked\n" << sluice_->log(from);

    const std::string server_timezone = pg().exec_superuser("SHOW TimeZone").at(0).at(0);
    ASSERT_NE(server_timezone, "Asia/Tokyo");
    exec_ok(a.get(), "SET TimeZone = 'Asia/Tokyo'");
    PgResult prepared(PQprepare(a.get(), "plus_one", "SELECT $1::int + 1", 1, nullptr));
    ASSERT_TRUE(succeeded(prepared.get())) << PQerrorMessage(a.get());

    // Idle between transactions for a few sweeps: parked again.
    from = sluice_->log_size();
    ASSERT_TRUE(parked(1, from)) << sluice_->log(from);
    // Another client takes the only server meanwhile, with the default zone.
    auto b = connect();
    EXPECT_EQ(query_value(b.get(), "SHOW TimeZone"), server_timezone);

    // A speaks again: its setting and its prepared statement are still its own.
    auto resumed_before = count("resumed");
    EXPECT_EQ(query_value(a.get(), "SHOW TimeZone"), "Asia/Tokyo");
    const char* values[] = {"41"};
    PgResult executed(PQexecPrepared(a.get(), "plus_one", 1, values, nullptr, nullptr, 0));
    ASSERT_TRUE(succeeded(executed.get())) << PQerrorMessage(a.get());
    EXPECT_STREQ(PQgetvalue(executed.get(), 0, 0), "42");
    EXPECT_GT(count("resumed"), resumed_before);

    // Many spells in a row, each ending in a transaction that sees the client's state.
    for (int i = 0; i < 5; ++i) {
        from = sluice_->log_size();
        ASSERT_TRUE(parked(1, from)) << "round " << i;
        exec_ok(a.get(), "BEGIN");
        EXPECT_EQ(query_value(a.get(), "SELECT current_setting('TimeZone')"), "Asia/Tokyo") << "round " << i;
        exec_ok(a.get(), "COMMIT");
    }
    EXPECT_EQ(query_value(b.get(), "SHOW TimeZone"), server_timezone) << "A's SET reached B";
}

TEST_F(ProxyParking, TheGuardStillStandsAfterAPark) {
    start("[guard]\nmode = \"enforce\"\n");
    auto from = sluice_->log_size();
    auto a = connect();
    ASSERT_TRUE(parked(1, from));
    create_table("parking_guarded", "id int");
    auto refused = exec(a.get(), "DELETE FROM parking_guarded");
    EXPECT_FALSE(succeeded(refused.get())) << "the guard let a DELETE without WHERE through after a park";
    from = sluice_->log_size();
    ASSERT_TRUE(parked(1, from));
    auto again = exec(a.get(), "TRUNCATE parking_guarded");
    EXPECT_FALSE(succeeded(again.get())) << "the guard let TRUNCATE through after a park";
    EXPECT_EQ(query_value(a.get(), "SELECT count(*) FROM parking_guarded"), "0");
}

TEST_F(ProxyParking, AClientIdleLimitStillFiresWhileParked) {
    start("[timeouts]\nclient_idle = \"1s\"\n");
    auto a = connect();
    ASSERT_EQ(query_value(a.get(), "SELECT 1"), "1");
    // After the query's answer: the park that follows it, not the one at login.
    auto from = sluice_->log_size();
    ASSERT_TRUE(parked(1, from));
    // The relay keeps its timer while parked: the limit fires at 1 s, not when the client speaks.
    std::this_thread::sleep_for(1800ms);
    auto r = exec(a.get(), "SELECT 2");
    EXPECT_FALSE(succeeded(r.get()));
    EXPECT_NE(std::string(PQerrorMessage(a.get())).find("timeouts.client_idle"), std::string::npos)
        << PQerrorMessage(a.get());
}

TEST_F(ProxyParking, ShutdownTellsParkedClientsWhy) {
    start();
    auto a = connect();
    ASSERT_EQ(query_value(a.get(), "SELECT 1"), "1");
    auto from = sluice_->log_size();
    ASSERT_TRUE(parked(1, from));
    auto status = sluice_->stop();
    EXPECT_TRUE(status.success()) << status.describe() << "\n" << sluice_->log();
    // The 57P01 FATAL came while the client was parked: libpq reads it with the next query.
    auto r = exec(a.get(), "SELECT 2");
    EXPECT_FALSE(succeeded(r.get()));
    EXPECT_NE(std::string(PQerrorMessage(a.get())).find("shutting down"), std::string::npos)
        << PQerrorMessage(a.get());
}

// The parked socket is watched for a hang-up too: the session ends then, not at shutdown.
TEST_F(ProxyParking, AParkedClientThatHangsUpIsGoneAtOnce) {
    start();
    auto a = connect();
    ASSERT_EQ(query_value(a.get(), "SELECT 1"), "1");
    auto from = sluice_->log_size();
    ASSERT_TRUE(parked(1, from));
    from = sluice_->log_size();
    ::shutdown(PQsocket(a.get()), SHUT_RDWR);  // gone without a Terminate
    EXPECT_TRUE(sluice_->wait_for_log("closing because", 5s, from)) << sluice_->log(from);
    EXPECT_EQ(count("resumed", from), 1u);
}

}  // namespace
}  // namespace sluice::testing
