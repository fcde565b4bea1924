// Issue 6, fault cases for the relay. Each ends with the same four checks (expect_pool_sound):
// servers at most the pool size, none idle in transaction, no client hung, a new client served.
#include <gtest/gtest.h>

#include <atomic>
#include <csignal>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "protocol/auth/scram.hpp"
#include "protocol/startup.hpp"
#include "tests/integration/proxy/backend_sampler.hpp"
#include "tests/integration/relay/relay_support.hpp"

namespace sluice::testing::relay {
namespace {

// ---- upstream pg_ctl stop -m immediate under 50 looping clients ------------------------------

TEST(RelayFaults, UpstreamImmediateStopUnderLoad) {
    constexpr int kClients = 50;
    constexpr std::uint32_t kPoolSize = 5;
    PgCluster cluster;  // private: the shared one must not go down
    auto config = SluiceConfig::trust();
    config.pool_size = kPoolSize;
    config.query_wait = "5s";
    config.log_connections = false;
    SluiceProcess sluice(config, cluster);
    // Every libpq wait is bounded: connecting by connect_timeout, statements by exec_with_deadline.
    const std::string conninfo = sluice.conninfo(kTrustRole.user, {}, "postgres", "connect_timeout=3");

    std::atomic<bool> stop{false};
    std::atomic<int> committed{0};
    std::mutex mutex;
    std::map<std::string, int> failures;  // SQLSTATE, "connect", "lost" or "TIMEOUT" -> count
    auto count_failure = [&](const std::string& what) {
        std::lock_guard lock(mutex);
        ++failures[what];
    };
    std::vector<std::future<void>> clients;
    struct StopOnExit {
        std::atomic<bool>& flag;
        std::vector<std::future<void>>& clients;
        ~StopOnExit() {
            flag = true;
            for (auto& f : clients)
                if (f.valid()) f.wait_for(std::chrono::seconds(30));
        }
    } stop_on_exit{stop, clients};
    for (int k = 0; k < kClients; ++k) {
        clients.push_back(std::async(std::launch::async, [&] {
            PgConn c;
            while (!stop.load()) {
                if (!connected(c.get())) {
                    c = pq_connect(conninfo);
                    if (!connected(c.get())) {
                        count_failure("connect");
                        std::this_thread::sleep_for(20ms);  // pacing while the upstream is down
                        continue;
                    }
                }
                for (const char* sql : {"BEGIN", "SELECT pg_sleep(0.002)", "COMMIT"}) {
                    auto r = exec_with_deadline(c.get(), sql, 10s);
                    if (r.ok()) continue;
                    count_failure(r.timed_out ? "TIMEOUT" : !r.state().empty() ? r.state() : "lost");
                    c.reset();
                    break;
                }
                if (c) ++committed;
            }
        }));
    }

    BackendSampler sampler(cluster, std::string(kTrustRole.user));
    ASSERT_TRUE(wait_until([&] { return committed.load() > 100; }, 30s)) << "no load before the stop";
    cluster.stop_immediate();
    cluster.start();
    const auto restarted = std::chrono::steady_clock::now();
    const int at_restart = committed.load();
    EXPECT_TRUE(wait_until([&] { return committed.load() > at_restart + 100; }, 30s))
        << "the load did not resume after the upstream came back";
    stop = true;
    std::string summary;
    for (const auto& [what, n] : failures) summary += what + "=" + std::to_string(n) + " ";
    std::cout << "commits: " << committed.load() << "; client failures: " << summary << "\n";

    expect_pool_sound(cluster, sluice, kTrustRole, kPoolSize, &clients);
    // Polls fail while PostgreSQL is down; the maximum means something only if the sampler saw
    // the pool again once it was back.
    EXPECT_TRUE(wait_until([&] { return sampler.samples_between(restarted, std::chrono::steady_clock::now()) >= 3; },
                           20s))
        << "pg_stat_activity was hardly sampled after the restart (" << sampler.failures()
        << " failed polls; last: " << sampler.last_error() << ")";
    sampler.stop();
    EXPECT_LE(sampler.max(), static_cast<int>(kPoolSize)) << "more server connections than the pool size";
    std::lock_guard lock(mutex);
    EXPECT_EQ(failures.count("TIMEOUT"), 0u) << "statements hung: " << summary;
}

// ---- pg_terminate_backend of a lent server --------------------------------------------------

TEST(RelayFaults, TerminatedLentServer) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 2;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    auto options = sluice_client(sluice, kTrustRole);
    options.timeout = 10s;
    auto c = BlockingClient::connect(options);
    ASSERT_TRUE(c.simple_query("BEGIN").ok());
    ASSERT_TRUE(c.simple_query("SELECT 1").ok());
    auto rows = pg().exec_superuser(
        "SELECT pid FROM pg_stat_activity WHERE usename = $1 AND state = 'idle in transaction'",
        {std::string(kTrustRole.user)});
    ASSERT_EQ(rows.size(), 1u) << "the client's lent server";
    pg().exec_superuser("SELECT pg_terminate_backend(" + rows[0][0] + ")");

