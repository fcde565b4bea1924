// A client queued in Pool::acquire waits without a timer of its own: only a grant, wake_overdue()
// past its deadline (the server's 100 ms sweep), a cancellation (the login's deadline) or the pool
// closing resumes it, and each of these takes it out of the queue. A pool of size 0 never lends
// or connects, so every acquire() here queues; the io_context runs on the test's thread, and the
// sweep's clock is the argument of wake_overdue(), so nothing depends on timing but the deadline.
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <thread>

#include "proxy/pool.hpp"

namespace sluice::proxy {
namespace {

struct QueuedClient {
    bool done = false;
    std::exception_ptr thrown;
    std::optional<Pool::Acquired> got;
};

// How the client waits: in Pool::acquire's coroutine, or in its own frame with a Pool::Turn (as
// a serving session does), the pool's coroutine only for what the turn does not settle.
enum class Waits { InAcquire, InOwnFrame };
void PrintTo(Waits w, std::ostream* os) { *os << (w == Waits::InAcquire ? "InAcquire" : "InOwnFrame"); }

awaitable<Pool::Acquired> wait_in_own_frame(std::shared_ptr<Pool> pool, Clock::time_point deadline) {
    Pool::Turn turn(*pool, deadline);
    while (turn.waiting()) turn.woken(co_await turn.wait());
    if (Lease lease = turn.ready()) co_return Pool::Acquired{std::move(lease), std::nullopt};
    co_return co_await pool->acquire(turn);
}

// Both ways a waiter is resumed: through its handler's executor (several workers), and through
// the io_context's typed executor when one worker runs everything (the io_context then unlocked);
// each with both ways of waiting.
class PoolWait : public testing::TestWithParam<std::tuple<bool, Waits>> {
protected:
    PoolWait() {
        WorkerMutex::set_single_worker(single_worker());
        config::PoolSettings settings;
        settings.size = 0;
        pool_ = std::make_shared<Pool>(io_.get_executor(), PoolKey{"db", "user"}, settings, UpstreamTarget{},
                                       ServerCredentials{"user", {}, {}, {}}, std::make_shared<ConnectionBudget>(0),
                                       std::make_shared<ConnectionBudget>(0));
    }

    void start(QueuedClient& client, Clock::time_point deadline, asio::cancellation_slot slot = {}) {
        auto wait = std::get<1>(GetParam()) == Waits::InAcquire ? pool_->acquire(deadline)
                                                                : wait_in_own_frame(pool_, deadline);
        asio::co_spawn(io_, std::move(wait),
                       // The pool lives while a client waits on it, as a session's own keeps it.
                       asio::bind_cancellation_slot(slot, [&client, pool = pool_](std::exception_ptr e, Pool::Acquired got) {
                           (void)pool;
                           client.done = true;
                           client.thrown = e;
                           if (!e) client.got = std::move(got);
                       }));
        run_ready();
    }
    // Runs what is ready, as a worker would between two epoll waits.
    void run_ready() {
        io_.restart();
        io_.poll();
    }
    std::uint32_t waiting() const { return pool_->stats().waiting; }

    ~PoolWait() override { WorkerMutex::set_single_worker(false); }
    static bool single_worker() { return std::get<0>(GetParam()); }

