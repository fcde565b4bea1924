// PoolLedger driven directly, without sockets, clocks or locks: FIFO waiters, LIFO idle reuse,
// the reserve pool, shared budgets, every way a waiter or a connect can give up (issue 6), close,
// retirement and warm-up, plus a seeded random driver that checks the bookkeeping after every step.
#include "proxy/pool_ledger.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <vector>

namespace sluice::proxy {
namespace {

struct FakeConn {
    int id = 0;
};

using Ledger = PoolLedger<FakeConn>;
using Waiter = Ledger::Waiter;
using Outcome = Ledger::Outcome;
using ConnPtr = Ledger::ConnPtr;

ConnPtr conn(int id) { return std::make_unique<FakeConn>(FakeConn{id}); }

template <class... Conns>
std::vector<ConnPtr> all(Conns&&... conns) {
    std::vector<ConnPtr> out;
    (out.push_back(std::move(conns)), ...);
    return out;
}

// Makes `l` a pool that has logged a server in before (the server is gone again): a cold pool
// connects one server at a time (AColdPoolConnectsOneServerAtATimeUntilOneLogsIn), the other
// tests are about a pool past that.
void warm(Ledger& l) {
    Ledger::Waiter w;
    ConnPtr out;
    ASSERT_EQ(l.request(w, out), Outcome::Connect);
    l.connected();
    ASSERT_EQ(l.closed_lent().wake, nullptr);
    ASSERT_EQ(l.counts().total, 0u);
}

// The bookkeeping every state must satisfy.
void expect_consistent(const Ledger& l, PoolLimits limits) {
    auto c = l.counts();
    EXPECT_EQ(c.total, c.idle + c.lent + c.connecting + c.granted);
    EXPECT_LE(c.total, limits.size + limits.reserve_size);
    if (c.waiting > 0) {
        EXPECT_EQ(c.idle, 0u) << "a waiter queued while a server is idle";
    }
    if (l.closed()) {
        EXPECT_EQ(c.waiting, 0u);
        EXPECT_EQ(c.idle, 0u);
    }
}

// A pool of its own with unlimited budgets that must all be given back by the end of the test.
class PoolLedgerTest : public ::testing::Test {
protected:
    void TearDown() override {
        EXPECT_EQ(database_.used(), 0u) << "database budget leaked";
        EXPECT_EQ(user_.used(), 0u) << "user budget leaked";
    }

    Ledger make(std::uint32_t size, std::uint32_t reserve = 0) {
        limits_ = PoolLimits{size, reserve};
        Ledger l(limits_, &database_, &user_);
        warm(l);
        return l;
    }

    // A new server through the ledger: request -> Connect -> connected; it is lent.
    ConnPtr open(Ledger& l, int id) {
        Waiter w;
        ConnPtr out;
        EXPECT_EQ(l.request(w, out), Outcome::Connect);
        EXPECT_FALSE(w.queued);
        l.connected();
        return conn(id);
    }

    // An idle server lent: request -> Lend.
    ConnPtr lend(Ledger& l) {
        Waiter w;
        ConnPtr out;
        EXPECT_EQ(l.request(w, out), Outcome::Lend);
        EXPECT_NE(out, nullptr);
        return out;
    }

    void wait(Ledger& l, Waiter& w) {
        ConnPtr out;
        EXPECT_EQ(l.request(w, out), Outcome::Wait);
        EXPECT_TRUE(w.queued);
        EXPECT_EQ(out, nullptr);
    }

    // Ends a test: closes the pool and closes every server still lent.
    void shut(Ledger& l, std::vector<ConnPtr> lent = {}) {
        l.close();
        for (auto& s : lent) {
            auto h = l.give_back(std::move(s));
            EXPECT_EQ(h.wake, nullptr);
            EXPECT_NE(h.close, nullptr);
        }
        EXPECT_EQ(l.counts().total, 0u);
    }

    PoolLimits limits_;
    ConnectionBudget database_{0};
    ConnectionBudget user_{0};
};

// --- FIFO ------------------------------------------------------------------------------------

TEST_F(PoolLedgerTest, GiveBackServesWaitersInArrivalOrder) {
    auto l = make(2);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter w1, w2, w3;
    wait(l, w1);
    wait(l, w2);
    wait(l, w3);
    EXPECT_EQ(l.counts().waiting, 3u);

    auto h = l.give_back(std::move(a));
    EXPECT_EQ(h.wake, &w1);
    EXPECT_EQ(h.close, nullptr);
    ASSERT_NE(w1.server, nullptr);
    EXPECT_EQ(w1.server->id, 1);
    EXPECT_FALSE(w1.queued);
    EXPECT_EQ(l.counts().granted, 1u);
    EXPECT_EQ(l.counts().waiting, 2u);
    expect_consistent(l, limits_);

    ConnPtr got1;
    ASSERT_TRUE(l.collect(w1, got1));
    EXPECT_EQ(got1->id, 1);
    EXPECT_EQ(l.leave(w1).wake, nullptr);  // the guard always leaves; after a collect it is a no-op

    h = l.give_back(std::move(b));
    EXPECT_EQ(h.wake, &w2);
    EXPECT_EQ(w2.server->id, 2);
    EXPECT_FALSE(w3.granted());

    h = l.give_back(std::move(got1));
    EXPECT_EQ(h.wake, &w3);
    EXPECT_EQ(w3.server->id, 1);
    EXPECT_EQ(l.counts().waiting, 0u);

    ConnPtr got2, got3;
    ASSERT_TRUE(l.collect(w2, got2));
    ASSERT_TRUE(l.collect(w3, got3));
    EXPECT_EQ(l.counts().lent, 2u);
    EXPECT_EQ(l.counts().granted, 0u);
    EXPECT_EQ(l.give_back(std::move(got2)).wake, nullptr);  // nobody waits: idle
    EXPECT_EQ(l.give_back(std::move(got3)).wake, nullptr);
    EXPECT_EQ(l.counts().idle, 2u);
    expect_consistent(l, limits_);
    shut(l);
}

TEST_F(PoolLedgerTest, SlotOfClosedLentServerIsGrantedToFirstWaiterNotReleased) {
    auto l = make(2);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);