    auto after = try_query(c, "SELECT 2");
    EXPECT_FALSE(after.ok()) << "a statement after the server was terminated succeeded";
    EXPECT_EQ(after.ended.find("timed out"), std::string::npos) << "the client hung: " << after.describe();
    if (after.error) {
        EXPECT_TRUE(after.sqlstate() == "57P01" || after.sqlstate() == "08006") << after.describe();
    }
    expect_pool_sound(pg(), sluice, kTrustRole, 2);
}

// ---- clients that vanish mid-pipeline, mid-COPY, mid-login ----------------------------------

// The pipeline leaves its transaction open: a server kept for the vanished client would sit idle
// in transaction once pg_sleep is over.
TEST(RelayFaults, ClientVanishesMidPipeline) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("relay_vanish_pipeline", "v text");
    auto config = SluiceConfig::trust();
    config.pool_size = 2;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    const std::string sleep = "SELECT pg_sleep(0.5)";
    for (int i = 0; i < 2; ++i) {
        auto c = BlockingClient::connect(sluice_client(sluice, kTrustRole));
        c.send_raw(query_msg("BEGIN") + query_msg("INSERT INTO relay_vanish_pipeline VALUES ('1')") + query_msg(sleep) +
                   query_msg("INSERT INTO relay_vanish_pipeline VALUES ('2')"));
        ASSERT_TRUE(wait_for_active_query(pg(), sleep)) << "the pipeline never reached its pg_sleep";
        if (i == 0) vanish(c);  // RST
        else c.close();         // FIN, no Terminate
    }
    EXPECT_TRUE(wait_until([] { return count_in_state(pg(), kTrustRole.user, "active") == 0; }, 5s))
        << "a vanished client's pipeline still runs";
    expect_pool_sound(pg(), sluice, kTrustRole, 2);
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_vanish_pipeline"), 0);
}

TEST(RelayFaults, ClientVanishesMidCopy) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    create_table("relay_vanish_copy", "v text");
    auto config = SluiceConfig::trust();
    config.pool_size = 2;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    for (int i = 0; i < 2; ++i) {
        auto c = BlockingClient::connect(sluice_client(sluice, kTrustRole));
        c.send_raw(query_msg("COPY relay_vanish_copy FROM STDIN"));
        auto m = c.read_message();
        ASSERT_EQ(m.tag, 'G') << "expected CopyInResponse";
        std::string half;
        for (int row = 0; row < 1000; ++row) half += copy_data_msg("row " + std::to_string(row) + "\n");
        c.send_raw(half + copy_data_msg("an unfinished ro"));
        if (i == 0) vanish(c);
        else c.close();
    }
    EXPECT_TRUE(wait_until([] { return count_in_state(pg(), kTrustRole.user, "active") == 0; }, 5s))
        << "a server is still in the COPY of a vanished client";
    expect_pool_sound(pg(), sluice, kTrustRole, 2);
    EXPECT_EQ(count_rows(pg(), "SELECT count(*) FROM relay_vanish_copy"), 0) << "a half-sent COPY committed";
}

