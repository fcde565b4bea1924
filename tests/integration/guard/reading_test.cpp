// Issue 11: the server must read the statement the guard read. Where sluice's parser could read a
// text differently from the server (standard_conforming_strings = off; a client_encoding whose
// characters may hold the bytes of quotes and backslashes), a text with a guarded word and the
// ambiguous bytes is blocked, never guessed at; the rest runs.
#include <gtest/gtest.h>

#include <string>

#include "protocol/frontend.hpp"
#include "tests/integration/guard/guard_support.hpp"

namespace sluice::testing::guard {
namespace {

// With standard_conforming_strings = off the first string runs to "SELECT '" (\' is a quote
// inside it) and DROP TABLE is a statement; with it on, as sluice's parser reads, DROP TABLE is
// inside the second string. Sent as the superuser: if it ran, the table would be gone.
constexpr const char* kTwoReadings = "SELECT 'x\\' ; SELECT '; DROP TABLE g.accounts; --'";

class GuardReading : public ::testing::Test {
protected:
    void SetUp() override { reset_fixture(); }
};

TEST_F(GuardReading, StandardConformingStringsOffBlocksBackslashesNearGuardedWords) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    // With it on, the text is two harmless SELECTs, and runs.
    auto on = c.simple_query(kTwoReadings);
    EXPECT_TRUE(on.ok()) << on.sqlstate();

    ASSERT_TRUE(c.simple_query("SET standard_conforming_strings = off").ok());
    auto off = c.simple_query(kTwoReadings);
    expect_blocked(off, "unparsable", kTwoReadings);
    EXPECT_NE(field(*off.error, protocol::ErrorField::Detail).find("standard_conforming_strings is off"),
              std::string::npos);
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts")[0][0], "5");
    // Backslashes without a guarded word, and guarded words without backslashes, still run.
    EXPECT_TRUE(c.simple_query("SELECT 'a\\\\b'").ok());
    EXPECT_TRUE(c.simple_query("DELETE FROM g.scratch WHERE id = 1").ok());

    ASSERT_TRUE(c.simple_query("SET standard_conforming_strings = on").ok());
    EXPECT_TRUE(c.simple_query(kTwoReadings).ok());
}

TEST_F(GuardReading, ATextSentBeforeTheServerAnsweredASettingChangeIsReadStrictly) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto c = BlockingClient::connect(sluice_client(sluice, kSuperuser));
    // Both in one write: sluice sees the second before the server has reported the new setting.
    std::string out;
    protocol::Query{"SET standard_conforming_strings = off"}.encode(out);
    protocol::Query{kTwoReadings}.encode(out);
    c.send_raw(out);
    auto set = c.read_until_ready();
    ASSERT_FALSE(set.empty());
    EXPECT_NE(set.back().tag, 'E');
    auto second = c.read_until_ready();
    bool blocked = false;
    for (const auto& m : second)
        if (m.tag == 'E') blocked = protocol::ErrorFields::decode(m.body)->code() == "42501";
    EXPECT_TRUE(blocked);
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.accounts")[0][0], "5");
}

TEST_F(GuardReading, AmbiguousClientEncodingsBlockNonAsciiNearGuardedWords) {
    SluiceProcess sluice(guard_config("mode = \"enforce\"\naudit_log = \"off\"\n"));
    auto o = sluice_client(sluice, kSuperuser);
    o.parameters.emplace_back("client_encoding", "SJIS");
    auto c = BlockingClient::connect(o);
    // 0x95 0x5C is one SJIS character whose second byte is a backslash.
    const std::string sjis = "SELECT E'\x95\x5c' ; DELETE FROM g.scratch WHERE id = 1";
    auto r = c.simple_query(sjis);
    expect_blocked(r, "unparsable", "SJIS text");
    EXPECT_NE(field(*r.error, protocol::ErrorField::Hint).find("UTF8"), std::string::npos);
    // ASCII alone reads the same in every encoding; non-ASCII without a guarded word needs no parse.
    EXPECT_TRUE(c.simple_query("DELETE FROM g.scratch WHERE id = 2").ok());
    auto kana = c.simple_query("SELECT '\x82\xa0'");
    EXPECT_TRUE(kana.ok()) << kana.sqlstate();
    EXPECT_EQ(pg().exec_superuser("SELECT count(*) FROM g.scratch")[0][0], "1");

    ASSERT_TRUE(c.simple_query("SET client_encoding = 'UTF8'").ok());
    EXPECT_TRUE(c.simple_query("DELETE FROM g.scratch WHERE v = '\xc3\xa9'").ok());
}

}  // namespace
}  // namespace sluice::testing::guard
