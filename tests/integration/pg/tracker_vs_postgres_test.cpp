// proxy/transaction_tracker.hpp against a real PostgreSQL 15: each test sends a message sequence
// with BlockingClient, feeds the tracker exactly the client messages sent and the server messages
// received (only those whose tag is in server_tags(), as the relay does), and checks that the
// tracker is idle exactly at the final ReadyForQuery: never before a message that is still to come,
// and then the server has nothing more to say (a probe query is answered first). Each test also
// pins the server's own sequence (tags, ZI/ZT/ZE for ReadyForQuery, E:<sqlstate> for errors) and
// prints it as "[observed]".
#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/frontend.hpp"
#include "proxy/transaction_tracker.hpp"
#include "tests/support/cluster_client.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;
namespace proto = sluice::protocol;
using proxy::TransactionTracker;

PgCluster& pg() { return PgCluster::shared(); }

// ---- client message builders ----

std::string parse(std::string_view sql) {
    std::string o;
    proto::Parse{.statement = "", .query = sql, .parameter_types = {}}.encode(o);
    return o;
}
std::string bind(std::vector<proto::Value> params = {}) {
    std::string o;
    proto::Bind{.portal = "", .statement = "", .parameter_formats = {}, .parameters = std::move(params),
                .result_formats = {}}
        .encode(o);
    return o;
}
std::string describe_portal() {
    std::string o;
    proto::Describe{.kind = proto::ObjectKind::Portal, .name = ""}.encode(o);
    return o;
}
std::string describe_statement() {
    std::string o;
    proto::Describe{.kind = proto::ObjectKind::Statement, .name = ""}.encode(o);
    return o;
}
std::string execute(std::int32_t max_rows = 0) {
    std::string o;
    proto::Execute{.portal = "", .max_rows = max_rows}.encode(o);
    return o;
}
std::string sync() {
    std::string o;
    proto::Sync{}.encode(o);
    return o;
}
std::string flush() {
    std::string o;
    proto::Flush{}.encode(o);
    return o;
}
std::string query(std::string_view sql) {
    std::string o;
    proto::Query{sql}.encode(o);
    return o;
}
std::string copy_data(std::string_view data) {
    std::string o;
    proto::CopyData{data}.encode(o);
    return o;
}
std::string copy_done() {
    std::string o;
    proto::CopyDone{}.encode(o);
    return o;
}
std::string copy_fail(std::string_view why) {
    std::string o;
    proto::CopyFail{why}.encode(o);
    return o;
}
std::string function_call(std::int32_t oid, std::vector<proto::Value> args) {
    std::string o;
    proto::FunctionCall{.function_oid = oid, .argument_formats = {}, .arguments = std::move(args), .result_format = 0}
        .encode(o);
    return o;
}
// Parse/Bind/Describe portal/Execute/Sync, as libpq's PQexecParams sends them.
std::string extended(std::string_view sql) { return parse(sql) + bind() + describe_portal() + execute() + sync(); }

// ---- one connection, one tracker ----

class Conversation {
public:
    Conversation() : client_(BlockingClient::connect(connect_options(pg(), kSuperuser))) { client_.set_timeout(5s); }

    TransactionTracker tracker;

    // Feeds the tracker each message (before it is "forwarded"), then sends them in one write.
    Conversation& send(const std::string& wire) {
        proto::FrameDecoder decoder;
        decoder.feed(wire);
        for (;;) {
            auto f = decoder.next();
            if (!f) throw std::runtime_error("bad test message: " + f.error().message);
            if (!*f) break;
            tracker.on_client_message(static_cast<proto::FrontendTag>((*f)->tag), (*f)->body);
            log_ += std::string(">") + (*f)->tag + " ";
        }
        client_.send_raw(wire);
        return *this;
    }

    // Reads one server message, gives it to the tracker if the relay would, returns its token.
    std::string receive() {
        Message m;
        try {
            m = client_.read_message();
        } catch (const ClientError& e) {
            throw std::runtime_error(std::string(e.what()) + "; so far: " + log_);
        }
        if (TransactionTracker::server_tags().test(static_cast<unsigned char>(m.tag)))
            tracker.on_server_message(m.backend_tag(), m.body);
        std::string tok(1, m.tag);
        if (m.tag == 'Z') tok += m.body;
        if (m.tag == 'E') tok += ":" + std::string(proto::ErrorResponse::decode(m.body)->fields.code());
        server_ += tok + " ";
        log_ += tok + " ";
        if (tracker.confused()) log_ += "[confused: " + std::string(tracker.confusion()) + "] ";
        return tok;
    }