// Stops sluice (SIGSTOP) until destroyed, so that what a client sends meanwhile, its FIN
// included, is all in the socket when sluice next reads it: one epoll edge for all of it.
class Frozen {
public:
    explicit Frozen(SluiceProcess& sluice) : sluice_(sluice) { sluice_.process().send_signal(SIGSTOP); }
    ~Frozen() { sluice_.process().send_signal(SIGCONT); }
    Frozen(const Frozen&) = delete;
    Frozen& operator=(const Frozen&) = delete;

private:
    SluiceProcess& sluice_;
};

// A read that ends a client's turn (its Query) lets the next read wait for epoll instead of
// trying the socket (proxy/turn_read_buffer.hpp), even when the client's FIN came with the Query
// and no edge will follow it: only the RST that the client's host answers sluice's reply with
// tells the session. It must still end at once and give its server back clean, whether or not
// the client opened a transaction.
TEST(RelayFaults, ClientClosesRightAfterItsQuery) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.query_wait = "5s";
    SluiceProcess sluice(config);
    for (const char* sql : {"SELECT pg_sleep(0.3)", "BEGIN", "BEGIN; SELECT pg_sleep(0.3)"}) {
        SCOPED_TRACE(sql);
        const auto log_from = sluice.log_size();
        auto a = BlockingClient::connect(sluice_client(sluice, kTrustRole));
        {
            Frozen frozen(sluice);
            a.send_raw(query_msg(sql));
            a.close();  // FIN, no Terminate
        }
        EXPECT_TRUE(sluice.wait_for_log("closing because", 3s, log_from))
            << "the session of a client gone after its Query did not end";
        // The only server: still held by A's session if it missed the close.
        auto b = connect_and_query(sluice_client(sluice, kTrustRole), "SELECT 42");
        EXPECT_TRUE(b.ok()) << b.describe();
        EXPECT_EQ(b.value(), "42");
    }
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

// Part of a Query, then the FIN, read at once: no turn ended, so the next read tries the socket
// and finds the EOF. Nothing goes back to this client to draw an RST: a wait for the next epoll
// edge would never wake.
TEST(RelayFaults, ClientClosesInsideAMessage) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    SluiceProcess sluice(config);
    const auto log_from = sluice.log_size();
    auto a = BlockingClient::connect(sluice_client(sluice, kTrustRole));
    {
        Frozen frozen(sluice);
        a.send_raw(query_msg("SELECT 2").substr(0, 7));
        a.close();
    }
    EXPECT_TRUE(sluice.wait_for_log("closing because", 3s, log_from))
        << "the session of a client gone mid-message did not end";
    expect_pool_sound(pg(), sluice, kTrustRole, 1);
}

