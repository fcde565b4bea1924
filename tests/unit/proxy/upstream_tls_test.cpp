// UpstreamTls: one TLS context per distinct set of TLS settings among the databases' URLs, made at
// start and shared by every pool of those databases (made per pool, a context that verifies with
// the system's roots parsed the whole CA bundle again for each (database, user)).
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "proxy/tls_context.hpp"
#include "proxy/upstream_tls.hpp"
#include "tests/support/tls_certs.hpp"

namespace sluice::proxy {
namespace {

config::Database database(std::string name, config::SslMode mode, std::string rootcert = {}) {
    config::Database d;
    d.name = std::move(name);
    d.upstream.sslmode = mode;
    d.upstream.sslrootcert = std::move(rootcert);
    return d;
}

TEST(UpstreamTls, DatabasesWithTheSameSettingsShareOneContextMadeAtStart) {
    const auto& certs = testing::TlsCerts::shared();
    config::Config config;
    config.databases = {database("a", config::SslMode::VerifyFull, certs.ca_cert.string()),
                        database("b", config::SslMode::VerifyCa, certs.ca_cert.string()),
                        database("c", config::SslMode::VerifyFull, certs.other_ca_cert.string()),
                        database("d", config::SslMode::Prefer), database("e", config::SslMode::Require),
                        database("f", config::SslMode::Disable)};
    const UpstreamTls upstream(config);
    auto tls = [&](std::size_t i) { return upstream.for_url(config.databases[i].upstream); };

    ASSERT_TRUE(tls(0).tls) << tls(0).error;
    EXPECT_EQ(tls(0).tls, tls(0).tls) << "each pool of a database gets the one context";
    EXPECT_EQ(tls(0).tls, tls(1).tls) << "verify-ca and verify-full verify with the same roots";
    ASSERT_TRUE(tls(2).tls) << tls(2).error;
    EXPECT_NE(tls(0).tls, tls(2).tls) << "other roots, another context";
    ASSERT_TRUE(tls(3).tls);
    EXPECT_EQ(tls(3).tls, tls(4).tls) << "prefer and require verify nothing: one context";
    EXPECT_NE(tls(3).tls, tls(0).tls);
    EXPECT_FALSE(tls(5).tls) << "sslmode=disable has none";
    EXPECT_TRUE(tls(5).error.empty());
}

TEST(UpstreamTls, AContextThatCannotBeMadeCarriesWhyForTheConnectionsThatWouldUseIt) {
    config::Config config;
    config.databases = {database("a", config::SslMode::VerifyFull, "/nonexistent/root.crt")};
    const UpstreamTls upstream(config);
    auto made = upstream.for_url(config.databases[0].upstream);
    EXPECT_FALSE(made.tls);
    EXPECT_NE(made.error.find("/nonexistent/root.crt"), std::string::npos) << made.error;
}

TEST(UpstreamTls, AUrlItHasNotSeenGetsAContextOfItsOwn) {
    const UpstreamTls upstream(config::Config{});
    config::UpstreamUrl url;
    url.sslmode = config::SslMode::Require;
    EXPECT_TRUE(upstream.for_url(url).tls);
}

TEST(UpstreamTls, ReloadReadsTheFilesAgainAndKeepsTheRunningContextWhenOneCannotBeRead) {
    const auto& certs = testing::TlsCerts::shared();
    const auto root = certs.dir / "upstream-tls-reload-root.crt";
    std::filesystem::copy_file(certs.ca_cert, root, std::filesystem::copy_options::overwrite_existing);
    config::Config config;
    config.databases = {database("a", config::SslMode::VerifyFull, root.string())};
    UpstreamTls upstream(config);
    const auto& url = config.databases[0].upstream;
    const auto first = upstream.for_url(url).tls;
    ASSERT_TRUE(first);

    // The provider's CA changed: the file now holds another one.
    std::filesystem::copy_file(certs.other_ca_cert, root, std::filesystem::copy_options::overwrite_existing);
    auto reloaded = upstream.reload();
    EXPECT_EQ(reloaded.made, 1u);
    EXPECT_TRUE(reloaded.problems.empty());
    const auto second = upstream.for_url(url).tls;
    ASSERT_TRUE(second);
    EXPECT_NE(second, first) << "the new file is in use";

    // A reload that finds no file says so and keeps what runs.
    std::filesystem::remove(root);
    reloaded = upstream.reload();
    EXPECT_EQ(reloaded.made, 0u);
    ASSERT_EQ(reloaded.problems.size(), 1u);
    EXPECT_NE(reloaded.problems[0].find(root.string()), std::string::npos) << reloaded.problems[0];
    EXPECT_EQ(upstream.for_url(url).tls, second);
}

}  // namespace
}  // namespace sluice::proxy
