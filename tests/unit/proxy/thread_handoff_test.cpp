// Handoff: a thread that does not run the io_context hands a result to a coroutine that does. The
// io_context here runs without its locks (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE), as a single-worker
// sluice's does, so any post from the other thread would be a race (TSan runs this suite too).
#include <gtest/gtest.h>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <chrono>
#include <thread>

#include "proxy/thread_handoff.hpp"

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;

struct Answer : Handoff {
    int value = 0;
};

struct Outcome {
    bool done = false;
    error_code ec;
    int value = -1;
};

awaitable<void> await_answer(std::shared_ptr<Answer> answer, bool cancellable, Outcome& outcome) {
    outcome.ec = co_await Handoff::wait(answer, cancellable);
    if (!outcome.ec) outcome.value = answer->value;
    outcome.done = true;
}

class HandoffTest : public testing::Test {
protected:
    void start(std::shared_ptr<Answer> answer, bool cancellable, Outcome& outcome) {
        asio::co_spawn(io_, await_answer(std::move(answer), cancellable, outcome),
                       asio::bind_cancellation_slot(cancel_.slot(), asio::detached));
    }
    // Runs until nothing is left to do, at most `limit`.
    void run_for(std::chrono::milliseconds limit) {
        io_.restart();
        io_.run_for(limit);
    }

    asio::io_context io_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE};
    asio::cancellation_signal cancel_;
};

TEST_F(HandoffTest, ARaiseOnAnotherThreadWakesTheWaitWithTheResult) {
    auto answer = std::make_shared<Answer>();
    Outcome outcome;
    start(answer, true, outcome);
    std::thread other([answer] {
        std::this_thread::sleep_for(50ms);  // the coroutine is waiting by then (or not: both are fine)
        answer->value = 42;
        answer->raise();
    });
    run_for(10s);
    other.join();
    ASSERT_TRUE(outcome.done) << "the wait did not end within 10 s of the raise";
    EXPECT_FALSE(outcome.ec) << outcome.ec.message();
    EXPECT_EQ(outcome.value, 42);
}

TEST_F(HandoffTest, AHandoffRaisedBeforeTheWaitIsTakenAtOnce) {
    auto answer = std::make_shared<Answer>();
    answer->value = 7;
    answer->raise();
    Outcome outcome;
    start(answer, true, outcome);
    run_for(1s);
    ASSERT_TRUE(outcome.done);
    EXPECT_EQ(outcome.value, 7);
}

TEST_F(HandoffTest, ACancelledWaitEndsAndTheLaterRaiseIsHarmless) {
    auto answer = std::make_shared<Answer>();
    Outcome outcome;
    start(answer, true, outcome);
    run_for(20ms);
    ASSERT_FALSE(outcome.done);
    cancel_.emit(asio::cancellation_type::terminal);
    run_for(1s);
    ASSERT_TRUE(outcome.done);
    EXPECT_EQ(outcome.ec, asio::error::operation_aborted);
    // The other thread finishes later and lets go of the last reference: the eventfd closes there.
    std::thread other([answer = std::move(answer)]() mutable {
        answer->value = 1;
        answer->raise();
        answer.reset();
    });
    other.join();
    run_for(20ms);
}

TEST_F(HandoffTest, AnUncancellableWaitOutlastsCancellationUntilTheRaise) {
    auto answer = std::make_shared<Answer>();
    Outcome outcome;
    start(answer, false, outcome);
    run_for(20ms);
    cancel_.emit(asio::cancellation_type::terminal);
    run_for(50ms);
    EXPECT_FALSE(outcome.done) << "the wait ended before the other thread was done";
    std::thread other([answer] {
        answer->value = 3;
        answer->raise();
    });
    run_for(10s);
    other.join();
    ASSERT_TRUE(outcome.done);
    EXPECT_FALSE(outcome.ec);
    EXPECT_EQ(outcome.value, 3);
}

}  // namespace
}  // namespace sluice::proxy