TEST(RelayFaults, ClientVanishesMidLogin) {
    ASSERT_TRUE(wait_no_backends(kScramRole.user));
    SluiceConfig config;  // SCRAM: there is a password exchange to vanish in
    config.pool_size = 2;
    config.query_wait = "10s";
    SluiceProcess sluice(config);
    auto options = sluice_client(sluice, kScramRole);
    options.timeout = 10s;
    std::string startup;
    {
        protocol::StartupMessage sm;
        sm.version = protocol::kProtocol30;
        sm.parameters = {{"user", std::string(kScramRole.user)}, {"database", "postgres"}};
        sm.encode(startup);
    }

    {  // half a startup packet
        auto c = BlockingClient::connect_tcp(sluice.host(), sluice.port());
        c.send_raw(startup.substr(0, startup.size() / 2));
        vanish(c);
    }
    {  // the startup packet, then gone when asked for the password
        auto c = BlockingClient::connect_tcp(sluice.host(), sluice.port());
        c.send_raw(startup);
        EXPECT_EQ(c.read_message().tag, 'R');
        vanish(c);
    }
    {  // gone in the middle of the SCRAM exchange
        auto c = BlockingClient::connect_tcp(sluice.host(), sluice.port());
        c.send_raw(startup);
        EXPECT_EQ(c.read_message().tag, 'R');
        protocol::auth::ScramClient scram{std::string(kScramRole.password)};
        const std::string first = scram.client_first();
        std::string out;
        protocol::SASLInitialResponse{protocol::auth::kScramSha256, first}.encode(out);
        c.send_raw(out);
        EXPECT_EQ(c.read_message().tag, 'R');  // SASLContinue
        c.close();
    }
    {  // authenticated, gone while the login waits for a server to check its setting
        auto h1 = BlockingClient::connect(options);
        auto h2 = BlockingClient::connect(options);
        for (auto* h : {&h1, &h2}) {
            ASSERT_TRUE(h->simple_query("BEGIN").ok());
            ASSERT_TRUE(h->simple_query("SELECT 1").ok());
        }
        auto c = BlockingClient::connect_tcp(sluice.host(), sluice.port(), 1500ms);
        auto waiting = options;
        waiting.parameters.emplace_back("options", "-c work_mem=4096kB");
        // The read deadline ends the wait for AuthenticationOk, which comes only after the check.
        EXPECT_THROW(c.startup(waiting), ClientError) << "logged in without a free server";
        vanish(c);
        for (auto* h : {&h1, &h2}) EXPECT_TRUE(h->simple_query("COMMIT").ok());
    }
    expect_pool_sound(pg(), sluice, kScramRole, 2);
}

// ---- a client that stops reading in the middle of a 200 MB result ----------------------------

// Others wait for the server the non-reading client holds. timeouts.client_write bounds that:
// once a write to the client has made no progress for that long, sluice closes the server (a
// result half-sent cannot be finished) and drops the client, and the others are served. The
// stalled client is never made to read: nothing it does ends the stall.
TEST(RelayFaults, NonReadingClientMidResult) {
    ASSERT_TRUE(wait_no_backends(kTrustRole.user));
    auto config = SluiceConfig::trust();
    config.pool_size = 1;
    config.extra_toml = "[timeouts]\nquery_wait = \"60s\"\nclient_write = \"4s\"\n";
    SluiceProcess sluice(config);
    auto options = sluice_client(sluice, kTrustRole);
    options.timeout = 30s;

    const std::string big = "select repeat('x', 1000) from generate_series(1, 200000)";
    auto stalled = BlockingClient::connect(options);
    stalled.send_raw(query_msg(big));
    // PostgreSQL blocks writing the result: every buffer between it and the client is full.
    ASSERT_TRUE(wait_until(
        [&] {
            return pg().exec_superuser("SELECT count(*) FROM pg_stat_activity WHERE query = $1 AND "
                                       "wait_event = 'ClientWrite'",
                                       {big})
                       .at(0)
                       .at(0) == "1";
        },
        10s))
        << "the server never blocked on the non-reading client";

    std::vector<std::future<void>> others;
    std::atomic<int> served{0};
    for (int i = 0; i < 3; ++i) {
        others.push_back(std::async(std::launch::async, [&, i] {
            auto r = connect_and_query(options, "select 'other " + std::to_string(i) + "'");
            if (r.ok()) ++served;
            else ADD_FAILURE() << "waiting client " << i << ": " << r.describe();
        }));
    }
    for (auto& f : others) EXPECT_EQ(f.wait_for(30s), std::future_status::ready) << "a waiting client hung";
    EXPECT_EQ(served.load(), 3) << "the stalled client kept the only server";
    EXPECT_TRUE(sluice.wait_for_log("client stopped reading", 5s)) << "no log line says why the client was dropped";
    EXPECT_TRUE(sluice.wait_for_log("closed: its client stopped reading", 5s))
        << "no log line says why the server was closed";
    EXPECT_TRUE(stalled.wait_closed(30s)) << "sluice kept the stalled client's connection open";
    expect_pool_sound(pg(), sluice, kTrustRole, 1, &others);
}

}  // namespace
}  // namespace sluice::testing::relay