    // Reads up to and including a message with this tag. A message arriving while the tracker says
    // idle would have gone to the next client: a failure.
    void receive_until(char tag) {
        for (;;) {
            if (tracker.idle()) throw std::runtime_error("idle while the server still sends; so far: " + log_);
            if (receive()[0] == tag) return;
        }
    }

    // Reads until the tracker is idle (it must not be idle before any of these messages, and must
    // become idle at a ReadyForQuery 'I' or at a client message), then checks with a probe query
    // that the server has nothing more to say. Returns the server tokens seen since the start.
    std::string finish() {
        std::string last;
        while (!tracker.idle()) {
            if (tracker.confused())
                throw std::runtime_error("confused: " + std::string(tracker.confusion()) + "; " + log_);
            last = receive();
        }
        if (!last.empty() && last != "ZI") throw std::runtime_error("idle after " + last + "; " + log_);
        auto seen = server_;
        probe();
        std::cout << "[observed] " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << ": " << log_
                  << "\n";
        return trimmed(seen);
    }

    // For sequences the tracker cannot follow: sends the probe and returns everything the server
    // sent before answering it.
    std::string drain_with_probe() {
        log_ += "[probe] ";
        client_.send_raw(query("SELECT 'tracker probe'"));
        for (;;) {
            auto m = client_.read_message();
            if (m.tag == 'T') break;
            std::string tok(1, m.tag);
            if (m.tag == 'Z') tok += m.body;
            if (m.tag == 'E') tok += ":" + std::string(proto::ErrorResponse::decode(m.body)->fields.code());
            server_ += tok + " ";
            log_ += tok + " ";
        }
        while (client_.read_message().tag != 'Z') {
        }
        std::cout << "[observed] " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << ": " << log_
                  << "\n";
        return trimmed(server_);
    }

    [[nodiscard]] std::string server_so_far() const { return trimmed(server_); }

private:
    void probe() {
        send(query("SELECT 'tracker probe'"));
        auto first = receive();
        if (first != "T") throw std::runtime_error("the server still had " + first + " to send; " + log_);
        while (receive() != "ZI") {
        }
        if (!tracker.idle()) throw std::runtime_error("not idle after the probe; " + log_);
        log_ += "(probe) ";
    }
    static std::string trimmed(std::string s) {
        while (!s.empty() && s.back() == ' ') s.pop_back();
        return s;
    }

    BlockingClient client_;
    std::string server_;  // server tokens
    std::string log_;     // both directions, for failure messages
};

class TrackerVsPostgres : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        pg().exec_superuser(R"sql(
            DROP VIEW IF EXISTS tracker_v;
            DROP TABLE IF EXISTS tracker_plain, tracker_pk, tracker_trig, tracker_fk, tracker_parent,
                                 tracker_deferred CASCADE;
            CREATE TABLE tracker_plain (a int, b text);
            CREATE TABLE tracker_pk (a int PRIMARY KEY);
            CREATE VIEW tracker_v AS SELECT * FROM tracker_plain;
            CREATE TABLE tracker_trig (a int);
            CREATE OR REPLACE FUNCTION tracker_no_copy() RETURNS trigger LANGUAGE plpgsql
                AS $$BEGIN RAISE EXCEPTION 'no COPY into this table'; END$$;
            CREATE TRIGGER tracker_no_copy BEFORE INSERT ON tracker_trig
                FOR EACH STATEMENT EXECUTE FUNCTION tracker_no_copy();
            CREATE TABLE tracker_parent (a int PRIMARY KEY);
            CREATE TABLE tracker_fk (a int REFERENCES tracker_parent);
            CREATE TABLE tracker_deferred (a int UNIQUE DEFERRABLE INITIALLY DEFERRED);
            INSERT INTO tracker_deferred VALUES (1);
        )sql");
    }
};

// ---- basics ----

TEST_F(TrackerVsPostgres, SimpleQueryAndTransactionBlock) {
    Conversation c;
    c.send(query("SELECT 1"));
    EXPECT_EQ(c.finish(), "T D C ZI");
    Conversation b;
    b.send(query("BEGIN"));
    b.receive_until('Z');
    EXPECT_FALSE(b.tracker.idle());
    b.send(query("SELECT 1/0"));
    b.receive_until('Z');
    EXPECT_FALSE(b.tracker.idle());
    b.send(query("ROLLBACK"));
    EXPECT_EQ(b.finish(), "C ZT E:22012 ZE C ZI");
}

