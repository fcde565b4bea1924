#include "proxy/session_params.hpp"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

protocol::StartupMessage startup(std::vector<std::pair<std::string, std::string>> params) {
    protocol::StartupMessage m;
    m.parameters = std::move(params);
    return m;
}

TEST(StartupGucs, TakesParametersAndOptionsButNotUserOrDatabase) {
    auto g = startup_gucs(startup({{"user", "app"},
                                   {"database", "db"},
                                   {"application_name", "psql"},
                                   {"extra_float_digits", "2"},
                                   {"options", "-c search_path=a,b --statement-timeout=5s -cwork_mem=64MB"}}));
    ASSERT_TRUE(g.error.empty()) << g.error;
    EXPECT_EQ(g.values.size(), 5u);
    EXPECT_EQ(g.values.at("application_name"), "psql");
    EXPECT_EQ(g.values.at("extra_float_digits"), "2");
    EXPECT_EQ(g.values.at("search_path"), "a,b");
    EXPECT_EQ(g.values.at("statement_timeout"), "5s");
    EXPECT_EQ(g.values.at("work_mem"), "64MB");
    EXPECT_FALSE(g.values.contains("user"));
}

TEST(StartupGucs, BackslashEscapesSpacesInOptions) {
    auto g = startup_gucs(startup({{"user", "u"}, {"options", R"(-c application_name=my\ app)"}}));
    ASSERT_TRUE(g.error.empty());
    EXPECT_EQ(g.values.at("application_name"), "my app");
}

TEST(StartupGucs, RejectsNonGucOptions) {
    EXPECT_FALSE(startup_gucs(startup({{"user", "u"}, {"options", "-f"}})).error.empty());
    EXPECT_FALSE(startup_gucs(startup({{"user", "u"}, {"options", "-c novalue"}})).error.empty());
}

TEST(ParamMap, NamesAreCaseInsensitive) {
    ParamMap m;
    m["TimeZone"] = "UTC";
    m.insert_or_assign("timezone", "Europe/Paris");
    EXPECT_EQ(m.size(), 1u);
    EXPECT_EQ(m.at("TIMEZONE"), "Europe/Paris");
}

TEST(InitialClientParams, OverlaysStartupOnTrackedDefaults) {
    ParamMap defaults{{"TimeZone", "UTC"}, {"server_version", "15.0"}, {"application_name", ""}};
    ParamMap mine{{"timezone", "Asia/Tokyo"}, {"extra_float_digits", "3"}};
    auto p = initial_client_params(defaults, mine);
    EXPECT_EQ(p.at("TimeZone"), "Asia/Tokyo");
    EXPECT_EQ(p.at("application_name"), "");
    EXPECT_EQ(p.at("extra_float_digits"), "3");
    EXPECT_FALSE(p.contains("server_version"));  // not the client's to carry
}

TEST(SyncStatement, NothingWhenEqual) {
    ParamMap client{{"TimeZone", "UTC"}};
    ParamMap server{{"TimeZone", "UTC"}, {"server_version", "15"}};
    EXPECT_EQ(sync_statement(client, server).sql, "");
}

TEST(SyncStatement, SetsDifferencesAndResetsLeftovers) {
    ParamMap client{{"TimeZone", "UTC"}, {"application_name", "it's"}};
    ParamMap server{{"TimeZone", "Europe/Paris"}, {"application_name", "x"}, {"extra_float_digits", "3"},
                    {"is_superuser", "on"}};
    auto sync = sync_statement(client, server);
    const auto& sql = sync.sql;
    EXPECT_EQ(sync.set_names, (std::vector<std::string>{"application_name", "TimeZone"}));
    // Names in case-insensitive order, as GUC names compare.
    EXPECT_EQ(sql,
              "SELECT pg_catalog.set_config('application_name', 'it''s', false), "
              "pg_catalog.set_config('TimeZone', 'UTC', false);RESET \"extra_float_digits\";");
    EXPECT_EQ(server.at("TimeZone"), "UTC");
    EXPECT_FALSE(server.contains("extra_float_digits"));
    EXPECT_TRUE(server.contains("is_superuser"));
    EXPECT_EQ(sync_statement(client, server).sql, "");  // applied: nothing more to do
}

TEST(Quoting, LiteralsAndIdentifiers) {
    EXPECT_EQ(quote_literal("plain"), "'plain'");
    EXPECT_EQ(quote_literal("a'b"), "'a''b'");
    EXPECT_EQ(quote_literal(R"(a\b)"), R"(E'a\\b')");
    EXPECT_EQ(quote_identifier(R"(we"ird)"), R"("we""ird")");
}

}  // namespace
}  // namespace sluice::proxy

namespace sluice::proxy {
namespace {

TEST(Fingerprint, EqualSetsMatchWhateverTheNameCase) {
    ParamMap a{{"TimeZone", "UTC"}, {"application_name", "x"}};
    ParamMap b{{"timezone", "UTC"}, {"APPLICATION_NAME", "x"}};
    EXPECT_EQ(fingerprint(a), fingerprint(b));
    EXPECT_NE(fingerprint(a), 0u);
}

TEST(Fingerprint, AnyDifferenceChangesIt) {
    ParamMap a{{"TimeZone", "UTC"}, {"application_name", "x"}};
    ParamMap b{{"TimeZone", "utc"}, {"application_name", "x"}};  // values are compared exactly
    ParamMap c{{"TimeZone", "UTC"}};
    ParamMap d{{"TimeZone", "UTC"}, {"application_name", "x"}, {"extra_float_digits", "3"}};
    ParamMap e{{"TimeZone", "UTCapplication_name"}, {"x", ""}};  // separators matter
    auto fa = fingerprint(a);
    for (const auto* other : {&b, &c, &d, &e}) EXPECT_NE(fa, fingerprint(*other));
}

}  // namespace
}  // namespace sluice::proxy