    asio::io_context io_{single_worker() ? BOOST_ASIO_CONCURRENCY_HINT_UNSAFE : BOOST_ASIO_CONCURRENCY_HINT_DEFAULT};
    std::shared_ptr<Pool> pool_;
};

TEST_P(PoolWait, TheSweepEndsAWaitOnlyOnceItsDeadlineHasPassed) {
    QueuedClient client;
    const auto started = Clock::now();
    const auto deadline = started + std::chrono::milliseconds(30);
    start(client, deadline);
    ASSERT_FALSE(client.done);
    EXPECT_EQ(waiting(), 1u);

    pool_->wake_overdue(started);  // a sweep before the deadline
    run_ready();
    EXPECT_FALSE(client.done) << "woken before its deadline";
    EXPECT_EQ(waiting(), 1u);

    std::this_thread::sleep_until(deadline + std::chrono::milliseconds(1));
    pool_->wake_overdue(Clock::now());
    run_ready();
    ASSERT_TRUE(client.done);
    ASSERT_FALSE(client.thrown);
    ASSERT_TRUE(client.got->failure);
    EXPECT_FALSE(client.got->lease);
    EXPECT_EQ(client.got->failure->reason, EndReason::QueryWaitTimeout);
    EXPECT_NE(client.got->failure->message.find("query_wait"), std::string::npos) << client.got->failure->message;
    EXPECT_EQ(waiting(), 0u);
    EXPECT_EQ(pool_->stats().wait_timeouts, 1u);
}

TEST_P(PoolWait, AWakeUpBeforeTheDeadlineWaitsAgain) {
    // The sweep's clock may run ahead of the waiter's (another thread read it later): a wake-up
    // whose deadline has not passed by the waiter's own clock puts it back in the queue.
    QueuedClient client;
    start(client, Clock::now() + std::chrono::hours(1));
    pool_->wake_overdue(Clock::now() + std::chrono::hours(2));
    run_ready();
    EXPECT_FALSE(client.done);
    EXPECT_EQ(waiting(), 1u);
    pool_->close();
    run_ready();
    ASSERT_TRUE(client.done);
}

TEST_P(PoolWait, ACancelledWaitLeavesTheQueue) {
    // As the login's deadline cancels a login queued for a server.
    asio::cancellation_signal signal;
    QueuedClient cancelled, other;
    start(cancelled, Clock::now() + std::chrono::hours(1), signal.slot());
    start(other, Clock::now() + std::chrono::hours(1));
    EXPECT_EQ(waiting(), 2u);

    signal.emit(asio::cancellation_type::terminal);
    run_ready();
    ASSERT_TRUE(cancelled.done);
    ASSERT_TRUE(cancelled.thrown) << "a cancelled wait ends with operation_aborted";
    try {
        std::rethrow_exception(cancelled.thrown);
    } catch (const boost::system::system_error& e) {
        EXPECT_EQ(e.code(), asio::error::operation_aborted);
    }
    EXPECT_FALSE(other.done);
    EXPECT_EQ(waiting(), 1u);

    // The slot no longer refers to the finished wait: a second emit is harmless.
    signal.emit(asio::cancellation_type::terminal);
    run_ready();
    EXPECT_EQ(waiting(), 1u);
    pool_->close();
    run_ready();
    EXPECT_TRUE(other.done);
}

TEST_P(PoolWait, ClosingThePoolEndsEveryWait) {
    std::vector<QueuedClient> clients(5);
    for (auto& c : clients) start(c, Clock::now() + std::chrono::hours(1));
    EXPECT_EQ(waiting(), 5u);
    pool_->close();
    run_ready();
    for (auto& c : clients) {
        ASSERT_TRUE(c.done);
        ASSERT_FALSE(c.thrown);
        ASSERT_TRUE(c.got->failure);
        EXPECT_EQ(c.got->failure->reason, EndReason::ShuttingDown);
    }
    EXPECT_EQ(waiting(), 0u);
}

TEST_P(PoolWait, AClientArrivingAfterCloseDoesNotQueue) {
    pool_->close();
    QueuedClient client;
    start(client, Clock::now() + std::chrono::hours(1));
    ASSERT_TRUE(client.done);
    ASSERT_TRUE(client.got->failure);
    EXPECT_EQ(client.got->failure->reason, EndReason::ShuttingDown);
    EXPECT_EQ(waiting(), 0u);
}

TEST_P(PoolWait, AWakeUpStillQueuedWhenTheWorkerGoesIsDestroyedWithIt) {
    // Shutdown: the io_context goes with a woken waiter not yet resumed. The waiting coroutine is
    // destroyed, never resumed (under ASan: nothing leaks, nothing is used after it is freed).
    QueuedClient client;
    start(client, Clock::now() + std::chrono::hours(1));
    pool_->close();  // queues the resumption
    EXPECT_FALSE(client.done);
    EXPECT_EQ(waiting(), 0u);
}

INSTANTIATE_TEST_SUITE_P(Workers, PoolWait, testing::Combine(testing::Bool(), testing::Values(Waits::InAcquire, Waits::InOwnFrame)),
                         [](const testing::TestParamInfo<std::tuple<bool, Waits>>& info) {
                             return std::string(std::get<0>(info.param) ? "OneWorker" : "Several") +
                                    (std::get<1>(info.param) == Waits::InAcquire ? "InAcquire" : "InOwnFrame");
                         });

}  // namespace
}  // namespace sluice::proxy
