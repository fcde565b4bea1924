// Issue 7, part 4: a client must not tell unknown users from known ones by the exchange or the
// error. md5 mode: the same MD5 challenge, then the same 28P01. scram mode: the same SCRAM
// exchange, with a salt that is stable per unknown name (like PostgreSQL's scram_mock_salt).
#include <gtest/gtest.h>

#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "protocol/startup.hpp"
#include "tests/integration/auth/auth_support.hpp"
#include "tests/integration/proxy/pq.hpp"

namespace sluice::testing::auth {
namespace {

ConnectOptions as(const SluiceProcess& sluice, std::string_view user, std::string_view password) {
    ConnectOptions o;
    o.host = sluice.host();
    o.port = sluice.port();
    o.user = std::string(user);
    o.password = std::string(password);
    o.database = "postgres";
    return o;
}

// libpq's message with the user name taken out.
std::string libpq_failure(const SluiceProcess& sluice, std::string_view user, std::string_view password) {
    auto conn = pq_connect(sluice.conninfo(user, password));
    EXPECT_FALSE(connected(conn.get()));
    return replace_all(conn_error(conn.get()), "\"" + std::string(user) + "\"", "\"<user>\"");
}

TEST(UniformFailure, Md5UnknownUserLooksLikeWrongPassword) {
    SluiceConfig c;
    c.auth_method = "md5";
    SluiceProcess sluice(c);

    auto known = try_login(as(sluice, kMd5Role.user, "wrong"));
    auto unknown = try_login(as(sluice, "nobody_at_all", "wrong"));
    EXPECT_EQ(known.auth_codes, (std::vector<std::int32_t>{5}));
    EXPECT_EQ(unknown.auth_codes, known.auth_codes) << "unknown users get a different exchange";
    EXPECT_EQ(known.sqlstate, "28P01");
    EXPECT_EQ(unknown.sqlstate, known.sqlstate);
    EXPECT_EQ(unknown.message, "password authentication failed for user \"nobody_at_all\"");

    EXPECT_EQ(libpq_failure(sluice, "nobody_at_all", "wrong"), libpq_failure(sluice, kMd5Role.user, "wrong"));
}

TEST(UniformFailure, ScramUnknownUserLooksLikeWrongPassword) {
    SluiceConfig c;
    c.auth_method = "scram-sha-256";
    SluiceProcess sluice(c);

    auto known = try_login(as(sluice, kScramRole.user, "wrong"));
    auto unknown = try_login(as(sluice, "nobody_at_all", "wrong"));
    EXPECT_EQ(known.auth_codes, (std::vector<std::int32_t>{10, 11}));
    EXPECT_EQ(unknown.auth_codes, known.auth_codes);
    EXPECT_EQ(unknown.sqlstate, "28P01");
    EXPECT_EQ(unknown.sqlstate, known.sqlstate);
    EXPECT_EQ(libpq_failure(sluice, "nobody_at_all", "wrong"), libpq_failure(sluice, kScramRole.user, "wrong"));
}

// The salt and iteration count sluice's server-first-message gives `user`, read off the wire.
std::string server_first_salt_and_iterations(const SluiceProcess& sluice, std::string_view user) {
    namespace p = protocol;
    auto client = BlockingClient::connect_tcp(sluice.host(), sluice.port());
    p::StartupMessage startup;
    startup.version = p::kProtocol30;
    startup.parameters = {{"user", std::string(user)}, {"database", "postgres"}};
    std::string out;
    startup.encode(out);
    client.send_raw(out);
    auto sasl = client.read_message();
    EXPECT_EQ(sasl.backend_tag(), p::BackendTag::Authentication);
    out.clear();
    p::SASLInitialResponse{"SCRAM-SHA-256", std::string_view("n,,n=,r=abcdefghijklmnopqrstuvwx")}.encode(out);
    client.send_raw(out);
    auto cont = client.read_message();
    auto auth = p::decode_authentication(cont.body);
    if (!auth || !std::holds_alternative<p::AuthenticationSASLContinue>(*auth)) {
        ADD_FAILURE() << "no SASLContinue for " << user;
        return {};
    }
    std::string first(std::get<p::AuthenticationSASLContinue>(*auth).data);
    return first.substr(first.find(",s="));  // drop the nonce, random per exchange
}

// PostgreSQL's scram_mock_salt: an unknown name always sees the same salt, so probing twice
// does not tell it from a real user (whose salt is stored), and the same iteration count.
TEST(UniformFailure, ScramUnknownUserSaltIsStablePerName) {
    SluiceConfig c;
    c.auth_method = "scram-sha-256";
    SluiceProcess sluice(c);
    auto ghost = server_first_salt_and_iterations(sluice, "nobody_at_all");
    EXPECT_EQ(server_first_salt_and_iterations(sluice, "nobody_at_all"), ghost);
    EXPECT_NE(server_first_salt_and_iterations(sluice, "somebody_else"), ghost);
    auto known = server_first_salt_and_iterations(sluice, kScramRole.user);
    EXPECT_EQ(known.substr(known.find(",i=")), ghost.substr(ghost.find(",i=")));
}

}  // namespace
}  // namespace sluice::testing::auth
