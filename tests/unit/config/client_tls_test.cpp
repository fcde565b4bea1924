// [client_tls]: every problem with the files it names fails the load with the key and the reason.
#include <gtest/gtest.h>

#include "config/load.hpp"
#include "config_test_support.hpp"
#include "tests/support/tls_certs.hpp"

namespace sluice::config {
namespace {

using testing::TlsCerts;

std::string with_tls(const std::string& section) {
    return section + "\n[[databases]]\nname = \"app\"\nurl = \"postgres://h/app\"\n";
}

std::string tls_section(const std::string& mode, const std::string& cert, const std::string& key,
                        const std::string& more = {}) {
    return "[client_tls]\nmode = \"" + mode + "\"\ncert_file = \"" + cert + "\"\nkey_file = \"" + key + "\"\n" + more;
}

TEST(ClientTls, ValidSectionLoads) {
    const auto& c = TlsCerts::shared();
    Config config = test::expect_config(load_string(
        with_tls(tls_section("require", c.server_cert.string(), c.server_key.string(),
                             "ca_file = \"" + c.ca_cert.string() + "\"\nclient_cert = \"verify-full\"\n"
                             "min_protocol = \"TLSv1.3\"\nciphers = \"HIGH:!aNULL\"\n")),
        "tls.toml", test::no_env()));
    EXPECT_EQ(config.client_tls.mode, ClientTlsMode::Require);
    EXPECT_EQ(config.client_tls.client_cert, ClientCertCheck::VerifyFull);
    EXPECT_EQ(config.client_tls.min_protocol, "TLSv1.3");
    EXPECT_EQ(config.client_tls.ciphers, "HIGH:!aNULL");
}

TEST(ClientTls, EveryFileProblemNamesTheKey) {
    const auto& c = TlsCerts::shared();
    const std::string cert = c.server_cert.string(), key = c.server_key.string();
    struct Case {
        std::string toml;
        int line;
        std::string key;
        std::string reason;
    };
    const Case cases[] = {
        {"[client_tls]\nmode = \"require\"\n", 1, "client_tls", "mode \"require\" needs cert_file and key_file"},
        {tls_section("require", "/nonexistent.crt", key), 3, "client_tls.cert_file", "cannot read \"/nonexistent.crt\""},
        {tls_section("require", key, key), 3, "client_tls.cert_file", "holds no PEM certificate"},
        {tls_section("require", cert, cert), 4, "client_tls.key_file", "holds no unencrypted PEM private key"},
        {tls_section("require", cert, c.other_host_key.string()), 4, "client_tls.key_file", "does not match the certificate"},
        {tls_section("prefer", cert, key, "client_cert = \"verify-ca\"\n"), 5, "client_tls.client_cert", "needs ca_file"},
        {tls_section("prefer", cert, key, "mode2 = 1\n"), 5, "client_tls.mode2", "unknown key"},
        {"[client_tls]\nmode = \"verify-full\"\n", 2, "client_tls.mode", "\"require\""},
        {"[client_tls]\nmin_protocol = \"TLSv1.1\"\n", 2, "client_tls.min_protocol", "\"TLSv1.2\""},
    };
    for (const auto& k : cases) {
        SCOPED_TRACE(k.toml);
        auto e = test::expect_one_error(load_string(with_tls(k.toml), "tls.toml", test::no_env()), "tls.toml", k.line,
                                        k.key, k.reason);
        (void)e;
    }
}

}  // namespace
}  // namespace sluice::config
