// Frontend messages: round trips, byte-exact vectors from the protocol docs, and rejection of
// truncated, padded and inconsistent bodies.
#include "protocol/frontend.hpp"

#include <gtest/gtest.h>

#include <string>

#include "codec_test_util.hpp"
#include "protocol/byte_reader.hpp"

namespace sluice::protocol {
namespace {

using test::expect_frontend_dispatch;
using test::hex;
using test::round_trip;
using test::to_hex;

// Every strict prefix of the body and the body plus one byte must be rejected.
template <class M>
void expect_exact_body_required(std::string_view wire) {
    auto body = wire.substr(5);
    ASSERT_TRUE(M::decode(body)) << to_hex(wire);
    for (std::size_t n = 0; n < body.size(); ++n)
        EXPECT_FALSE(M::decode(body.substr(0, n))) << "prefix of " << n << " bytes of " << to_hex(wire);
    std::string padded(body);
    padded.push_back('\0');
    EXPECT_FALSE(M::decode(padded)) << "trailing byte after " << to_hex(wire);
    padded.back() = 'x';
    EXPECT_FALSE(M::decode(padded)) << "trailing byte after " << to_hex(wire);
}

TEST(Frontend, QueryVectorFromDocs) {
    auto wire = round_trip(Query{"SELECT 1"});
    EXPECT_EQ(to_hex(wire), to_hex(hex("51 00 00 00 0d") + std::string("SELECT 1") + hex("00")));
    expect_exact_body_required<Query>(wire);
    expect_frontend_dispatch(wire);
}

TEST(Frontend, EmptyQueryStringIsAQuery) { round_trip(Query{""}); }

TEST(Frontend, ParseVectorFromDocs) {
    Parse p{"", "SELECT $1", {23}};
    auto wire = round_trip(p);
    EXPECT_EQ(to_hex(wire), to_hex(hex("50 00 00 00 15 00") + "SELECT $1" + hex("00 00 01 00 00 00 17")));
    expect_exact_body_required<Parse>(wire);
    expect_frontend_dispatch(wire);
}

TEST(Frontend, ParseNamedWithManyTypes) {
    Parse p{"stmt_1", "INSERT INTO t VALUES ($1, $2, $3)", {23, 25, 0}};
    expect_exact_body_required<Parse>(round_trip(p));
}

TEST(Frontend, BindWithNullsAndFormats) {
    Bind b{"portal", "stmt", {0, 1}, {std::string_view("42"), std::nullopt}, {1}};
    auto wire = round_trip(b);
    expect_exact_body_required<Bind>(wire);
    expect_frontend_dispatch(wire);
}

TEST(Frontend, BindVectorFromDocs) {
    // Unnamed portal and statement, no formats, one text parameter "7", no result formats.
    Bind b{"", "", {}, {std::string_view("7")}, {}};
    auto wire = round_trip(b);
    EXPECT_EQ(to_hex(wire), to_hex(hex("42 00 00 00 11 00 00 00 00 00 01 00 00 00 01 37 00 00")));
}

TEST(Frontend, BindEmptyValueIsNotNull) {
    Bind b{"", "", {}, {std::string_view("")}, {}};
    auto wire = round_trip(b);
    auto d = Bind::decode(std::string_view(wire).substr(5));
    ASSERT_TRUE(d);
    ASSERT_EQ(d->parameters.size(), 1u);
    ASSERT_TRUE(d->parameters[0].has_value());
    EXPECT_TRUE(d->parameters[0]->empty());
}

TEST(Frontend, BindRejectsNegativeLengthOtherThanNull) {
    auto body = hex("00 00 00 00 00 01 ff ff ff fe 00 00");
    EXPECT_FALSE(Bind::decode(body));
    body = hex("00 00 00 00 00 01 ff ff ff ff 00 00");
    EXPECT_TRUE(Bind::decode(body));
    body = hex("00 00 00 00 00 01 80 00 00 00 00 00");
    EXPECT_FALSE(Bind::decode(body));
}

TEST(Frontend, BindRejectsCountsThatCannotFit) {
    // 65535 parameters announced in a body of a few bytes: rejected before reserving anything.
    EXPECT_FALSE(Bind::decode(hex("00 00 00 00 ff ff 00 00 00 01 41 00 00")));
    EXPECT_FALSE(Bind::decode(hex("00 00 ff ff 00 00 00 00")));
}

TEST(Frontend, BindRejectsFormatCountMismatch) {
    Bind b{"", "", {0, 0}, {std::string_view("1"), std::string_view("2"), std::string_view("3")}, {}};
    std::string wire;
    b.encode(wire);
    EXPECT_FALSE(Bind::decode(std::string_view(wire).substr(5)));
}

TEST(Frontend, BindCountsAreUnsignedLikePostgres) {
    // PostgreSQL accepts up to 65535 parameters; an Int16 count of 40000 is not negative.
    Bind b;
    std::vector<std::string> storage(40000, "x");
    for (const auto& s : storage) b.parameters.emplace_back(s);
    auto wire = round_trip(b);
    EXPECT_EQ(to_hex(wire.substr(9, 2)), "9c 40");  // after tag, length, two empty names, 0 formats
}

TEST(Frontend, EncodingMoreThan65535ValuesThrows) {
    Bind b;
    b.parameters.assign(65536, std::string_view("x"));
    std::string out;
    EXPECT_THROW(b.encode(out), ProtocolException);
}

TEST(Frontend, DescribeAndClose) {
    auto wire = round_trip(Describe{ObjectKind::Portal, "p1"});
    EXPECT_EQ(to_hex(wire), to_hex(hex("44 00 00 00 08 50") + "p1" + hex("00")));
    expect_exact_body_required<Describe>(wire);
    expect_frontend_dispatch(wire);
    wire = round_trip(Close{ObjectKind::Statement, ""});
    EXPECT_EQ(to_hex(wire), to_hex(hex("43 00 00 00 06 53 00")));
    expect_exact_body_required<Close>(wire);
    expect_frontend_dispatch(wire);
    EXPECT_FALSE(Describe::decode(hex("58 00")));
    EXPECT_FALSE(Close::decode(hex("00 00")));
}

TEST(Frontend, Execute) {
    auto wire = round_trip(Execute{"", 0});
    EXPECT_EQ(to_hex(wire), to_hex(hex("45 00 00 00 09 00 00 00 00 00")));
    expect_exact_body_required<Execute>(wire);
    round_trip(Execute{"portal", 100});
    expect_frontend_dispatch(wire);
}

TEST(Frontend, BodylessMessages) {
    EXPECT_EQ(to_hex(round_trip(Sync{})), "53 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(Flush{})), "48 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(Terminate{})), "58 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(CopyDone{})), "63 00 00 00 04");
    EXPECT_FALSE(Sync::decode("x"));
    EXPECT_FALSE(Flush::decode("x"));
    EXPECT_FALSE(Terminate::decode("x"));
    EXPECT_FALSE(CopyDone::decode("x"));
    for (auto w : {"53 00 00 00 04", "48 00 00 00 04", "58 00 00 00 04", "63 00 00 00 04"})
        expect_frontend_dispatch(hex(w));
}

TEST(Frontend, FunctionCall) {
    FunctionCall fc{1598, {1}, {std::string_view("\x00\x01", 2), std::nullopt}, 1};
    auto wire = round_trip(fc);
    expect_exact_body_required<FunctionCall>(wire);
    expect_frontend_dispatch(wire);
    FunctionCall bad{1, {0, 0, 0}, {std::nullopt}, 0};
    std::string out;
    bad.encode(out);
    EXPECT_FALSE(FunctionCall::decode(std::string_view(out).substr(5)));
}

TEST(Frontend, CopyMessages) {
    auto wire = round_trip(CopyData{"1\tone\n"});
    EXPECT_EQ(to_hex(wire), to_hex(hex("64 00 00 00 0a") + "1\tone\n"));
    expect_frontend_dispatch(wire);
    std::string backend;
    CopyData{"x"}.encode_backend(backend);
    EXPECT_EQ(to_hex(backend), "64 00 00 00 05 78");
    backend.clear();
    CopyDone{}.encode_backend(backend);
    EXPECT_EQ(to_hex(backend), "63 00 00 00 04");
    round_trip(CopyData{""});
    wire = round_trip(CopyFail{"aborted by user"});
    expect_exact_body_required<CopyFail>(wire);
    expect_frontend_dispatch(wire);
}

TEST(Frontend, PasswordMessages) {
    auto wire = round_trip(PasswordMessage{"md5a3556571e93b0d20722ba62be61e8c2d"});
    expect_exact_body_required<PasswordMessage>(wire);
    expect_frontend_dispatch(wire, PasswordKind::Password);

    SASLInitialResponse init{"SCRAM-SHA-256", std::string_view("n,,n=,r=abc")};
    wire = round_trip(init);
    EXPECT_EQ(to_hex(wire),
              to_hex(hex("70 00 00 00 21") + "SCRAM-SHA-256" + hex("00 00 00 00 0b") + "n,,n=,r=abc"));
    expect_exact_body_required<SASLInitialResponse>(wire);
    expect_frontend_dispatch(wire, PasswordKind::SASLInitialResponse);

    wire = round_trip(SASLInitialResponse{"SCRAM-SHA-256", std::nullopt});
    EXPECT_EQ(to_hex(wire.substr(wire.size() - 4)), "ff ff ff ff");
    EXPECT_FALSE(SASLInitialResponse::decode(std::string("M\0", 2) + hex("ff ff ff fe")));

    wire = round_trip(SASLResponse{"c=biws,r=abc,p=xyz"});
    expect_frontend_dispatch(wire, PasswordKind::SASLResponse);
}

TEST(Frontend, EmbeddedNulIsNotSentAsPartOfAString) {
    // A NUL inside a string would let the rest be read as other fields; the writer stops at it.
    std::string out;
    Query{std::string_view("SELECT 1\0; DROP TABLE t", 24)}.encode(out);
    auto q = Query::decode(std::string_view(out).substr(5));
    ASSERT_TRUE(q);
    EXPECT_EQ(q->sql, "SELECT 1");
}

TEST(Frontend, UnknownTagIsRejectedByDispatch) {
    EXPECT_FALSE(decode_frontend_message('Z', ""));
    EXPECT_FALSE(decode_frontend_message('\0', ""));
}

}  // namespace
}  // namespace sluice::protocol
