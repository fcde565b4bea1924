#include "config/database_url.hpp"

#include <gtest/gtest.h>

namespace sluice::config {
namespace {

UpstreamUrl parse_ok(std::string_view url) {
    auto parsed = parse_database_url(url);
    if (auto* error = std::get_if<std::string>(&parsed)) {
        ADD_FAILURE() << url << ": " << *error;
        return {};
    }
    return std::get<UpstreamUrl>(parsed);
}

std::string parse_error(std::string_view url) {
    auto parsed = parse_database_url(url);
    if (auto* error = std::get_if<std::string>(&parsed)) return *error;
    ADD_FAILURE() << url << " parsed, expected an error";
    return {};
}

using Hosts = std::vector<HostPort>;

TEST(DatabaseUrl, FullUrl) {
    UpstreamUrl url = parse_ok(
        "postgres://postgres.projref:s3cret@pooler.example.com:6543/postgres?sslmode=verify-full"
        "&sslrootcert=/etc/ssl/ca.pem&sslcert=/c.pem&sslkey=/k.pem&sslsni=0&connect_timeout=10"
        "&options=-c%20search_path%3Dapp&application_name=sluice");
    EXPECT_EQ(url.hosts, (Hosts{{"pooler.example.com", 6543}}));
    EXPECT_EQ(url.user, "postgres.projref");
    EXPECT_EQ(url.password, "s3cret");
    EXPECT_EQ(url.database, "postgres");
    EXPECT_EQ(url.sslmode, SslMode::VerifyFull);
    EXPECT_EQ(url.sslrootcert, "/etc/ssl/ca.pem");
    EXPECT_EQ(url.sslcert, "/c.pem");
    EXPECT_EQ(url.sslkey, "/k.pem");
    EXPECT_FALSE(url.sslsni);
    EXPECT_EQ(url.connect_timeout, std::chrono::seconds(10));
    EXPECT_EQ(url.options, "-c search_path=app");
    ASSERT_EQ(url.parameters.size(), 1u);
    EXPECT_EQ(url.parameters[0], (std::pair<std::string, std::string>{"application_name", "sluice"}));
}

TEST(DatabaseUrl, BothSchemesAndDefaults) {
    for (std::string_view text : {"postgres://db", "postgresql://db", "postgresql://db/", "postgres://db?"}) {
        SCOPED_TRACE(text);
        UpstreamUrl url = parse_ok(text);
        EXPECT_EQ(url.hosts, (Hosts{{"db", 5432}}));
        EXPECT_FALSE(url.user);
        EXPECT_FALSE(url.password);
        EXPECT_FALSE(url.database);
        EXPECT_EQ(url.sslmode, SslMode::Prefer);
        EXPECT_TRUE(url.sslsni);
        EXPECT_FALSE(url.connect_timeout);
        EXPECT_TRUE(url.parameters.empty());
    }
}

TEST(DatabaseUrl, PercentDecodingInCredentialsAndDatabase) {
    UpstreamUrl url = parse_ok("postgres://us%40er:p%40ss%3Aw%2Frd%25@h/my%20db");
    EXPECT_EQ(url.user, "us@er");
    EXPECT_EQ(url.password, "p@ss:w/rd%");
    EXPECT_EQ(url.database, "my db");
    // A raw ':' in the password is fine (only the first one separates the user name).
    EXPECT_EQ(parse_ok("postgres://u:a:b:c@h").password, "a:b:c");
    // '+' is not a space in libpq URIs.
    EXPECT_EQ(parse_ok("postgres://u:a+b@h").password, "a+b");
    // Lower and upper case hex.
    EXPECT_EQ(parse_ok("postgres://u:%2f%2F@h").password, "//");
}

TEST(DatabaseUrl, EmptyUserOrPasswordMeansNone) {
    UpstreamUrl url = parse_ok("postgres://:pw@h");
    EXPECT_FALSE(url.user);
    EXPECT_EQ(url.password, "pw");
    url = parse_ok("postgres://u:@h");
    EXPECT_EQ(url.user, "u");
    EXPECT_FALSE(url.password);
    url = parse_ok("postgres://u@h");
    EXPECT_EQ(url.user, "u");
    EXPECT_FALSE(url.password);
}

TEST(DatabaseUrl, Ipv6Literals) {
    EXPECT_EQ(parse_ok("postgres://[::1]/db").hosts, (Hosts{{"::1", 5432}}));
    EXPECT_EQ(parse_ok("postgres://[::1]:5433/db").hosts, (Hosts{{"::1", 5433}}));
    EXPECT_EQ(parse_ok("postgres://u:p@[2001:db8::7]:6543").hosts, (Hosts{{"2001:db8::7", 6543}}));
    EXPECT_EQ(parse_ok("postgres://[fe80::1%25eth0]:5432").hosts, (Hosts{{"fe80::1%eth0", 5432}}));
    EXPECT_EQ(parse_ok("postgres://[::ffff:10.0.0.1]?sslmode=disable").hosts, (Hosts{{"::ffff:10.0.0.1", 5432}}));
}

TEST(DatabaseUrl, MultipleHosts) {
    EXPECT_EQ(parse_ok("postgres://h1:1,h2,[::1]:5433/db").hosts,
              (Hosts{{"h1", 1}, {"h2", 5432}, {"::1", 5433}}));
    EXPECT_EQ(parse_ok("postgres://h1,h2?port=7000").hosts, (Hosts{{"h1", 7000}, {"h2", 7000}}));
    EXPECT_EQ(parse_ok("postgres://h1,h2?port=7000,7001").hosts, (Hosts{{"h1", 7000}, {"h2", 7001}}));
    EXPECT_EQ(parse_ok("postgres:///db?host=a,b&port=1,2").hosts, (Hosts{{"a", 1}, {"b", 2}}));
    EXPECT_NE(parse_error("postgres://h1,h2,h3?port=1,2").find("could not match 2 port numbers to 3 hosts"),
              std::string::npos);
}

TEST(DatabaseUrl, UnixSockets) {
    // Empty host: the default socket directory.
    EXPECT_EQ(parse_ok("postgres:///db").hosts, (Hosts{{"/var/run/postgresql", 5432}}));
    EXPECT_EQ(parse_ok("postgres://:5433/db").hosts, (Hosts{{"/var/run/postgresql", 5433}}));
    EXPECT_EQ(parse_ok("postgres://").hosts, (Hosts{{"/var/run/postgresql", 5432}}));
    // host= query parameter, and a percent-encoded path in the host position.
    UpstreamUrl url = parse_ok("postgres://u@/db?host=/tmp/sockets&port=5444");
    EXPECT_EQ(url.hosts, (Hosts{{"/tmp/sockets", 5444}}));
    EXPECT_EQ(url.database, "db");
    EXPECT_EQ(parse_ok("postgresql://%2Fvar%2Flib%2Fpostgresql/db").hosts, (Hosts{{"/var/lib/postgresql", 5432}}));
    EXPECT_EQ(parse_ok("postgres:///db?host=%2Frun%2Fpg").hosts, (Hosts{{"/run/pg", 5432}}));
}

TEST(DatabaseUrl, QueryParametersOverrideTheAuthority) {
    UpstreamUrl url = parse_ok("postgres://u:p@h/d?user=u2&password=p%262&dbname=d2&host=h2");
    EXPECT_EQ(url.user, "u2");
    EXPECT_EQ(url.password, "p&2");
    EXPECT_EQ(url.database, "d2");
    EXPECT_EQ(url.hosts, (Hosts{{"h2", 5432}}));
}

TEST(DatabaseUrl, SslModes) {
    const std::pair<std::string_view, SslMode> cases[] = {
        {"disable", SslMode::Disable}, {"allow", SslMode::Allow},         {"prefer", SslMode::Prefer},
        {"require", SslMode::Require}, {"verify-ca", SslMode::VerifyCa}, {"verify-full", SslMode::VerifyFull},
    };
    for (const auto& [text, mode] : cases) {
        SCOPED_TRACE(text);
        EXPECT_EQ(parse_ok("postgres://h?sslmode=" + std::string(text)).sslmode, mode);
    }
    EXPECT_EQ(parse_ok("postgres://h?ssl=true").sslmode, SslMode::Require);
    EXPECT_NE(parse_error("postgres://h?sslmode=verify_full").find("invalid sslmode \"verify_full\""),
              std::string::npos);
    EXPECT_NE(parse_error("postgres://h?sslmode=").find("invalid sslmode"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?sslmode=REQUIRE").find("invalid sslmode"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?ssl=1").find("ssl=true"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?sslsni=yes").find("invalid sslsni"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?sslmod=require").find("unknown URL parameter \"sslmod\""), std::string::npos);
}

TEST(DatabaseUrl, ConnectTimeoutFollowsLibpq) {
    EXPECT_EQ(parse_ok("postgres://h?connect_timeout=10").connect_timeout, std::chrono::seconds(10));
    EXPECT_EQ(parse_ok("postgres://h?connect_timeout=1").connect_timeout, std::chrono::seconds(2));
    EXPECT_EQ(parse_ok("postgres://h?connect_timeout=%2010%20").connect_timeout, std::chrono::seconds(10));
    EXPECT_FALSE(parse_ok("postgres://h?connect_timeout=0").connect_timeout);
    EXPECT_FALSE(parse_ok("postgres://h?connect_timeout=-5").connect_timeout);
    EXPECT_NE(parse_error("postgres://h?connect_timeout=10s").find("invalid connect_timeout"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?connect_timeout=").find("invalid connect_timeout"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?connect_timeout=99999999999999999999").find("invalid connect_timeout"),
              std::string::npos);
}

TEST(DatabaseUrl, OtherParametersBecomeStartupParameters) {
    UpstreamUrl url = parse_ok(
        "postgres://h?application_name=a&client_encoding=UTF8&search_path=app&application_name=b"
        "&fallback_application_name=f");
    std::vector<std::pair<std::string, std::string>> expected{
        {"application_name", "b"}, {"client_encoding", "UTF8"}, {"search_path", "app"}};
    EXPECT_EQ(url.parameters, expected);
    url = parse_ok("postgres://h?fallback_application_name=f");
    EXPECT_EQ(url.parameters, (std::vector<std::pair<std::string, std::string>>{{"application_name", "f"}}));
    // libpq parameters sluice cannot honour are refused, not passed on.
    EXPECT_NE(parse_error("postgres://h?target_session_attrs=read-write").find("not supported"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?gssencmode=disable").find("not supported"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?bad%20name=1").find("invalid URL parameter name"), std::string::npos);
    EXPECT_NE(parse_error("postgres://h?novalue").find("without a value"), std::string::npos);
}

TEST(DatabaseUrl, Rejections) {
    const std::pair<std::string_view, std::string_view> cases[] = {
        {"mysql://u:p@h/db", "unsupported scheme \"mysql\""},
        {"POSTGRES://h", "unsupported scheme"},
        {"postgres:/h", "not a postgres:// URL"},
        {"h:5432", "not a postgres:// URL"},
        {"", "not a postgres:// URL"},
        {"postgres://h:0", "invalid port \"0\""},
        {"postgres://h:65536", "invalid port \"65536\""},
        {"postgres://h:-1", "invalid port"},
        {"postgres://h:54x", "invalid port"},
        {"postgres://h:+5432", "invalid port"},
        {"postgres://h:99999999999999999999", "invalid port"},
        {"postgres://h?port=abc", "invalid port"},
        {"postgres://[::1", "missing \"]\""},
        {"postgres://[]:5432", "empty IPv6"},
        {"postgres://[::1]x", "unexpected character"},
        {"postgres://[not-v6]/db", "invalid IPv6 address"},
        {"postgres://::1/db", "invalid port"},
        {"postgres://h?host=h:5", "invalid host"},
        {"postgres://ho st/db", "invalid host name"},
        {"postgres://u:p%4@h", "invalid percent-encoding in password"},
        {"postgres://u:p%zz@h", "invalid percent-encoding in password"},
        {"postgres://u%00:p@h", "%00"},
        {"postgres://h/d%", "invalid percent-encoding in database name"},
        {"postgres://h?a=%G0", "invalid percent-encoding"},
    };
    for (const auto& [url, reason] : cases) {
        SCOPED_TRACE(url);
        std::string error = parse_error(url);
        EXPECT_NE(error.find(reason), std::string::npos) << error;
    }
}

TEST(DatabaseUrl, ErrorsNeverQuoteThePassword) {
    // A raw '@' or '/' in a password moves the split; the error must not show the fragments.
    for (std::string_view url : {"postgres://user:p@ssw0rd@host/db", "postgres://user:pa/ssw0rd@host/db",
                                 "postgres://user:hunter%zz@host/db"}) {
        SCOPED_TRACE(url);
        std::string error = parse_error(url);
        EXPECT_EQ(error.find("ssw0rd"), std::string::npos) << error;
        EXPECT_EQ(error.find("hunter"), std::string::npos) << error;
    }
    EXPECT_NE(parse_error("postgres://user:p@ss@host/db").find("percent-encoded"), std::string::npos);
}

TEST(DatabaseUrl, Redaction) {
    EXPECT_EQ(redact_database_url("postgres://u:secret@h:5432/db?sslmode=require"),
              "postgres://u:****@h:5432/db?sslmode=require");
    EXPECT_EQ(redact_database_url("postgres://u@h/db"), "postgres://u@h/db");
    EXPECT_EQ(redact_database_url("postgres://h/db"), "postgres://h/db");
    EXPECT_EQ(redact_database_url("postgres://u:a:b@h/db"), "postgres://u:****@h/db");
    EXPECT_EQ(redact_database_url("postgres://h/db?user=u&password=secret&sslmode=require"),
              "postgres://h/db?user=u&password=****&sslmode=require");
    EXPECT_EQ(redact_database_url("postgres://u:s@h/db?password=x"), "postgres://u:****@h/db?password=****");
    EXPECT_EQ(redact_database_url("not a url"), "not a url");
    EXPECT_EQ(redact_database_url("postgres://u:secret@"), "postgres://u:****@");
}

}  // namespace
}  // namespace sluice::config
