// Backend messages: round trips, byte-exact vectors from the protocol docs, and rejections.
#include "protocol/backend.hpp"

#include <gtest/gtest.h>

#include <string>

#include "codec_test_util.hpp"

namespace sluice::protocol {
namespace {

using test::expect_backend_dispatch;
using test::hex;
using test::round_trip;
using test::to_hex;

template <class M>
void expect_exact_body_required(std::string_view wire) {
    auto body = wire.substr(5);
    ASSERT_TRUE(M::decode(body)) << to_hex(wire);
    for (std::size_t n = 0; n < body.size(); ++n)
        EXPECT_FALSE(M::decode(body.substr(0, n))) << "prefix of " << n << " bytes of " << to_hex(wire);
    std::string padded(body);
    padded.push_back('\0');
    EXPECT_FALSE(M::decode(padded)) << "trailing byte after " << to_hex(wire);
}

// ---- Authentication
std::string auth_wire(const Authentication& a) {
    std::string out;
    encode_authentication(a, out);
    return out;
}

void expect_auth_round_trip(const Authentication& a, bool prefixes_fail = true) {
    auto wire = auth_wire(a);
    FrameDecoder d;
    d.feed(wire);
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->tag, 'R');
    auto back = decode_authentication((*f)->body);
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_TRUE(*back == a);
    EXPECT_EQ(to_hex(auth_wire(*back)), to_hex(wire));
    expect_backend_dispatch(wire);
    auto body = std::string_view(wire).substr(5);
    if (!prefixes_fail) return;
    for (std::size_t n = 0; n < body.size(); ++n) {
        EXPECT_FALSE(decode_authentication(body.substr(0, n)));
    }
    EXPECT_FALSE(decode_authentication(std::string(body) + '\0'));
}

TEST(Backend, AuthenticationOkVectorFromDocs) {
    EXPECT_EQ(to_hex(auth_wire(AuthenticationOk{})), "52 00 00 00 08 00 00 00 00");
    expect_auth_round_trip(AuthenticationOk{});
}

TEST(Backend, AuthenticationMD5VectorFromDocs) {
    auto wire = auth_wire(AuthenticationMD5Password{"\x01\x02\x03\x04"});
    EXPECT_EQ(to_hex(wire), "52 00 00 00 0c 00 00 00 05 01 02 03 04");
    expect_auth_round_trip(AuthenticationMD5Password{"abcd"});
    EXPECT_FALSE(decode_authentication(hex("00 00 00 05 01 02 03")));
}

TEST(Backend, AuthenticationSASLVectorFromDocs) {
    AuthenticationSASL sasl{{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-256"}};
    auto wire = auth_wire(sasl);
    EXPECT_EQ(to_hex(wire), to_hex(hex("52 00 00 00 2a 00 00 00 0a") + "SCRAM-SHA-256-PLUS" + hex("00") +
                                   "SCRAM-SHA-256" + hex("00 00")));
    expect_auth_round_trip(sasl);
}

TEST(Backend, EveryAuthenticationRequest) {
    expect_auth_round_trip(AuthenticationKerberosV5{});
    expect_auth_round_trip(AuthenticationCleartextPassword{});
    expect_auth_round_trip(AuthenticationGSS{});
    expect_auth_round_trip(AuthenticationSSPI{});
    // Opaque tails accept any prefix: only check the round trip.
    expect_auth_round_trip(AuthenticationGSSContinue{"token"}, false);
    expect_auth_round_trip(AuthenticationSASLContinue{"r=abc,s=c2FsdA==,i=4096"}, false);
    expect_auth_round_trip(AuthenticationSASLFinal{"v=c2lnbmF0dXJl"}, false);
}

TEST(Backend, AuthenticationRejectsUnknownCodes) {
    EXPECT_FALSE(decode_authentication(hex("00 00 00 06")));  // SCMCredential: not supported
    EXPECT_FALSE(decode_authentication(hex("00 00 00 0d")));
    EXPECT_FALSE(decode_authentication(hex("ff ff ff ff")));
    EXPECT_FALSE(decode_authentication(""));
}

// ---- The rest
TEST(Backend, ReadyForQueryVectorFromDocs) {
    auto wire = round_trip(ReadyForQuery{TxStatus::Idle});
    EXPECT_EQ(to_hex(wire), "5a 00 00 00 05 49");
    expect_exact_body_required<ReadyForQuery>(wire);
    expect_backend_dispatch(wire);
    EXPECT_EQ(to_hex(round_trip(ReadyForQuery{TxStatus::InTransaction})), "5a 00 00 00 05 54");
    EXPECT_EQ(to_hex(round_trip(ReadyForQuery{TxStatus::InFailedTransaction})), "5a 00 00 00 05 45");
    EXPECT_FALSE(ReadyForQuery::decode("X"));
}

TEST(Backend, BackendKeyDataWithBothKeyLengths) {
    auto wire = round_trip(BackendKeyData{1234, "\x0a\x0b\x0c\x0d"});
    EXPECT_EQ(to_hex(wire), "4b 00 00 00 0c 00 00 04 d2 0a 0b 0c 0d");
    expect_backend_dispatch(wire);
    std::string key32(32, '\x5a');
    auto wire32 = round_trip(BackendKeyData{-5, key32});
    EXPECT_EQ(wire32.size(), 1u + 4 + 4 + 32);
    std::string key256(256, 'k');
    round_trip(BackendKeyData{7, key256});
    EXPECT_FALSE(BackendKeyData::decode(hex("00 00 04 d2")));                       // no key
    EXPECT_FALSE(BackendKeyData::decode(hex("00 00 04 d2") + std::string(257, 'k')));  // too long
    EXPECT_FALSE(BackendKeyData::decode(hex("00 00 04")));
    std::string out;
    EXPECT_THROW((BackendKeyData{1, ""}.encode(out)), ProtocolException);
}

TEST(Backend, ParameterStatus) {
    auto wire = round_trip(ParameterStatus{"client_encoding", "UTF8"});
    EXPECT_EQ(to_hex(wire), to_hex(hex("53 00 00 00 19") + "client_encoding" + hex("00") + "UTF8" + hex("00")));
    expect_exact_body_required<ParameterStatus>(wire);
    expect_backend_dispatch(wire);
}

TEST(Backend, RowDescription) {
    RowDescription rd{{FieldDescription{"id", 16384, 1, 23, 4, -1, 0},
                       FieldDescription{"name", 16384, 2, 25, -1, -1, 0}, FieldDescription{"", 0, 0, 17, -1, -1, 1}}};
    auto wire = round_trip(rd);
    expect_exact_body_required<RowDescription>(wire);
    expect_backend_dispatch(wire);
    // "?column?" int4 as psql's SELECT 1 sees it, written from the docs.
    auto one = round_trip(RowDescription{{FieldDescription{"?column?", 0, 0, 23, 4, -1, 0}}});
    EXPECT_EQ(to_hex(one), to_hex(hex("54 00 00 00 21 00 01") + "?column?" +
                                  hex("00 00 00 00 00 00 00 00 00 00 17 00 04 ff ff ff ff 00 00")));
    round_trip(RowDescription{});
    EXPECT_FALSE(RowDescription::decode(hex("ff ff 00 00 00 00")));
}

TEST(Backend, DataRowWithNullAndEmpty) {
    DataRow row{{std::string_view("1"), std::nullopt, std::string_view("")}};
    auto wire = round_trip(row);
    EXPECT_EQ(to_hex(wire), "44 00 00 00 13 00 03 00 00 00 01 31 ff ff ff ff 00 00 00 00");
    expect_exact_body_required<DataRow>(wire);
    expect_backend_dispatch(wire);
    EXPECT_FALSE(DataRow::decode(hex("00 01 ff ff ff fe")));
    EXPECT_FALSE(DataRow::decode(hex("00 01 7f ff ff ff 00")));  // length far beyond the body
    EXPECT_FALSE(DataRow::decode(hex("ff ff")));
    round_trip(DataRow{});
}

TEST(Backend, CommandComplete) {
    auto wire = round_trip(CommandComplete{"SELECT 1"});
    EXPECT_EQ(to_hex(wire), to_hex(hex("43 00 00 00 0d") + "SELECT 1" + hex("00")));
    expect_exact_body_required<CommandComplete>(wire);
    expect_backend_dispatch(wire);
}

TEST(Backend, BodylessMessages) {
    EXPECT_EQ(to_hex(round_trip(EmptyQueryResponse{})), "49 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(ParseComplete{})), "31 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(BindComplete{})), "32 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(CloseComplete{})), "33 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(NoData{})), "6e 00 00 00 04");
    EXPECT_EQ(to_hex(round_trip(PortalSuspended{})), "73 00 00 00 04");
    EXPECT_FALSE(NoData::decode("x"));
    for (auto w : {"49 00 00 00 04", "31 00 00 00 04", "32 00 00 00 04", "33 00 00 00 04", "6e 00 00 00 04",
                   "73 00 00 00 04", "63 00 00 00 04"})
        expect_backend_dispatch(hex(w));
}

TEST(Backend, ParameterDescription) {
    auto wire = round_trip(ParameterDescription{{23, 25}});
    EXPECT_EQ(to_hex(wire), "74 00 00 00 0e 00 02 00 00 00 17 00 00 00 19");
    expect_exact_body_required<ParameterDescription>(wire);
    expect_backend_dispatch(wire);
    round_trip(ParameterDescription{});
}

TEST(Backend, NotificationResponse) {
    auto wire = round_trip(NotificationResponse{4242, "jobs", "payload"});
    expect_exact_body_required<NotificationResponse>(wire);
    expect_backend_dispatch(wire);
    round_trip(NotificationResponse{1, "c", ""});
}

TEST(Backend, CopyResponses) {
    auto in = round_trip(CopyInResponse{0, {0, 0}});
    EXPECT_EQ(to_hex(in), "47 00 00 00 0b 00 00 02 00 00 00 00");
    expect_exact_body_required<CopyInResponse>(in);
    expect_backend_dispatch(in);
    auto out = round_trip(CopyOutResponse{1, {1}});
    EXPECT_EQ(to_hex(out), "48 00 00 00 09 01 00 01 00 01");
    expect_backend_dispatch(out);
    auto both = round_trip(CopyBothResponse{0, {}});
    EXPECT_EQ(to_hex(both), "57 00 00 00 07 00 00 00");
    expect_backend_dispatch(both);
    EXPECT_FALSE(CopyOutResponse::decode(hex("00 00 05 00 00")));
}

TEST(Backend, CopyDataFromServer) {
    std::string wire;
    CopyData{"1\n"}.encode_backend(wire);
    expect_backend_dispatch(wire);
}

TEST(Backend, FunctionCallResponse) {
    auto wire = round_trip(FunctionCallResponse{std::string_view("abc")});
    EXPECT_EQ(to_hex(wire), "56 00 00 00 0b 00 00 00 03 61 62 63");
    expect_exact_body_required<FunctionCallResponse>(wire);
    expect_backend_dispatch(wire);
    EXPECT_EQ(to_hex(round_trip(FunctionCallResponse{std::nullopt})), "56 00 00 00 08 ff ff ff ff");
    EXPECT_FALSE(FunctionCallResponse::decode(hex("ff ff ff fe")));
}

TEST(Backend, NegotiateProtocolVersion) {
    auto wire = round_trip(NegotiateProtocolVersion{0, {"_pq_.foo", "_pq_.bar"}});
    EXPECT_EQ(to_hex(wire), to_hex(hex("76 00 00 00 1e 00 00 00 00 00 00 00 02") + "_pq_.foo" + hex("00") +
                                   "_pq_.bar" + hex("00")));
    expect_exact_body_required<NegotiateProtocolVersion>(wire);
    expect_backend_dispatch(wire);
    round_trip(NegotiateProtocolVersion{2, {}});
    EXPECT_FALSE(NegotiateProtocolVersion::decode(hex("00 00 00 00 ff ff ff ff")));
    EXPECT_FALSE(NegotiateProtocolVersion::decode(hex("00 00 00 00 7f ff ff ff 00")));
}

TEST(Backend, UnknownTagIsRejectedByDispatch) {
    EXPECT_FALSE(decode_backend_message('Q', ""));
    EXPECT_FALSE(decode_backend_message('p', ""));
}

}  // namespace
}  // namespace sluice::protocol