TEST_F(TrackerVsPostgres, EmptyQueries) {
    Conversation c;
    c.send(query("") + extended(""));
    EXPECT_EQ(c.finish(), "I ZI 1 2 n I ZI");
}

TEST_F(TrackerVsPostgres, NotificationBeforeReadyForQuery) {
    Conversation c;
    c.send(query("LISTEN tracker_channel; NOTIFY tracker_channel, 'x'"));
    EXPECT_EQ(c.finish(), "C C A ZI");
}

TEST_F(TrackerVsPostgres, PipelineOfExtendedQueries) {
    Conversation c;
    std::string wire;
    for (int i = 0; i < 20; ++i) wire += parse("SELECT $1::int") + bind({std::to_string(i)}) + execute() + sync();
    c.send(wire);
    std::string expected;
    for (int i = 0; i < 20; ++i) expected += "1 2 D C ZI ";
    expected.pop_back();
    EXPECT_EQ(c.finish(), expected);
}

TEST_F(TrackerVsPostgres, DescribeStatementAndPortal) {
    Conversation c;
    c.send(parse("SELECT $1::int AS x") + describe_statement() + sync());
    c.send(parse("SET search_path TO public") + describe_statement() + sync());
    c.send(parse("SELECT 2") + bind() + describe_portal() + execute() + sync());
    EXPECT_EQ(c.finish(), "1 t T ZI 1 t n ZI 1 2 T D C ZI");
}

TEST_F(TrackerVsPostgres, FlushWithoutSyncHoldsTheServer) {
    Conversation c;
    c.send(parse("SELECT 1") + bind() + describe_portal() + execute() + flush());
    c.receive_until('C');
    EXPECT_EQ(c.tracker.pending(), 0u);
    EXPECT_FALSE(c.tracker.idle());
    c.send(sync());
    EXPECT_EQ(c.finish(), "1 2 T D C ZI");
}

TEST_F(TrackerVsPostgres, PortalSuspended) {
    Conversation c;
    c.send(parse("SELECT generate_series(1, 3)") + bind() + describe_portal() + execute(2) + execute(2) + sync());
    EXPECT_EQ(c.finish(), "1 2 T D D s D C ZI");
}

TEST_F(TrackerVsPostgres, FunctionCall) {
    auto oid = std::stoi(pg().exec_superuser("SELECT 'int4pl'::regproc::oid").at(0).at(0));
    Conversation c;
    c.send(function_call(oid, {"1", "2"}));
    c.send(function_call(1, {}));  // no such function
    EXPECT_EQ(c.finish(), "V ZI E:42883 ZI");
}

TEST_F(TrackerVsPostgres, CommitFailingAtSync) {
    Conversation c;
    c.send(parse("INSERT INTO tracker_deferred VALUES (1)") + bind() + execute() + sync());
    EXPECT_EQ(c.finish(), "1 2 C E:23505 ZI");
}

// ---- errors in the extended protocol ----

TEST_F(TrackerVsPostgres, ErrorsInAPipeline) {
    Conversation c;
    // Errors at Parse, at Bind (1/0 is folded when the plan is made), at Execute.
    c.send(extended("SELECT 1") + extended("SELEC 2") + parse("SELECT 1/0") + bind() + execute() +
           parse("SELECT 3") + bind() + execute() + sync() +
           parse("SELECT 1/(g - 1) FROM generate_series(1, 1) g") + bind() + execute() + parse("SELECT 5") +
           sync() + extended("SELECT 4"));
    EXPECT_EQ(c.finish(), "1 2 T D C ZI E:42601 ZI 1 E:22012 ZI 1 2 E:22012 ZI 1 2 T D C ZI");
}

TEST_F(TrackerVsPostgres, ErrorBeforeTheSyncIsSent) {
    Conversation c;
    c.send(parse("SELEC 1") + bind() + execute());
    c.receive_until('E');
    EXPECT_TRUE(c.tracker.skipping());
    c.send(query("SELECT 1") + parse("SELECT 2") + bind() + execute());  // all discarded
    c.send(sync());
    EXPECT_EQ(c.finish(), "E:42601 ZI");
}

// (b) Parse of bad SQL, a simple Query, Sync: the Query is discarded, one ReadyForQuery.
TEST_F(TrackerVsPostgres, QueryBetweenAnExtendedErrorAndItsSync) {
    Conversation c;
    c.send(parse("SELEC 1") + query("SELECT 1") + sync());
    EXPECT_EQ(c.finish(), "E:42601 ZI");
}

// ---- COPY ----

