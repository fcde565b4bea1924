// TransactionTracker against hand-written message sequences. Each sequence is what PostgreSQL 15
// does (tests/integration/pg/tracker_vs_postgres_test.cpp replays the tricky ones against a real
// server). Notation: client tokens are frontend tags (DS/DP = Describe statement/portal, d c f =
// CopyData CopyDone CopyFail); server tokens are backend tags (ZT/ZE = ReadyForQuery 'T'/'E').
#include "proxy/transaction_tracker.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "protocol/error_fields.hpp"

namespace sluice::proxy {
namespace {

using protocol::BackendTag;
using protocol::FrontendTag;
using protocol::TxStatus;

std::vector<std::string_view> tokens(std::string_view s) {
    std::vector<std::string_view> out;
    while (!s.empty()) {
        auto sp = s.find(' ');
        auto tok = s.substr(0, sp);
        if (!tok.empty()) out.push_back(tok);
        if (sp == std::string_view::npos) break;
        s.remove_prefix(sp + 1);
    }
    return out;
}

void client(TransactionTracker& t, std::string_view seq) {
    for (auto tok : tokens(seq)) {
        if (tok == "DS") t.on_client_message(FrontendTag::Describe, std::string_view("S\0", 2));
        else if (tok == "DP") t.on_client_message(FrontendTag::Describe, std::string_view("P\0", 2));
        else if (tok == "CS") t.on_client_message(FrontendTag::Close, std::string_view("Sname\0", 6));
        else if (tok.size() == 1) t.on_client_message(static_cast<FrontendTag>(tok[0]), {});
        else ADD_FAILURE() << "bad client token " << tok;
    }
}

std::string error_body(std::string_view sqlstate, std::string_view where = {}) {
    auto fields = protocol::ErrorFields::make(protocol::Severity::Error, sqlstate, "boom");
    if (!where.empty()) fields.set(protocol::ErrorField::Where, where);
    std::string out;
    fields.encode_body(out);
    return out;
}

// One server message; "E" is a syntax error (42601).
void server1(TransactionTracker& t, std::string_view tok) {
    if (tok == "Z" || tok == "ZI") t.on_server_message(BackendTag::ReadyForQuery, "I");
    else if (tok == "ZT") t.on_server_message(BackendTag::ReadyForQuery, "T");
    else if (tok == "ZE") t.on_server_message(BackendTag::ReadyForQuery, "E");
    else if (tok == "E") t.on_server_message(BackendTag::ErrorResponse, error_body("42601"));
    else if (tok.size() == 1) t.on_server_message(static_cast<BackendTag>(tok[0]), {});
    else ADD_FAILURE() << "bad server token " << tok;
}

void server(TransactionTracker& t, std::string_view seq) {
    for (auto tok : tokens(seq)) server1(t, tok);
}

// Feeds the server messages one by one: the tracker must not be idle before the last one and
// must be idle right after it.
void server_until_idle(TransactionTracker& t, std::string_view seq) {
    auto toks = tokens(seq);
    for (std::size_t i = 0; i < toks.size(); ++i) {
        ASSERT_FALSE(t.idle()) << "idle before server message #" << i << " (" << toks[i] << ") of \"" << seq << "\"";
        server1(t, toks[i]);
        ASSERT_FALSE(t.confused()) << t.confusion() << " at #" << i << " (" << toks[i] << ") of \"" << seq << "\"";
    }
    EXPECT_TRUE(t.idle()) << "not idle after \"" << seq << "\": pending " << t.pending();
}

void error_with(TransactionTracker& t, std::string_view sqlstate, std::string_view where = {}) {
    t.on_server_message(BackendTag::ErrorResponse, error_body(sqlstate, where));
}

// ---- simple query protocol ------------------------------------------------------------------

TEST(TransactionTracker, StartsIdle) {
    TransactionTracker t;
    EXPECT_TRUE(t.idle());
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_EQ(t.status(), TxStatus::Idle);
    EXPECT_FALSE(t.in_copy());
    EXPECT_FALSE(t.confused());
}

TEST(TransactionTracker, SimpleQuery) {
    TransactionTracker t;
    client(t, "Q");
    EXPECT_EQ(t.pending(), 1u);
    server_until_idle(t, "T D D C Z");
}

TEST(TransactionTracker, SimpleQueryWithSeveralStatementsAndAnError) {
    TransactionTracker t;
    client(t, "Q");
    server_until_idle(t, "C T D C E Z");
}

TEST(TransactionTracker, TransactionBlockHoldsUntilCommit) {
    TransactionTracker t;
    client(t, "Q");  // BEGIN
    server(t, "C ZT");
    EXPECT_FALSE(t.idle());
    EXPECT_EQ(t.status(), TxStatus::InTransaction);
    EXPECT_EQ(t.pending(), 0u);
    client(t, "Q");  // a failing statement
    server(t, "E ZE");
    EXPECT_FALSE(t.idle());
    EXPECT_EQ(t.status(), TxStatus::InFailedTransaction);
    client(t, "Q");  // ROLLBACK
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, PipelinedQueriesEachAnswerWithReadyForQuery) {
    TransactionTracker t;
    client(t, "Q Q Q");
    server_until_idle(t, "C ZT T D C ZT C Z");
}

TEST(TransactionTracker, EmptyQuery) {
    TransactionTracker t;
    client(t, "Q");
    server_until_idle(t, "I Z");
}

TEST(TransactionTracker, AsynchronousMessagesChangeNothing) {
    TransactionTracker t;
    server(t, "N A S");
    EXPECT_TRUE(t.idle());
    client(t, "Q");
    server(t, "N C A S N");
    EXPECT_EQ(t.pending(), 1u);
    server_until_idle(t, "A Z");
    server(t, "N A S");  // LISTEN notifications between transactions
    EXPECT_TRUE(t.idle());
}

// ---- extended query protocol ----------------------------------------------------------------

TEST(TransactionTracker, ExtendedQuery) {
    TransactionTracker t;
    client(t, "P B DP E S");
    EXPECT_EQ(t.pending(), 5u);
    server_until_idle(t, "1 2 T D D C Z");
}

TEST(TransactionTracker, PipelineOfExtendedQueries) {
    TransactionTracker t;
    for (int i = 0; i < 50; ++i) client(t, "P B E S");
    EXPECT_EQ(t.pending(), 200u);
    std::string responses;
    for (int i = 0; i < 50; ++i) responses += "1 2 D C Z ";
    server_until_idle(t, responses);
}

TEST(TransactionTracker, PipelineWithOneSyncAtTheEnd) {
    TransactionTracker t;
    client(t, "P B E P B E P B E S");
    server_until_idle(t, "1 2 C 1 2 C 1 2 C Z");
}

TEST(TransactionTracker, DescribeStatement) {
    TransactionTracker t;
    client(t, "P DS S");
    server_until_idle(t, "1 t T Z");
    client(t, "P DS S");
    server_until_idle(t, "1 t n Z");
}

TEST(TransactionTracker, DescribeStatementWantsRowDescriptionAfterParameterDescription) {
    TransactionTracker t;
    client(t, "P DS S");
    server(t, "1 t Z");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, DescribePortal) {
    TransactionTracker t;
    client(t, "P B DP E S");
    server_until_idle(t, "1 2 n C Z");
}

TEST(TransactionTracker, CloseAndSync) {
    TransactionTracker t;
    client(t, "CS S");
    server_until_idle(t, "3 Z");
}

TEST(TransactionTracker, PortalSuspended) {
    TransactionTracker t;
    client(t, "P B E E S");  // Execute with a row limit, twice
    server_until_idle(t, "1 2 D s D C Z");
}

TEST(TransactionTracker, ExtendedEmptyQuery) {
    TransactionTracker t;
    client(t, "P B E S");
    server_until_idle(t, "1 2 I Z");
}

TEST(TransactionTracker, FlushWithoutSyncHoldsUntilSyncIsAnswered) {
    TransactionTracker t;
    client(t, "P B DP E H");
    server(t, "1 2 T D C");
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_FALSE(t.idle()) << "the implicit transaction of the Execute is still open";
    client(t, "S");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedMessagesAfterTheLastSyncHold) {
    TransactionTracker t;
    client(t, "P B E S P");
    server(t, "1 2 C Z 1");
    EXPECT_FALSE(t.idle());
    client(t, "S");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, QueryCommitsAnUnsyncedExtendedQuery) {
    TransactionTracker t;
    client(t, "P B E Q");
    server_until_idle(t, "1 2 C T D C Z");
}

TEST(TransactionTracker, CommitFailingAtSyncStillAnswersWithReadyForQuery) {
    TransactionTracker t;
    client(t, "P B E S");  // an INSERT violating a deferred constraint
    server_until_idle(t, "1 2 C E Z");
}

// ---- errors in the extended protocol ----------------------------------------------------------

TEST(TransactionTracker, ErrorDropsEverythingUpToTheNextSync) {
    TransactionTracker t;
    client(t, "P B E S P B E S P B E S");
    server(t, "1 2 C Z");
    server(t, "E");  // the second Parse fails: its Bind and Execute are never answered
    EXPECT_EQ(t.pending(), 5u);
    server_until_idle(t, "Z 1 2 C Z");
}

TEST(TransactionTracker, ErrorAtExecuteInAPipeline) {
    TransactionTracker t;
    client(t, "P B E P B E S P B E S");
    server_until_idle(t, "1 2 C 1 2 E Z 1 2 C Z");
}

TEST(TransactionTracker, ErrorBeforeTheSyncIsForwardedSkipsUntilIt) {
    TransactionTracker t;
    client(t, "P B E");
    server(t, "E");
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_TRUE(t.skipping());
    EXPECT_FALSE(t.idle());
    client(t, "B E Q F H d c");  // all discarded by the server
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_FALSE(t.idle());
    client(t, "S");
    EXPECT_FALSE(t.skipping());
    server_until_idle(t, "Z");
}

// (b) Parse of bad SQL, then a simple Query, then Sync: the Query is discarded, one ReadyForQuery.
TEST(TransactionTracker, QueryBetweenAnExtendedErrorAndItsSyncIsDiscarded) {
    TransactionTracker t;
    client(t, "P Q S");
    server_until_idle(t, "E Z");
}

TEST(TransactionTracker, QueryBetweenAnExtendedErrorAndItsSyncArrivingLate) {
    TransactionTracker t;
    client(t, "P");
    server(t, "E");
    client(t, "Q S");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ErrorInASimpleQueryDoesNotSkip) {
    TransactionTracker t;
    client(t, "Q P B E S");
    server_until_idle(t, "E Z 1 2 C Z");
}

// ---- COPY ---------------------------------------------------------------------------------------

TEST(TransactionTracker, SimpleCopyFromStdin) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    EXPECT_TRUE(t.in_copy());
    client(t, "d d d");
    EXPECT_FALSE(t.idle());
    client(t, "c");
    server_until_idle(t, "C Z");
    EXPECT_FALSE(t.in_copy());
}

TEST(TransactionTracker, SimpleCopyFromStdinSentAtOnce) {
    TransactionTracker t;
    client(t, "Q d d c");
    server_until_idle(t, "G C Z");
}

TEST(TransactionTracker, TwoCopiesInOneQuery) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d c");
    server(t, "C G");
    EXPECT_TRUE(t.in_copy());
    client(t, "d d c");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, TwoCopiesInOneQuerySentAtOnce) {
    TransactionTracker t;
    client(t, "Q d c d c");
    server_until_idle(t, "G C G C Z");
}