    a.reset();
    auto h = l.closed_lent();
    EXPECT_EQ(h.wake, &w1);
    EXPECT_TRUE(w1.slot);
    EXPECT_EQ(w1.server, nullptr);
    EXPECT_FALSE(w2.granted());
    auto c = l.counts();
    EXPECT_EQ(c.total, 2u);  // kept for w1, not released
    EXPECT_EQ(c.granted, 1u);
    EXPECT_EQ(c.lent, 1u);
    EXPECT_EQ(database_.used(), 2u);
    expect_consistent(l, limits_);

    ConnPtr none;
    ASSERT_TRUE(l.collect(w1, none));
    EXPECT_EQ(none, nullptr);  // a slot: w1 connects itself
    EXPECT_FALSE(w1.slot);
    EXPECT_EQ(l.counts().connecting, 1u);
    l.connected();
    auto c1 = conn(3);
    expect_consistent(l, limits_);

    h = l.give_back(std::move(b));
    EXPECT_EQ(h.wake, &w2);
    ConnPtr got2;
    ASSERT_TRUE(l.collect(w2, got2));
    expect_consistent(l, limits_);
    shut(l, all(c1, got2));  // lent at close: they come back to be closed and free their slots
}

TEST_F(PoolLedgerTest, LaterRequestQueuesBehindWaitersEvenWithAGrantOutstanding) {
    auto l = make(2);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);
    // w1 is granted the slot of a closed server but has not picked it up yet.
    EXPECT_EQ(l.closed_lent().wake, &w1);
    a.reset();

    // A newcomer neither takes w1's slot nor jumps ahead of w2.
    Waiter w3;
    wait(l, w3);
    EXPECT_EQ(l.counts().waiting, 2u);
    EXPECT_TRUE(l.take_woken().empty());
    EXPECT_EQ(l.give_back(std::move(b)).wake, &w2);
    EXPECT_FALSE(w3.granted());

    // A newcomer with the reserve allowed does not overtake either.
    Waiter w4;
    w4.reserve = true;
    wait(l, w4);

    EXPECT_EQ(l.leave(w1).wake, &w3);  // w1's slot passes on in order
    EXPECT_TRUE(w3.slot);
    EXPECT_EQ(l.leave(w2).wake, &w4);  // w2's server too
    EXPECT_NE(w4.server, nullptr);
    EXPECT_EQ(l.leave(w3).wake, nullptr);  // nobody left to pass the slot to: released
    ConnPtr s;
    ASSERT_TRUE(l.collect(w4, s));
    EXPECT_EQ(l.counts().total, 1u);
    expect_consistent(l, limits_);
    shut(l, all(s));
}

// --- LIFO idle reuse ---------------------------------------------------------------------------

TEST_F(PoolLedgerTest, IdleServersAreReusedMostRecentlyReturnedFirst) {
    auto l = make(3);
    auto a = open(l, 1);
    auto b = open(l, 2);
    auto c = open(l, 3);
    l.give_back(std::move(b));
    l.give_back(std::move(a));
    l.give_back(std::move(c));
    ASSERT_EQ(l.idle().size(), 3u);
    EXPECT_EQ(l.idle().front()->id, 2);  // oldest returned first in the deque
    EXPECT_EQ(l.idle().back()->id, 3);

    auto x = lend(l);
    EXPECT_EQ(x->id, 3);
    l.give_back(std::move(x));  // straight back: on top again
    x = lend(l);
    EXPECT_EQ(x->id, 3);
    auto y = lend(l);
    EXPECT_EQ(y->id, 1);
    auto z = lend(l);
    EXPECT_EQ(z->id, 2);
    EXPECT_EQ(l.counts().lent, 3u);
    EXPECT_EQ(l.counts().idle, 0u);
    expect_consistent(l, limits_);
    shut(l, all(x, y, z));
}

// --- Reserve -----------------------------------------------------------------------------------

TEST_F(PoolLedgerTest, WaiterAllowedTheReserveGetsASlotAtOnce) {
    auto l = make(1, 1);
    auto a = open(l, 1);
    Waiter w;
    wait(l, w);
    EXPECT_TRUE(l.allow_reserve(w));
    EXPECT_TRUE(w.reserve);
    EXPECT_TRUE(w.slot);
    EXPECT_FALSE(w.queued);
    auto c = l.counts();
    EXPECT_EQ(c.total, 2u);
    EXPECT_EQ(c.waiting, 0u);
    EXPECT_EQ(c.granted, 1u);
    ConnPtr none;
    ASSERT_TRUE(l.collect(w, none));
    l.connected();
    auto b = conn(2);
    expect_consistent(l, limits_);
    shut(l, all(a, b));
}

TEST_F(PoolLedgerTest, WaiterNotAllowedTheReserveKeepsWaiting) {
    auto l = make(1, 1);
    auto a = open(l, 1);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);  // a plain request never takes a reserve slot
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_FALSE(w1.granted());

    // Allowing the reserve when it is used up: no slot, but the waiter now may take one.
    Waiter w0;
    wait(l, w0);
    EXPECT_TRUE(l.allow_reserve(w2));  // w2 overtakes: the reserve is for those waited longest
    EXPECT_EQ(l.counts().total, 2u);
    EXPECT_FALSE(l.allow_reserve(w1));
    EXPECT_TRUE(w1.reserve);
    EXPECT_TRUE(w1.queued);
    EXPECT_FALSE(w1.granted());
    EXPECT_EQ(l.counts().total, 2u);

    // allow_reserve on a waiter no longer queued is a no-op.
    EXPECT_FALSE(l.allow_reserve(w2));
    EXPECT_EQ(l.counts().granted, 1u);

    EXPECT_EQ(l.leave(w2).wake, &w1);  // w1 may use the reserve slot w2 gave up
    EXPECT_TRUE(w1.slot);
    EXPECT_EQ(l.leave(w1).wake, nullptr);  // w0 may not: the reserve slot is released
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_TRUE(w0.queued);
    l.leave(w0);
    expect_consistent(l, limits_);
    shut(l, all(a));
}

