// ClientCount: what each accepted socket may do, and that every Place gives its count back.
#include "proxy/client_count.hpp"

#include <gtest/gtest.h>

#include <optional>
#include <vector>

namespace sluice::proxy {
namespace {

TEST(ClientCount, AdmittedThenRefusedThenDropped) {
    ClientCount count(2, 1);
    std::vector<ClientCount::Taken> places;
    places.push_back(count.take());
    places.push_back(count.take());
    places.push_back(count.take());
    places.push_back(count.take());
    EXPECT_EQ(places[0].admission, Admission::Admitted);
    EXPECT_EQ(places[1].admission, Admission::Admitted);
    EXPECT_EQ(places[2].admission, Admission::Refused);
    EXPECT_EQ(places[3].admission, Admission::Dropped);
    EXPECT_EQ(count.used(), 4u);
    places.clear();
    EXPECT_EQ(count.used(), 0u);
    EXPECT_EQ(count.take().admission, Admission::Admitted);  // a temporary: given back at once
    EXPECT_EQ(count.used(), 0u);
}

TEST(ClientCount, APlaceFreedIsAdmittedAgain) {
    ClientCount count(1, 0);
    std::optional<ClientCount::Place> first(count.take().place);
    EXPECT_EQ(count.take().admission, Admission::Dropped);
    first.reset();
    EXPECT_EQ(count.take().admission, Admission::Admitted);
}

TEST(ClientCount, MovingAPlaceCountsItOnce) {
    ClientCount count(5, 0);
    {
        auto a = count.take();
        EXPECT_EQ(a.admission, Admission::Admitted);
        ClientCount::Place b(std::move(a.place));
        ClientCount::Place c;
        c = std::move(b);
        EXPECT_EQ(count.used(), 1u);
        c = count.take().place;  // the old place is given back, the new one held
        EXPECT_EQ(count.used(), 1u);
    }
    EXPECT_EQ(count.used(), 0u);
}

}  // namespace
}  // namespace sluice::proxy
