#include "proxy/in_place_handler.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace sluice::proxy {
namespace {

using Place = InPlaceHandler<32, int>;

// Counts its calls and how many of it (the moved-from ones too) are alive.
struct Probe {
    int* calls;
    int* alive;
    std::unique_ptr<int> payload = std::make_unique<int>(7);  // move-only, as a coroutine's handler
    Probe(int* c, int* a) : calls(c), alive(a) { ++*alive; }
    Probe(Probe&& other) noexcept : calls(other.calls), alive(other.alive), payload(std::move(other.payload)) { ++*alive; }
    ~Probe() { --*alive; }
    void operator()(int value) && {
        ASSERT_TRUE(payload) << "called moved-from";
        *calls += value;
    }
};

TEST(InPlaceHandler, IsCalledOnceOutOfItsPlace) {
    int calls = 0, alive = 0;
    Place place;
    place.emplace(Probe(&calls, &alive));
    EXPECT_FALSE(place.empty());
    EXPECT_EQ(alive, 1);
    place.complete(Place::Completion::call, 5);
    EXPECT_EQ(calls, 5);
    EXPECT_TRUE(place.empty());
    EXPECT_EQ(alive, 0) << "the stored handler and the one called are both gone";
}

TEST(InPlaceHandler, IsDestroyedUncalled) {
    int calls = 0, alive = 0;
    Place place;
    place.emplace(Probe(&calls, &alive));
    place.complete(Place::Completion::destroy, 5);
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(alive, 0);
    EXPECT_TRUE(place.empty());
}

TEST(InPlaceHandler, GoingWithAHandlerStoredDestroysIt) {
    int calls = 0, alive = 0;
    {
        Place place;
        place.emplace(Probe(&calls, &alive));
    }
    EXPECT_EQ(calls, 0);
    EXPECT_EQ(alive, 0);
}

TEST(InPlaceHandler, IsFreeForTheNextHandlerWhileTheFirstRuns) {
    int calls = 0, alive = 0;
    Place place;
    bool stored_again = false;
    place.emplace([&](int) {
        EXPECT_TRUE(place.empty());
        place.emplace(Probe(&calls, &alive));
        stored_again = true;
    });
    place.complete(Place::Completion::call, 0);
    ASSERT_TRUE(stored_again);
    place.complete(Place::Completion::call, 3);
    EXPECT_EQ(calls, 3);
    EXPECT_EQ(alive, 0);
}

// A Probe with an executor of its own, as a coroutine's handler has.
struct ProbeOn {
    using executor_type = asio::io_context::executor_type;
    Probe probe;
    executor_type executor;
    executor_type get_executor() const noexcept { return executor; }
    void operator()(int value) && { std::move(probe)(value); }
};

TEST(InPlaceHandler, PostsToItsOwnExecutor) {
    asio::io_context io;
    int calls = 0, alive = 0;
    Place place;
    place.emplace(ProbeOn{Probe(&calls, &alive), io.get_executor()});
    place.complete(Place::Completion::post, 4);
    EXPECT_TRUE(place.empty());
    EXPECT_EQ(calls, 0) << "not inline";
    io.run();
    EXPECT_EQ(calls, 4);
    EXPECT_EQ(alive, 0);
}

}  // namespace
}  // namespace sluice::proxy