TEST_F(PoolLedgerTest, ReserveSlotFreedWhileFirstWaiterIsNotEligibleIsReleased) {
    auto l = make(1, 1);
    auto a = open(l, 1);
    Waiter r;
    wait(l, r);
    ASSERT_TRUE(l.allow_reserve(r));
    ConnPtr none;
    l.collect(r, none);
    l.connected();
    auto b = conn(2);
    EXPECT_EQ(l.counts().total, 2u);

    Waiter w1;
    wait(l, w1);
    b.reset();
    auto h = l.closed_lent();
    EXPECT_EQ(h.wake, nullptr);
    EXPECT_FALSE(w1.granted());
    EXPECT_TRUE(w1.queued);
    EXPECT_EQ(l.counts().total, 1u);  // back to size
    EXPECT_EQ(database_.used(), 1u);
    expect_consistent(l, limits_);

    // A normal slot freed is granted to the same waiter.
    a.reset();
    EXPECT_EQ(l.closed_lent().wake, &w1);
    EXPECT_EQ(l.counts().total, 1u);
    l.leave(w1);
    EXPECT_EQ(l.counts().total, 0u);
}

TEST_F(PoolLedgerTest, ReserveSlotFreedWhileFirstWaiterIsEligibleIsGranted) {
    auto l = make(1, 1);
    auto a = open(l, 1);
    Waiter r;
    wait(l, r);
    ASSERT_TRUE(l.allow_reserve(r));
    ConnPtr none;
    l.collect(r, none);
    l.connected();
    auto b = conn(2);

    Waiter w1;
    wait(l, w1);
    EXPECT_FALSE(l.allow_reserve(w1));  // full
    b.reset();
    EXPECT_EQ(l.closed_lent().wake, &w1);
    EXPECT_TRUE(w1.slot);
    EXPECT_EQ(l.counts().total, 2u);
    l.leave(w1);
    EXPECT_EQ(l.counts().total, 1u);
    shut(l, all(a));
}

// A reserve slot released because the first waiter could not use it; when that waiter leaves, an
// eligible waiter behind it must get the free slot rather than wait for its deadline with a slot
// it may use sitting free.
TEST_F(PoolLedgerTest, FreeReserveSlotReachesEligibleWaiterWhenTheOneAheadLeaves) {
    auto l = make(1, 1);
    auto a = open(l, 1);
    Waiter r;
    wait(l, r);
    ASSERT_TRUE(l.allow_reserve(r));
    ConnPtr none;
    l.collect(r, none);
    l.connected();
    auto b = conn(2);

    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);
    EXPECT_FALSE(l.allow_reserve(w2));  // full for now; w2 may use the reserve from here on
    b.reset();
    EXPECT_EQ(l.closed_lent().wake, nullptr);  // w1 is first and not eligible: released
    EXPECT_EQ(l.counts().total, 1u);

    auto h = l.leave(w1);  // w1 times out
    EXPECT_EQ(h.wake, &w2);
    EXPECT_TRUE(w2.slot);
    EXPECT_EQ(l.counts().total, 2u);
    expect_consistent(l, limits_);
    l.leave(w2);
    shut(l, all(a));
}

// --- Budgets -----------------------------------------------------------------------------------

TEST_F(PoolLedgerTest, DatabaseBudgetIsSharedAcrossLedgers) {
    ConnectionBudget db(2);
    ConnectionBudget user_a(0), user_b(0);
    PoolLimits limits{2, 0};
    Ledger a(limits, &db, &user_a);
    Ledger b(limits, &db, &user_b);
    warm(a);
    warm(b);

    Waiter w;
    ConnPtr out;
    ASSERT_EQ(a.request(w, out), Outcome::Connect);
    a.connected();
    auto a1 = conn(1);
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    b.connected();
    auto b1 = conn(2);
    EXPECT_EQ(db.used(), 2u);

    // Either pool is below its size, but the database is at its limit.
    Waiter wa, wb;
    EXPECT_EQ(a.request(wa, out), Outcome::Wait);
    EXPECT_EQ(b.request(wb, out), Outcome::Wait);
    EXPECT_EQ(a.counts().total, 1u);
    EXPECT_EQ(b.counts().total, 1u);
    EXPECT_EQ(db.used(), 2u);
    EXPECT_EQ(user_a.used(), 1u);
    EXPECT_EQ(user_b.used(), 1u);
    EXPECT_FALSE(a.take_warmup_slot(2));
    Waiter reserve;
    reserve.reserve = true;
    EXPECT_EQ(a.request(reserve, out), Outcome::Wait);
    EXPECT_FALSE(a.allow_reserve(reserve));
    a.leave(reserve);

    // Closing a server frees its slot for its own pool's waiter first (the budget stays taken)...
    b1.reset();
    EXPECT_EQ(b.closed_lent().wake, &wb);
    EXPECT_EQ(db.used(), 2u);
    // ...and with nobody waiting, gives the budget back.
    EXPECT_EQ(b.leave(wb).wake, nullptr);
    EXPECT_EQ(db.used(), 1u);
    EXPECT_EQ(user_b.used(), 0u);
    EXPECT_EQ(b.counts().total, 0u);

    a.leave(wa);
    ASSERT_EQ(a.request(w, out), Outcome::Connect);  // the freed budget is usable by the other pool
    EXPECT_EQ(db.used(), 2u);
    a.connect_failed();
    EXPECT_EQ(a.give_back(std::move(a1)).wake, nullptr);
    a.close();
    b.close();
    EXPECT_EQ(db.used(), 0u);
    EXPECT_EQ(user_a.used(), 0u);
    EXPECT_EQ(user_b.used(), 0u);
}

TEST_F(PoolLedgerTest, UserBudgetRefusalGivesTheDatabaseBudgetBack) {
    ConnectionBudget db(0);
    ConnectionBudget user(1);
    Ledger l(PoolLimits{3, 0}, &db, &user);
    warm(l);
    Waiter w;
    ConnPtr out;
    ASSERT_EQ(l.request(w, out), Outcome::Connect);
    Waiter w2;
    EXPECT_EQ(l.request(w2, out), Outcome::Wait);
    EXPECT_EQ(db.used(), 1u);
    EXPECT_EQ(user.used(), 1u);
    EXPECT_EQ(l.connect_failed().wake, &w2);
    l.leave(w2);
    EXPECT_EQ(db.used(), 0u);
    EXPECT_EQ(user.used(), 0u);
}