TEST(TransactionTracker, CopyCompletingBeforeTheClientsCopyDoneIsConfusion) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d");
    server(t, "C");
    EXPECT_TRUE(t.confused());
}

// (a) libpq: Parse/Bind/Describe/Execute/Sync, CopyData..., CopyDone, Sync: the first Sync is read
// during copy-in and ignored; one ReadyForQuery.
TEST(TransactionTracker, ExtendedCopyFromStdinAsLibpqSendsIt) {
    TransactionTracker t;
    client(t, "P B DP E S");
    server(t, "1 2 n G");
    EXPECT_TRUE(t.in_copy());
    client(t, "d d c S");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, ExtendedCopyFromStdinSentAtOnce) {
    TransactionTracker t;
    client(t, "P B DP E S d d c S");
    server_until_idle(t, "1 2 n G C Z");
}

TEST(TransactionTracker, ExtendedCopyWithFlushesAndSyncsInsideTheData) {
    TransactionTracker t;
    client(t, "P B E H S");
    server(t, "1 2 G");
    client(t, "d S H d S c S");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, ExtendedCopyInAPipeline) {
    TransactionTracker t;
    client(t, "P B E S P B E S");
    server(t, "1 2 C Z 1 2 G");
    client(t, "d c S");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, MessagesAfterTheCopyDoneAreOrdinary) {
    TransactionTracker t;
    client(t, "P B E S d c S P B E S");
    server_until_idle(t, "1 2 G C Z 1 2 C Z");
}

