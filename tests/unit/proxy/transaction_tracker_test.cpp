#include "proxy/transaction_tracker.hpp"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

using protocol::FrontendTag;
using protocol::TxStatus;

TEST(TransactionTracker, SimpleQueryReleasesAtIdleReadyForQuery) {
    TransactionTracker t;
    EXPECT_TRUE(t.idle());
    t.on_client_message(FrontendTag::Query, {});
    EXPECT_FALSE(t.idle());
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, HoldsInsideTransactionBlock) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Query, {});  // BEGIN
    t.on_ready_for_query(TxStatus::InTransaction);
    EXPECT_FALSE(t.idle());
    t.on_client_message(FrontendTag::Query, {});  // failing statement
    t.on_ready_for_query(TxStatus::InFailedTransaction);
    EXPECT_FALSE(t.idle());
    t.on_client_message(FrontendTag::Query, {});  // ROLLBACK
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, PipelineReleasesOnlyAtLastSync) {
    TransactionTracker t;
    for (int i = 0; i < 3; ++i) {
        t.on_client_message(FrontendTag::Parse, {});
        t.on_client_message(FrontendTag::Bind, {});
        t.on_client_message(FrontendTag::Execute, {});
        t.on_client_message(FrontendTag::Sync, {});
    }
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_FALSE(t.idle());
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_FALSE(t.idle());
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, FlushWithoutSyncHoldsTheServer) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Parse, {});
    t.on_client_message(FrontendTag::Describe, {});
    t.on_client_message(FrontendTag::Flush, {});
    EXPECT_FALSE(t.idle());
    t.on_client_message(FrontendTag::Sync, {});
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, MessagesAfterLastSyncKeepItHeld) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Sync, {});
    t.on_client_message(FrontendTag::Parse, {});  // pipelined before the ReadyForQuery arrived
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_FALSE(t.idle());
}

TEST(TransactionTracker, CopyDataDoesNotCountAsSyncPoint) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::Query, {});  // COPY ... FROM STDIN
    t.on_client_message(FrontendTag::CopyData, {});
    t.on_client_message(FrontendTag::CopyDone, {});
    EXPECT_FALSE(t.idle());
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

TEST(TransactionTracker, FunctionCallIsASyncPoint) {
    TransactionTracker t;
    t.on_client_message(FrontendTag::FunctionCall, {});
    t.on_ready_for_query(TxStatus::Idle);
    EXPECT_TRUE(t.idle());
}

}  // namespace
}  // namespace sluice::proxy