// Pool B frees database budget while pool A's waiters queued for it. A newcomer to A must not
// overtake them, and must not leave the free slot unused either: the first waiter gets it.
TEST_F(PoolLedgerTest, BudgetFreedByAnotherPoolReachesTheFirstWaiterNotANewcomer) {
    ConnectionBudget db(2);
    ConnectionBudget user_a(0), user_b(0);
    PoolLimits limits{2, 0};
    Ledger a(limits, &db, &user_a);
    Ledger b(limits, &db, &user_b);
    warm(a);
    warm(b);
    Waiter w;
    ConnPtr out;
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    b.connected();
    b.connected();

    Waiter w1;
    EXPECT_EQ(a.request(w1, out), Outcome::Wait);  // A has nothing and may take nothing
    EXPECT_EQ(a.counts().total, 0u);

    EXPECT_EQ(b.closed_lent().wake, nullptr);  // budget freed; A is not told
    EXPECT_EQ(db.used(), 1u);

    Waiter w2;
    EXPECT_EQ(a.request(w2, out), Outcome::Wait);  // no overtaking...
    auto woken = a.take_woken();
    ASSERT_EQ(woken.size(), 1u);  // ...and no stall: w1 gets the free slot
    EXPECT_EQ(woken[0], &w1);
    EXPECT_TRUE(w1.slot);
    EXPECT_FALSE(w2.granted());
    EXPECT_EQ(a.counts().total, 1u);
    EXPECT_EQ(db.used(), 2u);

    // The same again, one waiter on.
    EXPECT_EQ(b.closed_lent().wake, nullptr);
    Waiter w3;
    EXPECT_EQ(a.request(w3, out), Outcome::Wait);
    woken = a.take_woken();
    ASSERT_EQ(woken.size(), 1u);
    EXPECT_EQ(woken[0], &w2);
    EXPECT_EQ(b.counts().total, 0u);
    EXPECT_EQ(a.leave(w3).wake, nullptr);

    // Free budget and a queued waiter: its leaving hands the slot to the next one.
    EXPECT_EQ(a.leave(w1).wake, nullptr);  // no one else queued: released
    Waiter w4, w5;
    ASSERT_EQ(b.request(w, out), Outcome::Connect);  // B takes the budget back
    EXPECT_EQ(a.request(w4, out), Outcome::Wait);
    EXPECT_EQ(a.request(w5, out), Outcome::Wait);
    b.connect_failed();
    EXPECT_EQ(a.leave(w4).wake, &w5);
    EXPECT_TRUE(w5.slot);

    // Two slots free, one waiter: it gets one, the newcomer the other.
    a.leave(w2);
    a.leave(w5);
    EXPECT_EQ(db.used(), 0u);
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    Waiter w6, w7;
    EXPECT_EQ(a.request(w6, out), Outcome::Wait);
    b.connect_failed();
    b.connect_failed();
    EXPECT_EQ(a.request(w7, out), Outcome::Connect);
    woken = a.take_woken();
    ASSERT_EQ(woken.size(), 1u);
    EXPECT_EQ(woken[0], &w6);
    a.connect_failed();
    a.leave(w6);
    EXPECT_EQ(db.used(), 0u);
    EXPECT_EQ(a.counts().total, 0u);
    EXPECT_EQ(b.counts().total, 0u);
}

// Router::make_room's parts: a waiter below its pool's size is short of budget, an idle server
// of another ledger gives its slot up, and the freed budget goes to that waiter.
TEST_F(PoolLedgerTest, IdleServerOfAnotherLedgerMakesRoomForAWaiterShortOfBudget) {
    ConnectionBudget db(0);
    ConnectionBudget user(1);  // one server for the user over both pools
    PoolLimits limits{2, 0};
    Ledger a(limits, &db, &user);
    Ledger b(limits, &db, &user);
    warm(a);
    warm(b);
    Waiter w;
    ConnPtr out;
    ASSERT_EQ(b.request(w, out), Outcome::Connect);
    b.connected();
    EXPECT_EQ(b.give_back(conn(1)).wake, nullptr);  // idle in B, holding the user's budget

    Waiter wa;
    EXPECT_EQ(a.request(wa, out), Outcome::Wait);
    EXPECT_TRUE(a.short_of_budget());
    EXPECT_FALSE(b.short_of_budget());
    EXPECT_TRUE(a.grant_free_slots().empty());

    auto made_room = b.take_oldest_idle();
    ASSERT_TRUE(made_room);
    EXPECT_EQ(made_room->id, 1);
    EXPECT_EQ(b.counts().total, 0u);
    EXPECT_FALSE(b.take_oldest_idle());
    auto granted = a.grant_free_slots();
    ASSERT_EQ(granted.size(), 1u);
    EXPECT_EQ(granted[0], &wa);
    EXPECT_FALSE(a.short_of_budget());
    EXPECT_TRUE(a.collect(wa, out));
    a.connect_failed();
    EXPECT_EQ(user.used(), 0u);

    // A pool at its own size waits for itself, not for a budget.
    Ledger c(PoolLimits{1, 0}, &db, &user);
    warm(c);
    ASSERT_EQ(c.request(w, out), Outcome::Connect);
    Waiter wc;
    EXPECT_EQ(c.request(wc, out), Outcome::Wait);
    EXPECT_FALSE(c.short_of_budget());
    EXPECT_EQ(c.leave(wc).wake, nullptr);
    c.connect_failed();
    EXPECT_EQ(user.used(), 0u);
}

// --- Leaks (issue 6): every way to give up leaves total and budgets right ----------------------

TEST_F(PoolLedgerTest, QueuedWaiterThatLeavesIsRemovedFromTheQueue) {
    auto l = make(1);
    auto a = open(l, 1);
    Waiter w1, w2, w3;
    wait(l, w1);
    wait(l, w2);
    wait(l, w3);
    auto h = l.leave(w2);  // timeout in the middle of the queue
    EXPECT_EQ(h.wake, nullptr);
    EXPECT_FALSE(w2.queued);
    EXPECT_EQ(l.counts().waiting, 2u);
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_EQ(l.leave(w2).wake, nullptr);  // twice is harmless

    EXPECT_EQ(l.give_back(std::move(a)).wake, &w1);
    ConnPtr s;
    l.collect(w1, s);
    EXPECT_EQ(l.give_back(std::move(s)).wake, &w3);  // w2 is skipped
    l.collect(w3, s);
    l.leave(w1);
    EXPECT_EQ(l.leave(w3).wake, nullptr);  // collected: nothing to pass on
    EXPECT_EQ(l.give_back(std::move(s)).wake, nullptr);
    EXPECT_EQ(l.counts().idle, 1u);
    EXPECT_EQ(l.counts().waiting, 0u);
    expect_consistent(l, limits_);
    shut(l);
}

