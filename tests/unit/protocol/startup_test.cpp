// Startup-phase packets and protocol version negotiation.
#include "protocol/startup.hpp"

#include <gtest/gtest.h>

#include <string>

#include "codec_test_util.hpp"
#include "protocol/frame_decoder.hpp"

namespace sluice::protocol {
namespace {

using test::hex;
using test::to_hex;

// Frames `wire` with next_untyped() and decodes it.
Result<StartupPacket> decode_wire(std::string_view wire) {
    FrameDecoder d;
    d.feed(wire);
    auto body = d.next_untyped();
    if (!body) return body.error();
    if (!*body) return fail("incomplete packet");
    EXPECT_EQ(d.buffered(), 0u);
    return decode_startup_packet(**body);
}

template <class T>
std::string encoded(const T& p) {
    std::string out;
    p.encode(out);
    return out;
}

TEST(Startup, SslRequestVectorFromDocs) {
    EXPECT_EQ(to_hex(encoded(SslRequest{})), "00 00 00 08 04 d2 16 2f");
    auto p = decode_wire(hex("00 00 00 08 04 d2 16 2f"));
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_TRUE(std::holds_alternative<SslRequest>(*p));
    EXPECT_FALSE(decode_startup_packet(hex("04 d2 16 2f 00")));
}

TEST(Startup, GssEncRequestVectorFromDocs) {
    EXPECT_EQ(to_hex(encoded(GssEncRequest{})), "00 00 00 08 04 d2 16 30");
    auto p = decode_wire(hex("00 00 00 08 04 d2 16 30"));
    ASSERT_TRUE(p);
    EXPECT_TRUE(std::holds_alternative<GssEncRequest>(*p));
    EXPECT_FALSE(decode_startup_packet(hex("04 d2 16 30 00 00 00 00")));
}

TEST(Startup, StartupMessageVectorFromDocs) {
    StartupMessage m{kProtocol30, {{"user", "alice"}, {"database", "shop"}}};
    auto wire = encoded(m);
    auto expected = hex("00 00 00 22 00 03 00 00") + std::string("user\0alice\0database\0shop\0\0", 26);
    EXPECT_EQ(to_hex(wire), to_hex(expected));
    auto p = decode_wire(wire);
    ASSERT_TRUE(p) << p.error().message;
    auto* s = std::get_if<StartupMessage>(&*p);
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->version, kProtocol30);
    EXPECT_EQ(s->user(), "alice");
    EXPECT_EQ(s->database(), "shop");
    EXPECT_EQ(s->get("user"), "alice");
    EXPECT_FALSE(s->get("application_name"));
    EXPECT_EQ(to_hex(encoded(*s)), to_hex(wire));
}

TEST(Startup, DatabaseDefaultsToUser) {
    auto p = decode_wire(encoded(StartupMessage{kProtocol30, {{"user", "bob"}}}));
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<StartupMessage>(*p).database(), "bob");
    p = decode_wire(encoded(StartupMessage{kProtocol30, {{"database", ""}, {"user", "bob"}}}));
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<StartupMessage>(*p).database(), "bob");
}

TEST(Startup, ParameterOrderIsKept) {
    StartupMessage m{kProtocol32, {{"user", "u"}, {"application_name", "psql"}, {"client_encoding", "UTF8"}}};
    auto p = decode_wire(encoded(m));
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<StartupMessage>(*p).parameters, m.parameters);
    EXPECT_EQ(std::get<StartupMessage>(*p).version, kProtocol32);
}

TEST(Startup, StartupMessageRejections) {
    auto v30 = hex("00 03 00 00");
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user\0u\0", 7)));             // no terminator
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user\0u\0\0x", 9)));           // trailing data
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user\0", 5)));                 // no value
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user", 4)));                   // unterminated name
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("database\0d\0\0", 12)));       // no user
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user\0\0\0", 7)));             // empty user
    EXPECT_FALSE(decode_startup_packet(v30 + std::string("user\0a\0user\0b\0\0", 15)));  // repeated
    EXPECT_FALSE(decode_startup_packet(v30));
    EXPECT_FALSE(decode_startup_packet(hex("00 03")));
    EXPECT_FALSE(decode_startup_packet(""));
}

TEST(Startup, MajorVersionOtherThanThreeIsRejected) {
    auto params = std::string("user\0u\0\0", 8);
    EXPECT_FALSE(decode_startup_packet(hex("00 02 00 00") + params));
    EXPECT_FALSE(decode_startup_packet(hex("00 04 00 00") + params));
    EXPECT_FALSE(decode_startup_packet(hex("00 00 00 00") + params));
    auto r = decode_startup_packet(hex("00 02 00 00") + params);
    EXPECT_NE(r.error().message.find("unsupported frontend protocol 2.0"), std::string::npos);
    EXPECT_TRUE(decode_startup_packet(hex("00 03 00 07") + params)) << "minor versions are negotiated, not rejected";
}