// (c) CopyData/CopyDone/CopyFail while no COPY runs: ignored by the server, nothing to wait for.
TEST(TransactionTracker, StrayCopyMessagesAreIgnored) {
    TransactionTracker t;
    client(t, "d d c");
    EXPECT_TRUE(t.idle());
    EXPECT_EQ(t.pending(), 0u);
    client(t, "f");
    EXPECT_TRUE(t.idle());
    EXPECT_FALSE(t.in_copy());
}

TEST(TransactionTracker, StrayCopyMessagesInsideATransactionAreIgnored) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "C ZT");
    client(t, "d c");
    EXPECT_EQ(t.pending(), 0u);
    client(t, "Q");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, StrayCopyMessagesAfterAStatementThatIsNoCopy) {
    TransactionTracker t;
    client(t, "P B E d c S");
    server_until_idle(t, "1 2 C Z");
    client(t, "Q d f");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, CopyOutExtended) {
    TransactionTracker t;
    client(t, "P B E S");
    server(t, "1 2 H");
    EXPECT_TRUE(t.in_copy());
    server(t, "d d c");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, CopyOutSimple) {
    TransactionTracker t;
    client(t, "Q");
    server_until_idle(t, "H d d c C Z");
}

TEST(TransactionTracker, CopyOutFailing) {
    TransactionTracker t;
    client(t, "P B E S Q");
    server_until_idle(t, "1 2 H d E Z H d E Z");
}