TEST_F(PoolLedgerTest, WaiterGrantedAServerThatLeavesPassesItOn) {
    auto l = make(1);
    auto a = open(l, 1);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);
    EXPECT_EQ(l.give_back(std::move(a)).wake, &w1);
    auto h = l.leave(w1);  // cancelled before collecting
    EXPECT_EQ(h.wake, &w2);
    EXPECT_EQ(h.close, nullptr);
    EXPECT_EQ(w1.server, nullptr);
    ASSERT_NE(w2.server, nullptr);
    EXPECT_EQ(w2.server->id, 1);
    auto c = l.counts();
    EXPECT_EQ(c.granted, 1u);
    EXPECT_EQ(c.lent, 0u);
    EXPECT_EQ(c.total, 1u);
    expect_consistent(l, limits_);

    h = l.leave(w2);  // nobody else waits: idle
    EXPECT_EQ(h.wake, nullptr);
    EXPECT_EQ(h.close, nullptr);
    c = l.counts();
    EXPECT_EQ(c.idle, 1u);
    EXPECT_EQ(c.granted, 0u);
    EXPECT_EQ(c.total, 1u);
    expect_consistent(l, limits_);
    EXPECT_EQ(lend(l)->id, 1);  // and usable
    l.closed_lent();
    EXPECT_EQ(l.counts().total, 0u);
}

TEST_F(PoolLedgerTest, WaiterGrantedASlotThatLeavesPassesItOnOrReleasesIt) {
    auto l = make(1);
    auto a = open(l, 1);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);
    a.reset();
    EXPECT_EQ(l.closed_lent().wake, &w1);
    EXPECT_EQ(l.leave(w1).wake, &w2);
    EXPECT_FALSE(w1.slot);
    EXPECT_TRUE(w2.slot);
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_EQ(l.counts().granted, 1u);
    EXPECT_EQ(l.leave(w2).wake, nullptr);
    EXPECT_EQ(l.counts().total, 0u);
    EXPECT_EQ(l.counts().granted, 0u);
    EXPECT_EQ(database_.used(), 0u);
    expect_consistent(l, limits_);
}

TEST_F(PoolLedgerTest, ConnectFailedPassesTheSlotOnOrReleasesIt) {
    auto l = make(1);
    Waiter c;
    ConnPtr out;
    ASSERT_EQ(l.request(c, out), Outcome::Connect);
    EXPECT_EQ(l.counts().connecting, 1u);
    Waiter w1;
    wait(l, w1);
    auto h = l.connect_failed();
    EXPECT_EQ(h.wake, &w1);
    EXPECT_TRUE(w1.slot);
    EXPECT_EQ(l.counts().connecting, 0u);
    EXPECT_EQ(l.counts().total, 1u);

    ASSERT_TRUE(l.collect(w1, out));  // w1 connects with it, and fails too
    EXPECT_EQ(l.counts().connecting, 1u);
    EXPECT_EQ(l.connect_failed().wake, nullptr);
    EXPECT_EQ(l.counts().total, 0u);
    EXPECT_EQ(database_.used(), 0u);
    EXPECT_EQ(user_.used(), 0u);
    expect_consistent(l, limits_);
}

// --- close -------------------------------------------------------------------------------------

TEST_F(PoolLedgerTest, CloseReturnsIdleServersAndLaterRequestsSeeClosed) {
    auto l = make(3);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter cw;
    ConnPtr out;
    ASSERT_EQ(l.request(cw, out), Outcome::Connect);
    l.give_back(std::move(a));
    EXPECT_EQ(l.counts().total, 3u);

    auto [idle, woken] = l.close();
    EXPECT_TRUE(l.closed());
    ASSERT_EQ(idle.size(), 1u);
    EXPECT_EQ(idle[0]->id, 1);
    EXPECT_TRUE(woken.empty());
    EXPECT_EQ(l.counts().idle, 0u);
    EXPECT_EQ(l.counts().total, 2u);
    EXPECT_EQ(database_.used(), 2u);

    Waiter late;
    EXPECT_EQ(l.request(late, out), Outcome::Closed);
    EXPECT_FALSE(late.queued);
    EXPECT_EQ(l.counts().waiting, 0u);
    EXPECT_FALSE(l.take_warmup_slot(3));
    EXPECT_FALSE(l.allow_reserve(late));

    // The connect in flight succeeds after close: its server comes back to be closed.
    l.connected();
    auto h = l.give_back(conn(3));
    EXPECT_EQ(h.wake, nullptr);
    ASSERT_NE(h.close, nullptr);
    EXPECT_EQ(h.close->id, 3);
    h = l.give_back(std::move(b));
    ASSERT_NE(h.close, nullptr);
    EXPECT_EQ(h.close->id, 2);
    EXPECT_EQ(l.counts().total, 0u);
    expect_consistent(l, limits_);
}

TEST_F(PoolLedgerTest, CloseWakesWaitersWithNothing) {
    auto l = make(2);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter w1, w2, w3;
    wait(l, w1);
    wait(l, w2);
    wait(l, w3);
    EXPECT_EQ(l.give_back(std::move(a)).wake, &w1);  // w1 granted before the close

    auto [idle, woken] = l.close();
    EXPECT_TRUE(idle.empty());
    ASSERT_EQ(woken.size(), 2u);
    EXPECT_EQ(woken[0], &w2);
    EXPECT_EQ(woken[1], &w3);
    EXPECT_FALSE(w2.queued);
    EXPECT_FALSE(w2.granted());
    EXPECT_EQ(l.counts().waiting, 0u);

    ConnPtr out;
    EXPECT_FALSE(l.collect(w2, out));  // woken with nothing: it asks again and sees Closed
    EXPECT_EQ(l.request(w2, out), Outcome::Closed);
    EXPECT_EQ(l.leave(w2).wake, nullptr);
    EXPECT_EQ(l.leave(w3).wake, nullptr);

    // w1's grant from before the close, abandoned: the server comes back to be closed.
    auto h = l.leave(w1);
    EXPECT_EQ(h.wake, nullptr);
    ASSERT_NE(h.close, nullptr);
    EXPECT_EQ(h.close->id, 1);
    EXPECT_EQ(l.counts().total, 1u);
    // A lent server closed after the pool closed frees its slot.
    b.reset();
    EXPECT_EQ(l.closed_lent().wake, nullptr);
    EXPECT_EQ(l.counts().total, 0u);
    expect_consistent(l, limits_);
}