TEST(Startup, CancelRequestWithFourByteKey) {
    CancelRequest c{1234, std::string("\xde\xad\xbe\xef", 4)};
    auto wire = encoded(c);
    EXPECT_EQ(to_hex(wire), "00 00 00 10 04 d2 16 2e 00 00 04 d2 de ad be ef");
    auto p = decode_wire(wire);
    ASSERT_TRUE(p);
    auto* back = std::get_if<CancelRequest>(&*p);
    ASSERT_NE(back, nullptr);
    EXPECT_EQ(back->process_id, 1234);
    EXPECT_EQ(back->secret_key, c.secret_key);
    EXPECT_EQ(to_hex(encoded(*back)), to_hex(wire));
}

TEST(Startup, CancelRequestWith32ByteKey) {
    // Protocol 3.2 (PostgreSQL 18) servers hand out 32-byte keys.
    std::string key;
    for (int i = 0; i < 32; ++i) key.push_back(static_cast<char>(i * 7));
    CancelRequest c{99, key};
    auto wire = encoded(c);
    EXPECT_EQ(wire.size(), 12u + 32u);
    EXPECT_EQ(to_hex(wire.substr(0, 4)), "00 00 00 2c");
    auto p = decode_wire(wire);
    ASSERT_TRUE(p);
    EXPECT_EQ(std::get<CancelRequest>(*p).secret_key, key);
    EXPECT_EQ(to_hex(encoded(std::get<CancelRequest>(*p))), to_hex(wire));
}

TEST(Startup, CancelRequestKeyLengthLimits) {
    auto code_pid = hex("04 d2 16 2e 00 00 00 01");
    EXPECT_FALSE(decode_startup_packet(code_pid));                            // 0-byte key
    EXPECT_TRUE(decode_startup_packet(code_pid + std::string(256, 'k')));     // the maximum
    EXPECT_FALSE(decode_startup_packet(code_pid + std::string(257, 'k')));    // above it
    EXPECT_FALSE(decode_startup_packet(hex("04 d2 16 2e 00 00")));           // truncated pid
    EXPECT_TRUE(decode_wire(encoded(CancelRequest{1, std::string(256, 'k')})));
}

TEST(Startup, PacketsAreToldApart) {
    std::string stream;
    SslRequest{}.encode(stream);
    GssEncRequest{}.encode(stream);
    CancelRequest{5, "abcd"}.encode(stream);
    StartupMessage{kProtocol30, {{"user", "u"}}}.encode(stream);
    FrameDecoder d;
    d.feed(stream);
    std::vector<std::size_t> kinds;
    for (;;) {
        auto body = d.next_untyped();
        ASSERT_TRUE(body);
        if (!*body) break;
        auto p = decode_startup_packet(**body);
        ASSERT_TRUE(p) << p.error().message;
        kinds.push_back(p->index());
    }
    EXPECT_EQ(kinds, (std::vector<std::size_t>{1, 2, 3, 0}));
}

TEST(Startup, ClientAsks32ServerSupports32) {
    StartupMessage m{kProtocol32, {{"user", "u"}}};
    auto n = negotiate_version(m, kProtocol32);
    EXPECT_EQ(n.use, kProtocol32);
    EXPECT_FALSE(n.send_negotiate);
    EXPECT_TRUE(n.unsupported_options.empty());
}

TEST(Startup, ClientAsks32ServerSupports30) {
    StartupMessage m{kProtocol32, {{"user", "u"}}};
    auto n = negotiate_version(m, kProtocol30);
    EXPECT_EQ(n.use, kProtocol30);
    EXPECT_TRUE(n.send_negotiate);
    EXPECT_TRUE(n.unsupported_options.empty());
}

TEST(Startup, ClientAsks30IsServedAt30) {
    auto n = negotiate_version(StartupMessage{kProtocol30, {{"user", "u"}}}, kProtocol32);
    EXPECT_EQ(n.use, kProtocol30);
    EXPECT_FALSE(n.send_negotiate);
}

TEST(Startup, ProtocolOptionsAreReported) {
    StartupMessage m{kProtocol30, {{"user", "u"}, {"_pq_.compression", "on"}, {"_pq_.other", "x"}}};
    auto n = negotiate_version(m, kProtocol32);
    EXPECT_EQ(n.use, kProtocol30);
    EXPECT_TRUE(n.send_negotiate);
    EXPECT_EQ(n.unsupported_options, (std::vector<std::string>{"_pq_.compression", "_pq_.other"}));
}

TEST(Startup, NewerMinorThanKnownIsServedAtHighestSupported) {
    auto n = negotiate_version(StartupMessage{ProtocolVersion{3, 9}, {{"user", "u"}}}, kProtocol32);
    EXPECT_EQ(n.use, kProtocol32);
    EXPECT_TRUE(n.send_negotiate);
}

}  // namespace
}  // namespace sluice::protocol