// ---- errors during copy-in ----------------------------------------------------------------------

TEST(TransactionTracker, SimpleCopyErrorWhileTheClientStillSends) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d d");
    error_with(t, "22P02", "COPY t, line 1, column a: \"x\"");
    server(t, "Z");
    EXPECT_FALSE(t.idle()) << "the client has not ended its copy-in";
    EXPECT_TRUE(t.in_copy());
    EXPECT_EQ(t.pending(), 0u);
    client(t, "d d");  // dropped by the server
    EXPECT_FALSE(t.idle());
    client(t, "c");
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, SimpleCopyErrorAfterTheClientsCopyDone) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d c");
    error_with(t, "23505", "COPY t, line 2");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, SimpleCopyFail) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d f");
    error_with(t, "57014", "COPY t, line 1");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, SimpleCopyErrorThenAQueryWithoutCopyDone) {
    // A client that takes the ErrorResponse and ReadyForQuery as the end of its COPY.
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d");
    error_with(t, "22P02", "COPY t, line 1");
    server(t, "Z");
    client(t, "Q");
    server_until_idle(t, "T D C Z");
}

TEST(TransactionTracker, ExtendedCopyDataErrorAsLibpqSendsIt) {
    TransactionTracker t;
    client(t, "P B DP E S");
    server(t, "1 2 n G");
    client(t, "d c S");
    // Read with its Sync ignored: the Sync after CopyDone ends the skip.
    error_with(t, "22P02", "COPY t, line 1, column a: \"oops\"");
    EXPECT_FALSE(t.confused()) << t.confusion();
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedCopyDataErrorBeforeTheClientsCopyDone) {
    TransactionTracker t;
    client(t, "P B DP E S");
    server(t, "1 2 n G");
    client(t, "d");
    error_with(t, "22P02", "COPY t, line 1, column a: \"oops\"");
    EXPECT_TRUE(t.skipping());
    client(t, "d d");
    EXPECT_FALSE(t.idle());
    client(t, "c");
    EXPECT_FALSE(t.idle());
    client(t, "S");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedCopyForeignKeyErrorAtTheEnd) {
    // Raised by the RI trigger after the whole input was read: no error context.
    TransactionTracker t;
    client(t, "P B E S d c S");
    server(t, "1 2 G");
    error_with(t, "23503");
    EXPECT_FALSE(t.confused()) << t.confusion();
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedCopyFailingBeforeReadingAnything) {
    // "cannot copy to view" or a BEFORE STATEMENT trigger: after CopyInResponse, before the server
    // read the Sync that follows the Execute. The server reads that Sync as an ordinary one.
    TransactionTracker t;
    client(t, "P B DP E S");
    server(t, "1 2 n G");
    error_with(t, "P0001", "PL/pgSQL function no_copy() line 3 at RAISE");
    server(t, "Z");
    EXPECT_FALSE(t.idle()) << "the client has not ended its copy-in";
    client(t, "d c");
    EXPECT_EQ(t.pending(), 0u);
    EXPECT_TRUE(t.idle());
    client(t, "S");  // libpq's second Sync: answered on its own
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedCopyFailingBeforeReadingAnythingWithAFlushInstead) {
    TransactionTracker t;
    client(t, "P B E H");
    server(t, "1 2 G");
    error_with(t, "P0001", "PL/pgSQL function no_copy() line 3 at RAISE");
    client(t, "d c S");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, ExtendedCopyErrorOfUnknownTimingIsConfusion) {
    // Sent at once: whether the server read the first Sync before failing depends on where it
    // failed, which a trigger's error does not tell.
    TransactionTracker t;
    client(t, "P B DP E S d c S");
    server(t, "1 2 n G");
    error_with(t, "P0001", "PL/pgSQL function no_copy() line 3 at RAISE");
    EXPECT_TRUE(t.confused());
    EXPECT_FALSE(t.idle());
    server(t, "Z");
    EXPECT_FALSE(t.idle());
}

