// AnalysisCache: bounded by entries and bytes, least recently used out first, one shared
// Analysis per cached text.
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "protocol/sql/session_state.hpp"

namespace sluice::sql {
namespace {

TEST(AnalysisCache, HitReturnsTheSamePointer) {
    AnalysisCache cache(10, 1000);
    auto first = cache.get("SET a.b = 1");
    auto second = cache.get("SET a.b = 1");
    EXPECT_EQ(first.get(), second.get());
    ASSERT_EQ(first->changes.size(), 1u);
    EXPECT_EQ(first->changes[0].name, "a.b");
    EXPECT_NE(cache.get("SET a.c = 1").get(), first.get());
    EXPECT_EQ(cache.size(), 2u);
}

TEST(AnalysisCache, BoundedByEntriesLeastRecentlyUsedFirst) {
    AnalysisCache cache(2, 1000);
    auto a = cache.get("SET a.a = 1");
    auto b = cache.get("SET a.b = 1");
    EXPECT_EQ(cache.get("SET a.a = 1").get(), a.get());  // a is now the most recently used
    cache.get("SET a.c = 1");                             // evicts b
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.get("SET a.a = 1").get(), a.get());
    EXPECT_NE(cache.get("SET a.b = 1").get(), b.get());  // parsed again
}

TEST(AnalysisCache, BoundedByBytes) {
    const std::string one = "SET a.a = 1";  // 11 bytes each
    const std::string two = "SET a.b = 1";
    const std::string three = "SET a.c = 1";
    AnalysisCache cache(100, 25);
    auto p1 = cache.get(one);
    cache.get(two);
    EXPECT_EQ(cache.bytes(), 22u);
    cache.get(three);  // 33 > 25: the oldest goes
    EXPECT_EQ(cache.size(), 2u);
    EXPECT_EQ(cache.bytes(), 22u);
    EXPECT_NE(cache.get(one).get(), p1.get());
}

TEST(AnalysisCache, TextLargerThanTheBudgetIsAnalysedButNotKept) {
    AnalysisCache cache(100, 8);
    auto a = cache.get("SET a.b = 1");
    ASSERT_EQ(a->changes.size(), 1u);
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_EQ(cache.bytes(), 0u);
}

TEST(AnalysisCache, ZeroEntriesKeepsNothing) {
    AnalysisCache cache(0, 1000);
    EXPECT_TRUE(cache.get("LISTEN x")->parsed);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(AnalysisCache, SharedBetweenThreads) {
    // Each thread parses on its own libpg_query context; every answer is right and the bounds hold.
    AnalysisCache cache(16, 4096);
    std::vector<std::thread> threads;
    std::vector<int> wrong(4, 0);
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 200; ++i) {
                const std::string name = "app.k" + std::to_string(i % 40);
                auto a = cache.get("SET " + name + " = " + std::to_string(t));
                if (a->changes.size() != 1 || a->changes[0].name != name) ++wrong[static_cast<std::size_t>(t)];
            }
        });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(wrong, std::vector<int>(4, 0));
    EXPECT_LE(cache.size(), 16u);
    EXPECT_LE(cache.bytes(), 4096u);
}

}  // namespace
}  // namespace sluice::sql
