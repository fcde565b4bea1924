#include "proxy/ttl_lru_cache.hpp"

#include <gtest/gtest.h>

#include <string>

namespace sluice::proxy {
namespace {

using namespace std::chrono_literals;
using Cache = TtlLruCache<std::string, int>;
const auto t0 = std::chrono::steady_clock::time_point{} + 1h;

TEST(TtlLruCache, ReturnsWhatWasStoredUntilItExpires) {
    Cache c(10, 5s);
    c.insert("a", 1, t0);
    EXPECT_EQ(c.find("a", t0 + 4s), 1);
    EXPECT_EQ(c.find("a", t0 + 5s), std::nullopt);
    EXPECT_EQ(c.size(), 0u) << "an expired entry is dropped when seen";
}

TEST(TtlLruCache, NeverHoldsMoreThanItsMaximum) {
    Cache c(3, 1h);
    for (int i = 0; i < 1000; ++i) c.insert("name" + std::to_string(i), i, t0);
    EXPECT_EQ(c.size(), 3u);
    EXPECT_EQ(c.find("name999", t0), 999);
    EXPECT_EQ(c.find("name0", t0), std::nullopt);
}

TEST(TtlLruCache, EvictsTheLeastRecentlyUsed) {
    Cache c(2, 1h);
    c.insert("a", 1, t0);
    c.insert("b", 2, t0);
    ASSERT_EQ(c.find("a", t0), 1);  // "b" is now the least recently used
    c.insert("c", 3, t0);
    EXPECT_EQ(c.find("a", t0), 1);
    EXPECT_EQ(c.find("b", t0), std::nullopt);
    EXPECT_EQ(c.find("c", t0), 3);
}

TEST(TtlLruCache, ReinsertReplacesAndRefreshes) {
    Cache c(2, 10s);
    c.insert("a", 1, t0);
    c.insert("a", 2, t0 + 8s);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_EQ(c.find("a", t0 + 15s), 2);
    c.erase("a");
    EXPECT_EQ(c.find("a", t0 + 15s), std::nullopt);
}

TEST(TtlLruCache, ZeroTtlCachesNothing) {
    Cache c(2, 0s);
    c.insert("a", 1, t0);
    EXPECT_EQ(c.size(), 0u);
}

}  // namespace
}  // namespace sluice::proxy