TEST(TransactionTracker, ExtendedCopyFailWithASyncBeforeTheDataIsConfusion) {
    TransactionTracker t;
    client(t, "P B E S");
    server(t, "1 2 G");
    client(t, "d f S");
    error_with(t, "57014", "COPY t, line 1");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, ExtendedCopyFailWithoutSyncsInTheData) {
    TransactionTracker t;
    client(t, "P B E H");
    server(t, "1 2 G");
    client(t, "d f S");
    error_with(t, "57014", "COPY t, line 1");
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, SyncBetweenCopyDataMakesAnErrorAmbiguous) {
    TransactionTracker t;
    client(t, "P B E");
    server(t, "1 2 G");
    client(t, "d S d c S");
    error_with(t, "22P02", "COPY t, line 2, column a: \"x\"");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, DataErrorRaisedByATriggerBeforeReadingIsConfusion) {
    // A BEFORE STATEMENT trigger failing with a unique violation: its context is the trigger's.
    TransactionTracker t;
    client(t, "P B E S d c S");
    server(t, "1 2 G");
    error_with(t, "23505",
               "SQL statement \"INSERT INTO log VALUES (1)\"\n"
               "PL/pgSQL function log_copy() line 2 at SQL statement");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, DataErrorInARowTriggerCarriesCopyContext) {
    TransactionTracker t;
    client(t, "P B E S d c S");
    server(t, "1 2 G");
    error_with(t, "23514", "PL/pgSQL function check_row() line 4 at RAISE\nCOPY t, line 1: \"1\"");
    EXPECT_FALSE(t.confused()) << t.confusion();
    server_until_idle(t, "Z");
}

