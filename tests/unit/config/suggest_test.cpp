#include "config/suggest.hpp"

#include <gtest/gtest.h>

#include <array>

namespace sluice::config {
namespace {

constexpr std::array<std::string_view, 6> kKeys{"address", "port", "workers", "max_client_connections",
                                                "server_lifetime", "server_idle_timeout"};

TEST(Suggest, TyposFindTheKey) {
    EXPECT_EQ(closest_match("adress", kKeys), "address");
    EXPECT_EQ(closest_match("addrses", kKeys), "address");      // transposition
    EXPECT_EQ(closest_match("Port", kKeys), "port");            // case
    EXPECT_EQ(closest_match("max_client_conections", kKeys), "max_client_connections");
    EXPECT_EQ(closest_match("worker", kKeys), "workers");
    EXPECT_EQ(closest_match("max_clients", kKeys), "max_client_connections");  // shortened
    EXPECT_EQ(closest_match("server_life", kKeys), "server_lifetime");
}

TEST(Suggest, UnrelatedWordsFindNothing) {
    EXPECT_FALSE(closest_match("guard", kKeys));
    EXPECT_FALSE(closest_match("x", kKeys));
    EXPECT_FALSE(closest_match("", kKeys));
    EXPECT_FALSE(closest_match(std::string(1000, 'a'), kKeys));
    EXPECT_FALSE(closest_match("tls", kKeys));
}

}  // namespace
}  // namespace sluice::config
