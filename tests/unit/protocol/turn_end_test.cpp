#include "protocol/turn_end.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

namespace sluice::protocol {
namespace {

std::string message(char tag, const std::string& body) {
    std::string m(1, tag);
    auto len = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8) m += static_cast<char>((len >> shift) & 0xff);
    return m + body;
}

const std::string kQuery = message('Q', std::string("SELECT 1") + '\0');
const std::string kSync = message('S', "");
const std::string kReady = message('Z', "I");

TEST(TurnEnd, EndsAfterAWholeTurnEndingMessage) {
    EXPECT_TRUE(ends_turn(kQuery, kClientTurnEnd));
    EXPECT_TRUE(ends_turn(message('P', std::string(3, '\0')) + message('B', std::string(10, 'x')) + kSync, kClientTurnEnd));
    EXPECT_TRUE(ends_turn(message('D', "row") + message('C', "SELECT 1") + kReady, kServerTurnEnd));
}

TEST(TurnEnd, NotWhenTheLastMessageHandsNoTurn) {
    EXPECT_FALSE(ends_turn(kQuery + message('P', "x"), kClientTurnEnd));  // pipelined Parse, no Sync yet
    EXPECT_FALSE(ends_turn(message('d', "copy"), kClientTurnEnd));
    EXPECT_FALSE(ends_turn(message('D', "row"), kServerTurnEnd));
    EXPECT_FALSE(ends_turn(kQuery, kServerTurnEnd));
    EXPECT_FALSE(ends_turn(kReady, TurnEnd{}));
    EXPECT_FALSE(ends_turn("", kClientTurnEnd));
}

TEST(TurnEnd, NotInsideAMessage) {
    for (std::size_t cut = 1; cut < kReady.size(); ++cut)
        EXPECT_FALSE(ends_turn(message('C', "SELECT 1") + kReady.substr(0, cut), kServerTurnEnd)) << cut;
    EXPECT_FALSE(ends_turn(kQuery + kSync.substr(0, 3), kClientTurnEnd));
}

TEST(TurnEnd, LengthsThatRunPastTheEndOrAreBroken) {
    // A message announcing ~4 GiB: the walk stops, it does not wrap around.
    EXPECT_FALSE(ends_turn(std::string("d\xff\xff\xff\xff", 5) + "QQQQ", kClientTurnEnd));
    EXPECT_FALSE(ends_turn(std::string("S\0\0\0\x03", 5), kClientTurnEnd));  // length < 4
    EXPECT_FALSE(ends_turn(std::string("Q\0\0\0\0", 5), kClientTurnEnd));
}

std::string packet(const std::string& body) {  // untyped: a length that counts itself, then the body
    auto len = static_cast<std::uint32_t>(body.size() + 4);
    std::string m;
    for (int shift = 24; shift >= 0; shift -= 8) m += static_cast<char>((len >> shift) & 0xff);
    return m + body;
}

TEST(TurnEnd, EveryWholeStartupPacketEndsTheClientsTurn) {
    const std::string ssl_request = packet(std::string("\x04\xd2\x16\x2f", 4));
    const std::string startup = packet(std::string("\0\x03\0\0user\0u\0\0", 12));  // protocol 3.0, user=u
    EXPECT_TRUE(ends_turn(ssl_request, kStartupTurnEnd));
    EXPECT_TRUE(ends_turn(startup, kStartupTurnEnd));
    EXPECT_TRUE(ends_turn(ssl_request + startup, kStartupTurnEnd));
    for (std::size_t cut = 1; cut < startup.size(); ++cut)
        EXPECT_FALSE(ends_turn(startup.substr(0, cut), kStartupTurnEnd)) << cut;
    EXPECT_FALSE(ends_turn("", kStartupTurnEnd));
    EXPECT_FALSE(ends_turn(std::string("\0\0\0\x03", 4), kStartupTurnEnd));  // length < 4
    EXPECT_FALSE(ends_turn(std::string("\xff\xff\xff\xff", 4) + "abcd", kStartupTurnEnd));
}

TEST(TurnEnd, APasswordOrSaslMessageEndsTheClientsTurn) {
    EXPECT_TRUE(ends_turn(message('p', std::string("secret") + '\0'), kPasswordTurnEnd));
    EXPECT_FALSE(ends_turn(kQuery, kPasswordTurnEnd));
    EXPECT_FALSE(ends_turn(message('p', "x").substr(0, 4), kPasswordTurnEnd));
}

}  // namespace
}  // namespace sluice::protocol
