#include "proxy/run_next.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace sluice::proxy {
namespace {

// An operation as the scheduler runs them: called with a non-null owner, destroyed with a null one.
struct Step : asio::detail::scheduler_operation {
    std::vector<std::string>* log;
    std::string name;
    std::function<void()> then;
    Step(std::vector<std::string>& l, std::string n, std::function<void()> t = {})
        : scheduler_operation(&Step::run), log(&l), name(std::move(n)), then(std::move(t)) {}
    static void run(void* owner, scheduler_operation* base, const error_code&, std::size_t) {
        auto* step = static_cast<Step*>(base);
        step->log->push_back(owner ? step->name : step->name + " destroyed");
        if (owner && step->then) step->then();
    }
};

TEST(RunNext, RunsWhatWasTakenWhenTheScopeEndsInOrder) {
    std::vector<std::string> log;
    Step a(log, "a"), b(log, "b");
    EXPECT_FALSE(RunNext::collecting());
    {
        const RunNext::Scope scope;
        ASSERT_TRUE(RunNext::collecting());
        RunNext::take(&a);
        RunNext::take(&b);
        EXPECT_TRUE(log.empty());
    }
    EXPECT_EQ(log, (std::vector<std::string>{"a", "b"}));
    EXPECT_FALSE(RunNext::collecting());
}

TEST(RunNext, WhatRunsMayTakeMoreAndItRunsToo) {
    std::vector<std::string> log;
    Step c(log, "c");
    Step a(log, "a", [&] {
        ASSERT_TRUE(RunNext::collecting()) << "still the scope's";
        RunNext::take(&c);
    });
    Step b(log, "b");
    {
        const RunNext::Scope scope;
        RunNext::take(&a);
        RunNext::take(&b);
    }
    EXPECT_EQ(log, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(RunNext, AnInnerScopeLeavesTheRunToTheOutermost) {
    std::vector<std::string> log;
    Step a(log, "a");
    {
        const RunNext::Scope outer;
        {
            const RunNext::Scope inner;
            RunNext::take(&a);
        }
        EXPECT_TRUE(log.empty());
        EXPECT_TRUE(RunNext::collecting());
    }
    EXPECT_EQ(log, (std::vector<std::string>{"a"}));
}

TEST(RunNext, AnInactiveScopeCollectsNothing) {
    // A handler destroyed uncalled (the reactor shutting down) makes nothing runnable.
    const RunNext::Scope scope(false);
    EXPECT_FALSE(RunNext::collecting());
}

}  // namespace
}  // namespace sluice::proxy
