// ErrorResponse / NoticeResponse fields: every field type round-trips, make() output, rejections.
#include "protocol/error_fields.hpp"

#include <gtest/gtest.h>

#include "codec_test_util.hpp"
#include "protocol/sqlstate.hpp"

namespace sluice::protocol {
namespace {

using test::expect_backend_dispatch;
using test::hex;
using test::round_trip;
using test::to_hex;

TEST(ErrorFields, EveryFieldTypeRoundTrips) {
    ErrorFields f;
    const char types[] = {'S', 'V', 'C', 'M', 'D', 'H', 'P', 'p', 'q', 'W', 's', 't', 'c', 'd', 'n', 'F', 'L', 'R'};
    for (char t : types) f.fields.emplace_back(t, std::string("value of ") + t);
    f.fields.emplace_back('Z', "unknown types are kept");
    auto wire = round_trip(ErrorResponse{f});
    expect_backend_dispatch(wire);
    auto notice = round_trip(NoticeResponse{f});
    EXPECT_EQ(notice[0], 'N');
    expect_backend_dispatch(notice);
    auto back = ErrorResponse::decode(std::string_view(wire).substr(5));
    ASSERT_TRUE(back);
    EXPECT_EQ(back->fields.get(ErrorField::Routine), "value of R");
    EXPECT_EQ(back->fields.get(ErrorField::InternalPosition), "value of p");
    EXPECT_EQ(back->fields.get(ErrorField::ConstraintName), "value of n");
    EXPECT_EQ(back->fields.fields.back().first, 'Z');
}

TEST(ErrorFields, VectorFromDocs) {
    ErrorResponse e{ErrorFields::make(Severity::Error, "42601", "x")};
    std::string out;
    e.encode(out);
    EXPECT_EQ(to_hex(out), to_hex(hex("45 00 00 00 1d") + "SERROR" + hex("00") + "VERROR" + hex("00") + "C42601" +
                                  hex("00") + "Mx" + hex("00 00")));
}

TEST(ErrorFields, MakeProducesSeverityCodeMessageDetailHint) {
    auto f = ErrorFields::make(Severity::Fatal, sqlstate::kTooManyConnections, "too many clients", "max 10",
                               "try later");
    ASSERT_EQ(f.fields.size(), 6u);
    EXPECT_EQ(f.fields[0], (std::pair<char, std::string>{'S', "FATAL"}));
    EXPECT_EQ(f.fields[1], (std::pair<char, std::string>{'V', "FATAL"}));
    EXPECT_EQ(f.fields[2], (std::pair<char, std::string>{'C', "53300"}));
    EXPECT_EQ(f.fields[3], (std::pair<char, std::string>{'M', "too many clients"}));
    EXPECT_EQ(f.fields[4], (std::pair<char, std::string>{'D', "max 10"}));
    EXPECT_EQ(f.fields[5], (std::pair<char, std::string>{'H', "try later"}));
    EXPECT_EQ(f.severity(), "FATAL");
    EXPECT_EQ(f.code(), "53300");
    EXPECT_EQ(f.message(), "too many clients");
    auto short_form = ErrorFields::make(Severity::Error, "08P01", "bad");
    EXPECT_EQ(short_form.fields.size(), 4u);
    EXPECT_FALSE(short_form.get(ErrorField::Detail));
    EXPECT_FALSE(short_form.get(ErrorField::Hint));
}

TEST(ErrorFields, SeverityNames) {
    EXPECT_EQ(to_string(Severity::Error), "ERROR");
    EXPECT_EQ(to_string(Severity::Fatal), "FATAL");
    EXPECT_EQ(to_string(Severity::Panic), "PANIC");
    EXPECT_EQ(to_string(Severity::Warning), "WARNING");
    EXPECT_EQ(to_string(Severity::Notice), "NOTICE");
    EXPECT_EQ(to_string(Severity::Debug), "DEBUG");
    EXPECT_EQ(to_string(Severity::Info), "INFO");
    EXPECT_EQ(to_string(Severity::Log), "LOG");
}

TEST(ErrorFields, SeverityPrefersNonLocalized) {
    ErrorFields f;
    f.set(ErrorField::Severity, "FEHLER");
    EXPECT_EQ(f.severity(), "FEHLER");
    f.set(ErrorField::SeverityNonLocalized, "ERROR");
    EXPECT_EQ(f.severity(), "ERROR");
    f.set(ErrorField::Severity, "ERREUR");  // set replaces, it does not add a second field
    EXPECT_EQ(f.fields.size(), 2u);
    EXPECT_EQ(f.get(ErrorField::Severity), "ERREUR");
}

TEST(ErrorFields, AppendError) {
    std::string out;
    append_error(out, Severity::Error, sqlstate::kProtocolViolation, "bad message", "", "a hint");
    auto e = ErrorResponse::decode(std::string_view(out).substr(5));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->fields.code(), "08P01");
    EXPECT_EQ(e->fields.get(ErrorField::Hint), "a hint");
    EXPECT_FALSE(e->fields.get(ErrorField::Detail));
}

TEST(ErrorFields, Rejections) {
    EXPECT_FALSE(ErrorFields::decode(""));                               // no terminator
    EXPECT_FALSE(ErrorFields::decode("SERROR"));                          // unterminated value
    EXPECT_FALSE(ErrorFields::decode(std::string("SERROR\0", 7)));        // no list terminator
    EXPECT_FALSE(ErrorFields::decode(std::string("SERROR\0\0x", 9)));     // trailing bytes
    EXPECT_TRUE(ErrorFields::decode(std::string("\0", 1)));               // empty list is well formed
    EXPECT_FALSE(ErrorResponse::decode("M"));
    EXPECT_FALSE(NoticeResponse::decode("M"));
}

TEST(ErrorFields, ZeroTypeFieldIsNotSent) {
    ErrorFields f;
    f.fields.emplace_back('\0', "would end the list");
    f.fields.emplace_back('M', "kept");
    std::string body;
    f.encode_body(body);
    auto back = ErrorFields::decode(body);
    ASSERT_TRUE(back);
    ASSERT_EQ(back->fields.size(), 1u);
    EXPECT_EQ(back->message(), "kept");
}

}  // namespace
}  // namespace sluice::protocol