// (a) libpq's COPY through the extended protocol: Sync after Execute, then CopyData, CopyDone,
// Sync. The first Sync is read during copy-in and ignored: one ReadyForQuery.
TEST_F(TrackerVsPostgres, ExtendedCopyFromStdinAsLibpqSendsIt) {
    Conversation c;
    c.send(extended("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    EXPECT_TRUE(c.tracker.in_copy());
    c.send(copy_data("1\tone\n") + copy_data("2\ttwo\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G C ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyFromStdinSentAtOnce) {
    Conversation c;
    c.send(extended("COPY tracker_plain FROM STDIN") + copy_data("3\tthree\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G C ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyWithEndMarkerAndSyncsInTheData) {
    Conversation c;
    c.send(parse("COPY tracker_plain FROM STDIN") + bind() + execute() + flush() + sync());
    c.receive_until('G');
    c.send(copy_data("4\tfour\n") + sync() + flush() + copy_data("\\.\n") + sync() + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 G C ZI");
}

TEST_F(TrackerVsPostgres, SimpleCopyFromStdin) {
    Conversation c;
    c.send(query("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("5\tfive\n6\tsix\n") + copy_done());
    EXPECT_EQ(c.finish(), "G C ZI");
}

TEST_F(TrackerVsPostgres, TwoCopiesInOneQuery) {
    Conversation c;
    c.send(query("COPY tracker_plain FROM STDIN; COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("7\tseven\n") + copy_done());
    c.receive_until('G');
    c.send(copy_data("8\teight\n") + copy_done());
    EXPECT_EQ(c.finish(), "G C G C ZI");
}

TEST_F(TrackerVsPostgres, CopyOut) {
    Conversation c;
    c.send(extended("COPY (SELECT 1 UNION ALL SELECT 2) TO STDOUT") + query("COPY (SELECT 3) TO STDOUT"));
    EXPECT_EQ(c.finish(), "1 2 n H d d c C ZI H d c C ZI");
}

// (c) CopyData/CopyDone/CopyFail while no COPY runs: silently ignored.
TEST_F(TrackerVsPostgres, StrayCopyMessagesAreIgnored) {
    Conversation c;
    c.send(copy_data("junk\n") + copy_done() + copy_fail("nothing to fail"));
    EXPECT_TRUE(c.tracker.idle());
    EXPECT_EQ(c.finish(), "");
}

TEST_F(TrackerVsPostgres, StrayCopyMessagesAfterAStatementThatIsNoCopy) {
    Conversation c;
    c.send(parse("SELECT 1") + bind() + execute() + copy_data("x\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 D C ZI");
}

TEST_F(TrackerVsPostgres, CopySkippedAfterAnErrorIgnoresItsData) {
    Conversation c;
    c.send(parse("SELECT 1/(g - 1) FROM generate_series(1, 1) g") + bind() + execute() +
           parse("COPY tracker_plain FROM STDIN") + bind() + execute() + sync() + copy_data("9\tnine\n") +
           copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 E:22012 ZI ZI");
}

// ---- errors during copy-in ----

TEST_F(TrackerVsPostgres, SimpleCopyErrorWhileTheClientStillSends) {
    Conversation c;
    c.send(query("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("not a number\tx\n"));
    c.receive_until('Z');  // ErrorResponse, ReadyForQuery: the rest of the query string is skipped
    EXPECT_FALSE(c.tracker.idle()) << "the client has not ended its copy-in";
    c.send(copy_data("10\tten\n"));
    EXPECT_FALSE(c.tracker.idle());
    c.send(copy_done());  // dropped by the server
    EXPECT_TRUE(c.tracker.idle());
    EXPECT_EQ(c.finish(), "G E:22P02 ZI");
}

TEST_F(TrackerVsPostgres, SimpleCopyErrorInsideATransaction) {
    Conversation c;
    c.send(query("BEGIN"));
    c.receive_until('Z');
    c.send(query("COPY tracker_plain FROM STDIN; SELECT 1"));
    c.receive_until('G');
    c.send(copy_data("x\n") + copy_done());
    c.receive_until('Z');
    EXPECT_EQ(c.tracker.status(), proto::TxStatus::InFailedTransaction);
    EXPECT_FALSE(c.tracker.idle());
    c.send(query("ROLLBACK"));
    EXPECT_EQ(c.finish(), "C ZT G E:22P02 ZE C ZI");
}

TEST_F(TrackerVsPostgres, SimpleCopyFail) {
    Conversation c;
    c.send(query("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("11\televen\n") + copy_fail("client changed its mind"));
    EXPECT_EQ(c.finish(), "G E:57014 ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyDataErrorAsLibpqSendsIt) {
    Conversation c;
    c.send(extended("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("oops\tx\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:22P02 ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyDataErrorSentAtOnce) {
    Conversation c;
    c.send(extended("COPY tracker_plain FROM STDIN") + copy_data("oops\tx\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:22P02 ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyDataErrorBeforeTheClientsCopyDone) {
    Conversation c;
    c.send(extended("COPY tracker_plain FROM STDIN"));
    c.receive_until('G');
    c.send(copy_data("oops\tx\n"));
    c.receive_until('E');
    EXPECT_TRUE(c.tracker.skipping());
    c.send(copy_data("12\ttwelve\n") + copy_done());
    EXPECT_FALSE(c.tracker.idle());
    c.send(sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:22P02 ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyUniqueViolation) {
    Conversation c;
    c.send(extended("COPY tracker_pk FROM STDIN") + copy_data("1\n1\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:23505 ZI");
}

TEST_F(TrackerVsPostgres, ExtendedCopyForeignKeyViolationAtTheEnd) {
    Conversation c;
    c.send(extended("COPY tracker_fk FROM STDIN") + copy_data("999\n") + copy_done() + sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:23503 ZI");
}

// A COPY that fails after CopyInResponse but before reading anything (a BEFORE STATEMENT
// trigger): the server reads the Sync that follows the Execute as an ordinary one, answers it,
// and answers the Sync after CopyDone too. A client that only sends its data once it sees the
// CopyInResponse (as libpq does), through a relay that has read what the server sent meanwhile.
TEST_F(TrackerVsPostgres, ExtendedCopyFailingBeforeReadingAnything) {
    Conversation c;
    c.send(extended("COPY tracker_trig FROM STDIN"));
    c.receive_until('Z');
    EXPECT_FALSE(c.tracker.confused()) << c.tracker.confusion();
    EXPECT_FALSE(c.tracker.idle()) << "the client has not ended its copy-in";
    c.send(copy_data("1\n") + copy_done());
    EXPECT_TRUE(c.tracker.idle());
    c.send(sync());
    EXPECT_EQ(c.finish(), "1 2 n G E:P0001 ZI ZI");
}

TEST_F(TrackerVsPostgres, CopyIntoAView) {
    Conversation c;
    c.send(extended("COPY tracker_v FROM STDIN"));
    c.receive_until('Z');
    EXPECT_FALSE(c.tracker.confused()) << c.tracker.confusion();
    auto head = c.server_so_far();
    if (c.tracker.in_copy()) c.send(copy_data("1\tx\n") + copy_done());
    c.send(sync());
    auto all = c.finish();
    std::cout << "[observed] COPY into a view: " << head << "\n";
    EXPECT_TRUE(all == "1 2 n G E:42809 ZI ZI" || all == "1 2 n E:42809 ZI ZI") << all;
}

TEST_F(TrackerVsPostgres, ExtendedCopyFailWithoutASyncBeforeTheData) {
    Conversation c;
    c.send(parse("COPY tracker_plain FROM STDIN") + bind() + execute() + flush());
    c.receive_until('G');
    c.send(copy_data("13\tthirteen\n") + copy_fail("client changed its mind") + sync());
    EXPECT_EQ(c.finish(), "1 2 G E:57014 ZI");
}

// Where the tracker cannot know: the same client stream, sent at once, gets one ReadyForQuery
// when the COPY fails on its data (the first Sync was read and ignored) and two when it fails
// before reading anything. The tracker gives up (confused) rather than guess, unless the error
// itself tells (a data or integrity error raised on rows, as in the tests above).
TEST_F(TrackerVsPostgres, AmbiguousCopyErrorIsConfusion) {
    Conversation c;
    c.send(extended("COPY tracker_trig FROM STDIN") + copy_data("1\n") + copy_done() + sync());
    c.receive_until('E');
    EXPECT_TRUE(c.tracker.confused());
    EXPECT_FALSE(c.tracker.idle());
    EXPECT_EQ(c.drain_with_probe(), "1 2 n G E:P0001 ZI ZI");

    Conversation d;
    d.send(extended("COPY tracker_plain FROM STDIN") + copy_data("1\tx\n") + copy_fail("never mind") + sync());
    d.receive_until('E');
    EXPECT_TRUE(d.tracker.confused());
    EXPECT_EQ(d.drain_with_probe(), "1 2 n G E:57014 ZI");
}

}  // namespace
}  // namespace sluice::testing