TEST(TransactionTracker, MessageOtherThanCopyDuringCopyInIsConfusion) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "G");
    client(t, "d Q");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, CopyInWithAQueryQueuedInsideTheCopyDataIsConfusion) {
    TransactionTracker t;
    client(t, "Q Q");
    server(t, "G");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, CopyInTheMiddleOfAPipelineWithAnErrorBeforeIt) {
    TransactionTracker t;
    client(t, "P B E S P B E S d c S");
    // The first Execute fails: its Sync ends the skip; the second statement is the COPY.
    server_until_idle(t, "1 2 E Z 1 2 G C Z");
}

TEST(TransactionTracker, CopyThatIsSkippedAfterAnErrorIgnoresItsData) {
    TransactionTracker t;
    client(t, "P B E P B E S d c S");
    // The first Execute fails: the COPY's Parse/Bind/Execute are discarded, so is its data, and
    // both Syncs answer.
    server_until_idle(t, "1 2 E Z Z");
}

// ---- FunctionCall --------------------------------------------------------------------------------

TEST(TransactionTracker, FunctionCall) {
    TransactionTracker t;
    client(t, "F");
    server_until_idle(t, "V Z");
    client(t, "F");
    server_until_idle(t, "E Z");
}

TEST(TransactionTracker, FunctionCallWithoutItsResponseInTheInspectedTags) {
    TransactionTracker t;
    client(t, "F");
    server_until_idle(t, "Z");
}

// ---- confusion -----------------------------------------------------------------------------------

TEST(TransactionTracker, ResponseWithNothingOutstandingIsConfusion) {
    for (auto tok : {"1", "2", "3", "t", "T", "n", "C", "I", "s", "G", "H", "W", "Z", "E", "V", "D"}) {
        TransactionTracker t;
        server1(t, tok);
        EXPECT_TRUE(t.confused()) << tok;
        EXPECT_FALSE(t.idle()) << tok;
    }
}

TEST(TransactionTracker, ResponseOutOfOrderIsConfusion) {
    TransactionTracker t;
    client(t, "P B E S");
    server(t, "2");
    EXPECT_TRUE(t.confused());
    EXPECT_FALSE(t.confusion().empty());
}

TEST(TransactionTracker, ReadyForQueryBeforeTheExtendedResponsesIsConfusion) {
    TransactionTracker t;
    client(t, "P B E S");
    server(t, "1 Z");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, QueryResponsesThatBelongToTheExtendedProtocolAreConfusion) {
    for (auto tok : {"1", "2", "3", "t", "n", "s"}) {
        TransactionTracker t;
        client(t, "Q");
        server1(t, tok);
        EXPECT_TRUE(t.confused()) << tok;
    }
}

TEST(TransactionTracker, MalformedReadyForQueryIsConfusion) {
    TransactionTracker t;
    client(t, "Q");
    t.on_server_message(BackendTag::ReadyForQuery, "X");
    EXPECT_TRUE(t.confused());
    TransactionTracker u;
    client(u, "Q");
    u.on_server_message(BackendTag::ReadyForQuery, "");
    EXPECT_TRUE(u.confused());
}

TEST(TransactionTracker, FatalErrorAtIdleIsConfusion) {
    TransactionTracker t;
    server(t, "E");  // e.g. 57P01 terminating connection due to administrator command
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, LoginMessagesAreConfusion) {
    TransactionTracker t;
    t.on_server_message(BackendTag::BackendKeyData, "12345678");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, TerminateAndUnknownClientMessagesAreConfusion) {
    TransactionTracker t;
    client(t, "X");
    EXPECT_TRUE(t.confused());
    TransactionTracker u;
    u.on_client_message(static_cast<FrontendTag>('p'), "secret");
    EXPECT_TRUE(u.confused());
}

TEST(TransactionTracker, FlushWithABodyIsConfusion) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Flush, "x");
    EXPECT_TRUE(t.confused());
}