TEST_F(PoolLedgerTest, GrantsOutstandingAtCloseAreReleasedWhenUsedOrAbandoned) {
    auto l = make(2);
    auto a = open(l, 1);
    auto b = open(l, 2);
    Waiter w1, w2;
    wait(l, w1);
    wait(l, w2);
    a.reset();
    EXPECT_EQ(l.closed_lent().wake, &w1);
    b.reset();
    EXPECT_EQ(l.closed_lent().wake, &w2);
    l.close();
    EXPECT_EQ(l.counts().total, 2u);
    EXPECT_EQ(l.leave(w1).wake, nullptr);  // abandoned slot: released, not passed on
    EXPECT_EQ(l.counts().total, 1u);
    ConnPtr none;
    ASSERT_TRUE(l.collect(w2, none));  // collected slot: the connect fails
    EXPECT_EQ(l.connect_failed().wake, nullptr);
    EXPECT_EQ(l.counts().total, 0u);
}

// --- retire_idle / take_woken -----------------------------------------------------------------

TEST_F(PoolLedgerTest, RetireIdleByPredicateOldestFirstFreesSlots) {
    auto l = make(4);
    auto s1 = open(l, 1);
    auto s2 = open(l, 2);
    auto s3 = open(l, 3);
    auto s4 = open(l, 4);
    l.give_back(std::move(s2));
    l.give_back(std::move(s1));
    l.give_back(std::move(s4));
    l.give_back(std::move(s3));  // idle, oldest first: 2 1 4 3

    std::vector<int> seen;
    std::vector<std::uint32_t> totals;
    auto retired = l.retire_idle([&](FakeConn& c, std::uint32_t total) {
        seen.push_back(c.id);
        totals.push_back(total);
        return c.id % 2 == 0;
    });
    EXPECT_EQ(seen, (std::vector<int>{2, 1, 4, 3}));
    EXPECT_EQ(totals, (std::vector<std::uint32_t>{4, 3, 3, 2}));
    ASSERT_EQ(retired.size(), 2u);
    EXPECT_EQ(retired[0]->id, 2);
    EXPECT_EQ(retired[1]->id, 4);
    EXPECT_EQ(l.counts().total, 2u);
    EXPECT_EQ(l.counts().idle, 2u);
    EXPECT_EQ(database_.used(), 2u);
    EXPECT_EQ(user_.used(), 2u);
    EXPECT_TRUE(l.take_woken().empty());
    expect_consistent(l, limits_);

    // A min_size-like rule: retire while more than one remains, oldest first.
    retired = l.retire_idle([](FakeConn&, std::uint32_t total) { return total > 1; });
    ASSERT_EQ(retired.size(), 1u);
    EXPECT_EQ(retired[0]->id, 1);
    EXPECT_EQ(l.idle().front()->id, 3);
    EXPECT_EQ(lend(l)->id, 3);
    // Nothing idle: nothing retired, the lent one is untouched.
    EXPECT_TRUE(l.retire_idle([](FakeConn&, std::uint32_t) { return true; }).empty());
    EXPECT_EQ(l.counts().lent, 1u);
    l.closed_lent();
    EXPECT_TRUE(l.take_woken().empty());
    EXPECT_EQ(l.counts().total, 0u);
}

// --- take_warmup_slot --------------------------------------------------------------------------

TEST_F(PoolLedgerTest, WarmupSlotsUpToTarget) {
    auto l = make(3, 2);
    EXPECT_TRUE(l.take_warmup_slot(2));
    EXPECT_TRUE(l.take_warmup_slot(2));
    EXPECT_FALSE(l.take_warmup_slot(2));
    EXPECT_EQ(l.counts().connecting, 2u);
    EXPECT_EQ(l.counts().total, 2u);
    l.connected();
    EXPECT_EQ(l.give_back(conn(1)).wake, nullptr);
    l.connect_failed();
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_EQ(l.counts().idle, 1u);

    // A target above size stops at size: warm-up never takes the reserve.
    EXPECT_TRUE(l.take_warmup_slot(10));
    EXPECT_TRUE(l.take_warmup_slot(10));
    EXPECT_FALSE(l.take_warmup_slot(10));
    EXPECT_EQ(l.counts().total, 3u);
    EXPECT_FALSE(l.take_warmup_slot(0));
    l.connect_failed();
    l.connect_failed();
    expect_consistent(l, limits_);
    shut(l);
}

TEST_F(PoolLedgerTest, WarmupSlotRespectsBudget) {
    ConnectionBudget db(1);
    ConnectionBudget user(0);
    Ledger l(PoolLimits{3, 0}, &db, &user);
    warm(l);
    EXPECT_TRUE(l.take_warmup_slot(3));
    EXPECT_FALSE(l.take_warmup_slot(3));
    EXPECT_EQ(l.counts().total, 1u);
    l.connect_failed();
    EXPECT_EQ(db.used(), 0u);
    EXPECT_EQ(user.used(), 0u);
}

// --- A cold pool ------------------------------------------------------------------------------

// Until a server of the pool has logged in, one connects at a time: a burst of logins to a cold
// pool needs one server to learn the defaults from (they wait for it and check on it in turn),
// and an upstream that refuses is tried by one client at a time.
TEST_F(PoolLedgerTest, AColdPoolConnectsOneServerAtATimeUntilOneLogsIn) {
    limits_ = PoolLimits{4, 1};
    Ledger l(limits_, &database_, &user_);
    Waiter first, second, third, fourth;
    ConnPtr out;
    ASSERT_EQ(l.request(first, out), Outcome::Connect);
    wait(l, second);
    wait(l, third);
    EXPECT_EQ(l.counts().total, 1u);
    EXPECT_FALSE(l.take_warmup_slot(4));
    EXPECT_TRUE(l.grant_free_slots().empty());
    EXPECT_FALSE(l.allow_reserve(third));

    // The connect fails: its slot goes to the next in line, still the only one.
    auto h = l.connect_failed();
    ASSERT_EQ(h.wake, &second);
    ASSERT_TRUE(l.collect(second, out));
    EXPECT_EQ(out, nullptr);
    EXPECT_EQ(l.counts().connecting, 1u);
    EXPECT_TRUE(l.grant_free_slots().empty());

    // It logs in and comes back: the next waiter gets that server rather than a slot of its own.
    l.connected();
    h = l.give_back(conn(1));
    ASSERT_EQ(h.wake, &third);
    ASSERT_TRUE(l.collect(third, out));
    ASSERT_NE(out, nullptr);
    EXPECT_EQ(l.counts().total, 1u);

    // From now on the pool grows as a warm one does: newcomers connect side by side.
    ConnPtr none;
    EXPECT_EQ(l.request(fourth, none), Outcome::Connect);
    Waiter fifth;
    EXPECT_EQ(l.request(fifth, none), Outcome::Connect);
    EXPECT_EQ(l.counts().connecting, 2u);
    l.connected();
    l.connected();
    shut(l, all(std::move(out), conn(2), conn(3)));
}

