#include "proxy/prepared_statements.hpp"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

using Kind = Deallocation::Kind;

TEST(FindDeallocation, ReadsTheOneStatementShapes) {
    EXPECT_EQ(find_deallocation("SELECT 1").kind, Kind::None);
    auto one = find_deallocation("DEALLOCATE _pg3_0");
    EXPECT_EQ(one.kind, Kind::One);
    EXPECT_EQ(one.name, "_pg3_0");
    one = find_deallocation("  deallocate prepare \"MixedCase\"\"x\" ; -- done\n");
    EXPECT_EQ(one.kind, Kind::One);
    EXPECT_EQ(one.name, "MixedCase\"x");
    // Unquoted names fold to lower case, as PostgreSQL folds them.
    EXPECT_EQ(find_deallocation("/* c */ DEALLOCATE Foo;").name, "foo");
    EXPECT_EQ(find_deallocation("DEALLOCATE ALL").kind, Kind::All);
    EXPECT_EQ(find_deallocation("deallocate prepare all;").kind, Kind::All);
    EXPECT_EQ(find_deallocation("DISCARD ALL").kind, Kind::All);
}

TEST(FindDeallocation, AnythingElseThatMentionsItIsUnknown) {
    EXPECT_EQ(find_deallocation("DEALLOCATE a; SELECT 1").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("SELECT 1; DISCARD ALL").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("DISCARD PLANS").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("select 'deallocate x'").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("DEALLOCATE /* /* nested */ */ a").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("DEALLOCATE \"unterminated").kind, Kind::Unknown);
    EXPECT_EQ(find_deallocation("DEALLOCATE").kind, Kind::Unknown);
}

TEST(ServerStatementName, DependsOnTextAndTypesOnly) {
    protocol::Parse a{.statement = "s1", .query = "select $1", .parameter_types = {23}};
    protocol::Parse b{.statement = "other", .query = "select $1", .parameter_types = {23}};
    protocol::Parse c{.statement = "s1", .query = "select $1", .parameter_types = {25}};
    protocol::Parse d{.statement = "s1", .query = "select $1", .parameter_types = {}};
    auto sa = make_server_statement(a);
    EXPECT_EQ(sa->name, make_server_statement(b)->name);
    EXPECT_NE(sa->name, make_server_statement(c)->name);
    EXPECT_NE(sa->name, make_server_statement(d)->name);
    EXPECT_EQ(sa->name.size(), 7u + 32u);
    EXPECT_EQ(sa->name.rfind("sluice_", 0), 0u);
    // The Parse sluice sends is the client's under the new name.
    protocol::Parse renamed = a;
    renamed.statement = sa->name;
    std::string expected;
    renamed.encode(expected);
    EXPECT_EQ(sa->parse_message, expected);
}

TEST(ServerStatements, EvictsTheLeastRecentlyUsed) {
    ServerStatements s;
    EXPECT_TRUE(s.add("a", 2).empty());
    EXPECT_TRUE(s.add("b", 2).empty());
    EXPECT_TRUE(s.use("a"));  // b is now the oldest
    auto evicted = s.add("c", 2);
    ASSERT_EQ(evicted.size(), 1u);
    EXPECT_EQ(evicted[0], "b");
    EXPECT_FALSE(s.use("b"));
    EXPECT_TRUE(s.use("a"));
    EXPECT_TRUE(s.use("c"));
    s.erase("a");
    EXPECT_EQ(s.size(), 1u);
    s.forget_all();
    EXPECT_EQ(s.size(), 0u);
    ASSERT_EQ(s.to_close.size(), 1u);
    EXPECT_EQ(s.to_close[0], "c");
}

TEST(ClientStatements, BoundedAndSharedByPointer) {
    ClientStatements c;
    protocol::Parse p{.statement = "n", .query = "select 1", .parameter_types = {}};
    auto st = make_server_statement(p);
    c.add("n", st);
    c.add("m", st);
    EXPECT_EQ(c.find("n"), st);
    EXPECT_EQ(c.find("m"), st);
    EXPECT_EQ(c.find("x"), nullptr);
    c.erase("n");
    EXPECT_EQ(c.find("n"), nullptr);
    EXPECT_EQ(c.size(), 1u);
    EXPECT_FALSE(c.full(*st));
}

}  // namespace
}  // namespace sluice::proxy