TEST(TransactionTracker, ConfusionSticksUntilReset) {
    TransactionTracker t;
    client(t, "Q");
    server(t, "1");
    ASSERT_TRUE(t.confused());
    server(t, "Z");
    client(t, "Q");
    EXPECT_FALSE(t.idle());
    t.reset();
    EXPECT_FALSE(t.confused());
    EXPECT_TRUE(t.idle());
    EXPECT_EQ(t.pending(), 0u);
    client(t, "Q");
    server_until_idle(t, "C Z");
}

TEST(TransactionTracker, ResetForgetsEverything) {
    TransactionTracker t;
    client(t, "P B E");
    server(t, "1 2 G");
    client(t, "d");
    t.reset();
    EXPECT_TRUE(t.idle());
    EXPECT_FALSE(t.in_copy());
    EXPECT_EQ(t.status(), TxStatus::Idle);
    client(t, "P B E S");
    server_until_idle(t, "1 2 C Z");
}

TEST(TransactionTracker, LongPipelineGrowsAndShrinks) {
    TransactionTracker t;
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 10000; ++i) client(t, "B E");
        client(t, "S");
        EXPECT_EQ(t.pending(), 20001u);
        for (int i = 0; i < 10000; ++i) server(t, "2 C");
        server_until_idle(t, "Z");
    }
}

TEST(TransactionTracker, ServerTagsCoverWhatTheModelNeedsAndNoBulkData) {
    auto tags = TransactionTracker::server_tags();
    for (char c : std::string_view("123tTnCIsGHWEZ")) EXPECT_TRUE(tags.test(static_cast<unsigned char>(c))) << c;
    for (char c : std::string_view("DdVNAS")) EXPECT_FALSE(tags.test(static_cast<unsigned char>(c))) << c;
}

}  // namespace
}  // namespace sluice::proxy

namespace sluice::proxy {
namespace {

// ---- notes: what the relay must do with a message's answer rides with its entry --------------

TEST(TransactionTrackerNotes, EachAnswerSeesTheNoteOfTheMessageItAnswers) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Parse, {}, 11);
    t.on_client_message(FrontendTag::Bind, {}, 12);
    t.on_client_message(FrontendTag::Execute, {});
    t.on_client_message(FrontendTag::Sync, {}, 14);
    EXPECT_EQ(t.front_note(), 11u);
    server(t, "1");
    EXPECT_EQ(t.front_note(), 12u);
    server(t, "2");
    EXPECT_EQ(t.front_note(), 0u);  // the Execute has none; its DataRows and CommandComplete see 0
    server(t, "C");
    EXPECT_EQ(t.front_note(), 14u);
    server(t, "Z");
    EXPECT_EQ(t.front_note(), 0u);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTrackerNotes, AnErrorSkipsTheNotesOfSkippedMessages) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Bind, {}, 21);
    t.on_client_message(FrontendTag::Parse, {}, 22);  // skipped by the server after the Bind fails
    t.on_client_message(FrontendTag::Sync, {}, 23);
    t.on_client_message(FrontendTag::Parse, {}, 24);
    t.on_client_message(FrontendTag::Sync, {});
    EXPECT_EQ(t.front_note(), 21u);
    server(t, "E");
    EXPECT_EQ(t.front_note(), 23u);  // straight to the Sync
    t.set_front_note(99);            // the relay may re-mark it (a retry after that Sync)
    EXPECT_EQ(t.front_note(), 99u);
    server(t, "Z");
    EXPECT_EQ(t.front_note(), 24u);
    server(t, "1 Z");
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTrackerNotes, NotesSurviveTheFifoGrowing) {
    TransactionTracker t;
    for (std::uint32_t i = 1; i <= 100; ++i) t.on_client_message(FrontendTag::Parse, {}, i);
    t.on_client_message(FrontendTag::Sync, {});
    for (std::uint32_t i = 1; i <= 100; ++i) {
        ASSERT_EQ(t.front_note(), i);
        server(t, "1");
    }
    server(t, "Z");
    EXPECT_TRUE(t.idle());
}

}  // namespace
}  // namespace sluice::proxy