// --- Random interleavings ----------------------------------------------------------------------

// Drives one ledger like a pool would, keeping its own account of who holds what, and checks the
// ledger against it after every step.
class Driver {
public:
    Driver(PoolLimits limits, ConnectionBudget& db, ConnectionBudget& user, std::uint32_t budget_max)
        : limits_(limits), db_(db), user_(user), budget_max_(budget_max), ledger_(limits, &db, &user) {}

    Ledger& ledger() { return ledger_; }

    void step(std::mt19937& rng) {
        auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
        switch (pick(14)) {
            case 0:
            case 1:
            case 2:
                if (waiters_.size() < kMaxWaiters) request(rng);  // a bounded crowd keeps steps cheap
                break;
            case 3:
            case 4: {  // a granted waiter wakes up and collects, then its guard leaves
                auto granted = waiters_where([](const Waiter& w) { return w.granted(); });
                if (granted.empty()) break;
                auto i = granted[pick(granted.size())];
                Waiter& w = *waiters_[i];
                ConnPtr s;
                ASSERT_TRUE(ledger_.collect(w, s));
                if (s)
                    lent_.push_back(std::move(s));
                else
                    ++connecting_;
                auto h = ledger_.leave(w);
                ASSERT_EQ(h.wake, nullptr);
                ASSERT_EQ(h.close, nullptr);
                drop_waiter(i);
                break;
            }
            case 5: {  // a waiter, queued or granted, gives up (timeout, cancel, error)
                if (waiters_.empty()) break;
                auto i = pick(waiters_.size());
                Waiter& w = *waiters_[i];
                if (w.queued) {
                    auto it = std::find(queue_.begin(), queue_.end(), &w);
                    ASSERT_NE(it, queue_.end());
                    queue_.erase(it);
                }
                auto h = ledger_.leave(w);
                ASSERT_FALSE(w.granted());
                ASSERT_FALSE(w.queued);
                handoff(std::move(h));
                drop_waiter(i);
                break;
            }
            case 6: {
                auto queued = waiters_where([](const Waiter& w) { return w.queued; });
                if (queued.empty() || limits_.reserve_size == 0) break;
                Waiter& w = *waiters_[queued[pick(queued.size())]];
                if (w.reserve) break;
                if (ledger_.allow_reserve(w)) {
                    ASSERT_TRUE(w.slot);
                    ASSERT_FALSE(w.queued);
                    queue_.erase(std::find(queue_.begin(), queue_.end(), &w));
                } else {
                    ASSERT_TRUE(w.queued || ledger_.closed());
                }
                break;
            }
            case 7:
            case 8:
                if (!lent_.empty()) {
                    auto i = pick(lent_.size());
                    ConnPtr s = std::move(lent_[i]);
                    lent_.erase(lent_.begin() + static_cast<std::ptrdiff_t>(i));
                    handoff(ledger_.give_back(std::move(s)));
                }
                break;
            case 9:
                if (!lent_.empty()) {
                    lent_.erase(lent_.begin() + static_cast<std::ptrdiff_t>(pick(lent_.size())));
                    handoff(ledger_.closed_lent());
                }
                break;
            case 10:
                if (connecting_ > 0) {
                    --connecting_;
                    handoff(ledger_.connect_failed());
                }
                break;
            case 11:
                if (connecting_ > 0) {
                    --connecting_;
                    ledger_.connected();
                    logged_in_once_ = true;
                    lent_.push_back(conn(next_id_++));
                }
                break;
            case 12: {
                auto retired = ledger_.retire_idle([&](FakeConn&, std::uint32_t) { return pick(3) == 0; });
                for (auto& s : retired) ASSERT_NE(s, nullptr);
                woken(ledger_.take_woken());
                break;
            }
            case 13:
                if (ledger_.take_warmup_slot(static_cast<std::uint32_t>(pick(limits_.size + 2)))) ++connecting_;
                break;
        }
    }

    void close() {
        auto [idle, woken] = ledger_.close();
        ASSERT_EQ(woken.size(), queue_.size());
        for (std::size_t i = 0; i < woken.size(); ++i) ASSERT_EQ(woken[i], queue_[i]);
        queue_.clear();
    }

    // Every waiter gives up, every lent server comes back, every connect fails.
    void drain() {
        while (!waiters_.empty()) {
            Waiter& w = *waiters_.back();
            if (w.queued) queue_.erase(std::find(queue_.begin(), queue_.end(), &w));
            handoff(ledger_.leave(w));
            cold_.erase(&w);
            waiters_.pop_back();
        }
        while (!lent_.empty()) {
            handoff(ledger_.give_back(std::move(lent_.back())));
            lent_.pop_back();
        }
        while (connecting_ > 0) {
            --connecting_;
            handoff(ledger_.connect_failed());
        }
        ASSERT_EQ(ledger_.counts().total, 0u);
    }

