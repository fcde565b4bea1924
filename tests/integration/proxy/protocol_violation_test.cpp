// Issue #3 acceptance, protocol violations: a client that sends garbage after login gets a
// FATAL 08P01 and is disconnected; sluice goes on serving everyone else, and the server
// connection the misbehaving client touched does not leak out of the pool.
#include <gtest/gtest.h>

#include <string>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "tests/integration/proxy/pq.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing {
namespace {

using namespace std::chrono_literals;

// Reads until an ErrorResponse (returned) or the connection closes (nullopt).
std::optional<protocol::ErrorFields> read_error(BlockingClient& c) {
    for (;;) {
        std::optional<Message> m;
        try {
            m = c.read_message_or_eof();
        } catch (const ClientError&) {
            return std::nullopt;
        }
        if (!m) return std::nullopt;
        if (m->backend_tag() == protocol::BackendTag::ErrorResponse) {
            auto fields = protocol::ErrorFields::decode(m->body);
            if (fields) return *fields;
            return std::nullopt;
        }
    }
}

class ProxyProtocolViolation : public ::testing::TestWithParam<std::pair<std::string, std::string>> {};

TEST_P(ProxyProtocolViolation, GarbageAfterLoginIsFatal08P01) {
    const auto& [name, garbage] = GetParam();
    auto config = SluiceConfig::trust();
    config.pool_size = 1;  // a leaked server would starve everyone after
    config.query_wait = "3s";
    SluiceProcess sluice(config);

    auto bystander = pq_connect(sluice.conninfo(kTrustRole.user));
    ASSERT_TRUE(connected(bystander.get())) << conn_error(bystander.get());
    EXPECT_EQ(query_value(bystander.get(), "SELECT 'before'"), "before");

    for (int round = 0; round < 3; ++round) {
        auto rogue = BlockingClient::connect(sluice_client(sluice, kTrustRole));
        ASSERT_TRUE(rogue.simple_query("SELECT 1").ok());
        rogue.set_timeout(5s);
        rogue.send_raw(garbage);
        auto error = read_error(rogue);
        ASSERT_TRUE(error) << name << ": no ErrorResponse before the connection closed";
        EXPECT_EQ(error->code(), "08P01") << name << ": " << error->message();
        EXPECT_EQ(error->severity(), "FATAL") << name;
        EXPECT_TRUE(rogue.wait_closed(5s)) << name << ": the connection stayed open after a FATAL error";

        // Everyone else is still served, on the pool's one server (so it was not leaked).
        auto r = exec_with_deadline(bystander.get(), "SELECT 'after " + std::to_string(round) + "'", 10s);
        ASSERT_TRUE(r.ok()) << name << ": " << r.describe();
        auto fresh = pq_connect(sluice.conninfo(kTrustRole.user));
        ASSERT_TRUE(connected(fresh.get())) << conn_error(fresh.get());
        auto f = exec_with_deadline(fresh.get(), "SELECT 'fresh'", 10s);
        EXPECT_TRUE(f.ok()) << name << ": " << f.describe();
    }
    EXPECT_TRUE(sluice.running());
    EXPECT_LE(pg().count_backends(kTrustRole.user), 1);
}

std::string frame(char tag, const std::string& body) {
    std::string out(1, tag);
    auto len = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((len >> shift) & 0xff));
    return out + body;
}

INSTANTIATE_TEST_SUITE_P(
    Garbage, ProxyProtocolViolation,
    ::testing::Values(
        // Text where a message header belongs: the "length" is 1.7 GB.
        std::make_pair(std::string("text"), std::string("this is not the PostgreSQL protocol\n")),
        // A length shorter than the length field itself.
        std::make_pair(std::string("short_length"), std::string("Q\x00\x00\x00\x02", 5)),
        // A well-framed message of a type no frontend sends.
        std::make_pair(std::string("unknown_type"), frame('z', "junk"))),
    [](const auto& info) { return info.param.first; });

}  // namespace
}  // namespace sluice::testing
