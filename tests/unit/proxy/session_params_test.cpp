#include "proxy/session_params.hpp"

#include <gtest/gtest.h>

#include "protocol/sql/byte_masks.hpp"

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

TEST(LocalSettingsStatement, NothingWhenTheClientHasTheDefaults) {
    ParamMap defaults{{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}};
    ParamMap client{{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}, {"application_name", "psql"}};
    EXPECT_EQ(local_settings_statement(client, defaults, {}), "");
}

TEST(LocalSettingsStatement, ClientDifferencesAndTouchedSettingsForOneTransaction) {
    ParamMap defaults{{"TimeZone", "UTC"}, {"DateStyle", "ISO, MDY"}};
    // statement_timeout came with the startup packet (not a reported parameter: no default known).
    ParamMap client{{"TimeZone", "Asia/Tokyo"}, {"DateStyle", "ISO, MDY"}, {"statement_timeout", "1234ms"},
                    {"application_name", "app"}, {"is_superuser", "on"}};
    // Another client SET search_path and DateStyle: they may linger on the upstream's backends.
    ParamMap touched{{"search_path", "\"$user\", public"}, {"DateStyle", "ISO, MDY"}};
    EXPECT_EQ(local_settings_statement(client, defaults, touched),
              "SELECT WHERE pg_catalog.set_config('DateStyle', 'ISO, MDY', true) IS NULL"
              " OR pg_catalog.set_config('statement_timeout', '1234ms', true) IS NULL"
              " OR pg_catalog.set_config('TimeZone', 'Asia/Tokyo', true) IS NULL"
              " OR pg_catalog.set_config('search_path', '\"$user\", public', true) IS NULL");
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

namespace sluice::proxy {
namespace {

// Each case on both paths the machine may take: SSE2, and AVX2 where it has it (elsewhere the
// second run takes SSE2 again).
class MayChangeRole : public testing::TestWithParam<bool> {
protected:
    void SetUp() override { sql::bytes::set_use_avx2(GetParam()); }
    void TearDown() override { sql::bytes::set_use_avx2(true); }
};

// may_change_role: a word-at-a-time prefilter, then an exact scan. Every position a keyword may
// start at, in both cases, with text on both sides, must be found; ordinary SQL must not.
TEST_P(MayChangeRole, FindsTheKeywordsAtEveryOffset) {
    for (std::string_view keyword : {"set role admin", "SET ROLE admin", "Set Session Authorization bob",
                                      "select set_config('role', 'x', false)", "reset role", "rOlE"}) {
        for (std::size_t pad = 0; pad < 80; ++pad) {
            for (std::size_t tail = 0; tail < 10; ++tail) {
                std::string sql = std::string(pad, ' ') + std::string(keyword) + std::string(tail, ';');
                EXPECT_TRUE(may_change_role(sql)) << "'" << sql << "'";
            }
        }
    }
}

TEST_P(MayChangeRole, OrdinarySqlIsNotFlagged) {
    for (std::string_view sql : {"", "s", "SELECT abalance FROM pgbench_accounts WHERE aid = 12345;",
                                 "UPDATE pgbench_tellers SET tbalance = tbalance + 1 WHERE tid = 3;",
                                 "select rol from t", "insert into x values ('ole')", "BEGIN", "COMMIT"}) {
        EXPECT_FALSE(may_change_role(sql)) << "'" << sql << "'";
    }
    // The prefilter's hints alone are not enough: "ol" and 'z' without a keyword.
    EXPECT_FALSE(may_change_role("select bool_or(x), 'zz' from pool"));
}

INSTANTIATE_TEST_SUITE_P(Paths, MayChangeRole, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Avx2" : "Sse2"; });

}  // namespace
}  // namespace sluice::proxy