    // The ledger against the driver's account and its own invariants.
    void check(bool lone) const {
        auto c = ledger_.counts();
        ASSERT_EQ(c.total, c.idle + c.lent + c.connecting + c.granted);
        ASSERT_LE(c.total, limits_.size + limits_.reserve_size);
        ASSERT_TRUE(c.waiting == 0 || c.idle == 0) << "waiters queued while a server is idle";
        ASSERT_EQ(c.lent, lent_.size());
        ASSERT_EQ(c.connecting, connecting_);
        ASSERT_EQ(c.waiting, queue_.size());
        // The ledger's own queue, walked through its links, is the model's.
        std::vector<Waiter*> in_order;
        for (Waiter* w : ledger_.waiters()) in_order.push_back(w);
        ASSERT_TRUE(std::equal(in_order.begin(), in_order.end(), queue_.begin(), queue_.end()));
        std::uint32_t granted = 0;
        for (auto& w : waiters_) {
            ASSERT_FALSE(w->queued && w->granted());
            ASSERT_EQ(w->queued, std::find(queue_.begin(), queue_.end(), w.get()) != queue_.end());
            if (w->granted()) ++granted;
        }
        ASSERT_EQ(c.granted, granted);
        if (ledger_.closed()) {
            ASSERT_EQ(c.waiting, 0u);
            ASSERT_EQ(c.idle, 0u);
        }
        if (lone) {
            ASSERT_EQ(db_.used(), c.total);
            ASSERT_EQ(user_.used(), c.total);
            // A cold pool connects one server at a time.
            if (!logged_in_once_) {
                ASSERT_LE(c.total, 1u);
            }
            // Nobody waits while a (non-reserve) slot is free, except those who queued while the
            // pool was cold: they wait for the first server to come back (or a newcomer's
            // request, or the pool's upkeep, grants them the slots).
            if (!queue_.empty() && !cold_.contains(queue_.front())) {
                std::uint32_t limit = limits_.size;
                if (budget_max_ != 0) limit = std::min(limit, budget_max_);
                ASSERT_GE(c.total, limit) << "a waiter waits while a slot is free";
            }
        }
    }

private:
    static constexpr std::size_t kMaxWaiters = 8;

    void request(std::mt19937& rng) {
        auto w = std::make_unique<Waiter>();
        w->reserve = std::uniform_int_distribution<int>(0, 9)(rng) == 0;
        ConnPtr out;
        auto outcome = ledger_.request(*w, out);
        // Granted to those already queued, in order, before the newcomer queues.
        woken(ledger_.take_woken());
        switch (outcome) {
            case Outcome::Lend:
                ASSERT_NE(out, nullptr);
                ASSERT_TRUE(queue_.empty());
                lent_.push_back(std::move(out));
                break;
            case Outcome::Connect:
                ASSERT_TRUE(queue_.empty());
                ++connecting_;
                break;
            case Outcome::Wait:
                ASSERT_TRUE(w->queued);
                if (!logged_in_once_) cold_.insert(w.get());
                queue_.push_back(w.get());
                waiters_.push_back(std::move(w));
                break;
            case Outcome::Closed:
                ASSERT_TRUE(ledger_.closed());
                break;
        }
    }

    void woken(const std::vector<Waiter*>& ws) {
        for (Waiter* w : ws) {
            ASSERT_FALSE(queue_.empty());
            ASSERT_EQ(w, queue_.front()) << "granted out of order";
            ASSERT_TRUE(w->granted());
            queue_.pop_front();
        }
    }

    void handoff(Ledger::Handoff h) {
        if (h.wake) woken({h.wake});
        if (h.close) {
            ASSERT_TRUE(ledger_.closed()) << "a server handed back to close while open";
        }
    }

    template <class Pred>
    std::vector<std::size_t> waiters_where(Pred pred) const {
        std::vector<std::size_t> out;
        for (std::size_t i = 0; i < waiters_.size(); ++i)
            if (pred(*waiters_[i])) out.push_back(i);
        return out;
    }
    void drop_waiter(std::size_t i) {
        cold_.erase(waiters_[i].get());
        std::swap(waiters_[i], waiters_.back());
        waiters_.pop_back();
    }

    PoolLimits limits_;
    ConnectionBudget& db_;
    ConnectionBudget& user_;
    std::uint32_t budget_max_;
    Ledger ledger_;
    std::vector<std::unique_ptr<Waiter>> waiters_;  // alive: queued or granted
    std::deque<Waiter*> queue_;                     // queued, in arrival order
    std::vector<ConnPtr> lent_;
    std::uint32_t connecting_ = 0;
    int next_id_ = 1;
    bool logged_in_once_ = false;
    std::set<const Waiter*> cold_;  // queued while the pool had never logged a server in
};

TEST(PoolLedgerRandom, InvariantsHoldOverRandomInterleavings) {
    std::mt19937 rng(20261202);
    constexpr int kEpisodes = 20;
    constexpr int kSteps = 5000;  // 100k steps in all
    for (int e = 0; e < kEpisodes; ++e) {
        PoolLimits limits{std::uniform_int_distribution<std::uint32_t>(1, 4)(rng),
                          std::uniform_int_distribution<std::uint32_t>(0, 2)(rng)};
        // Some episodes run under a budget tighter than the pool.
        std::uint32_t max = e % 3 == 0 ? std::uniform_int_distribution<std::uint32_t>(1, 3)(rng) : 0;
        ConnectionBudget db(max);
        ConnectionBudget user(0);
        Driver d(limits, db, user, max);
        const int close_at = e % 2 == 0 ? kSteps * 9 / 10 : kSteps;  // half the episodes also run closed
        for (int i = 0; i < kSteps; ++i) {
            if (i == close_at) {
                d.close();
                ASSERT_FALSE(::testing::Test::HasFatalFailure());
            }
            d.step(rng);
            ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "episode " << e << " step " << i;
            d.check(true);
            ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "episode " << e << " step " << i;
        }
        if (!d.ledger().closed()) d.close();
        d.drain();
        ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "episode " << e;
        EXPECT_EQ(db.used(), 0u);
        EXPECT_EQ(user.used(), 0u);
    }
}

TEST(PoolLedgerRandom, TwoLedgersShareADatabaseBudget) {
    std::mt19937 rng(6);
    constexpr std::uint32_t kMax = 3;
    ConnectionBudget db(kMax);
    ConnectionBudget user_a(0), user_b(0);
    Driver a(PoolLimits{2, 1}, db, user_a, kMax);
    Driver b(PoolLimits{3, 0}, db, user_b, kMax);
    for (int i = 0; i < 20000; ++i) {
        (i % 2 ? a : b).step(rng);
        ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "step " << i;
        a.check(false);
        b.check(false);
        ASSERT_FALSE(::testing::Test::HasFatalFailure()) << "step " << i;
        auto total = a.ledger().counts().total + b.ledger().counts().total;
        ASSERT_EQ(db.used(), total);
        ASSERT_LE(db.used(), kMax);
        ASSERT_EQ(user_a.used(), a.ledger().counts().total);
        ASSERT_EQ(user_b.used(), b.ledger().counts().total);
    }
    a.close();
    b.close();
    a.drain();
    b.drain();
    EXPECT_EQ(db.used(), 0u);
}

}  // namespace
}  // namespace sluice::proxy
