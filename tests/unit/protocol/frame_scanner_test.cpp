// FrameScanner: the inspected messages and where they end do not depend on how the stream is cut.
#include "protocol/frame_scanner.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"

namespace sluice::protocol {
namespace {

using test::hex;

struct Inspected {
    char tag;
    std::string body;
    std::size_t end;  // absolute offset in the stream just past the message
    friend bool operator==(const Inspected&, const Inspected&) = default;
};

std::bitset<256> tags(std::string_view ts) {
    std::bitset<256> b;
    for (char t : ts) b.set(static_cast<unsigned char>(t));
    return b;
}

// Scans `stream` cut at the given offsets; returns what was inspected.
std::vector<Inspected> scan_cut(std::string_view stream, const std::vector<std::size_t>& cuts,
                                std::bitset<256> inspect, bool* at_boundary = nullptr) {
    FrameScanner s(inspect, 1 << 20);
    std::vector<Inspected> out;
    std::size_t start = 0;
    auto run = [&](std::string_view chunk, std::size_t base) {
        auto r = s.scan(chunk, [&](char tag, std::string_view body, std::size_t end) {
            out.push_back({tag, std::string(body), base + end});
            return true;
        });
        EXPECT_TRUE(r) << r.error().message;
        if (r) {
            EXPECT_EQ(*r, chunk.size());
        }
    };
    for (auto c : cuts) {
        run(stream.substr(start, c - start), start);
        start = c;
    }
    run(stream.substr(start), start);
    if (at_boundary) *at_boundary = s.at_boundary();
    return out;
}

std::string sample_stream() {
    std::string s;
    ParseComplete{}.encode(s);
    RowDescription{{FieldDescription{"a", 0, 0, 23, 4, -1, 0}}}.encode(s);
    DataRow{{std::string_view("1")}}.encode(s);
    DataRow{{std::string_view(std::string(40, 'x'))}}.encode(s);
    CommandComplete{"SELECT 2"}.encode(s);
    NoticeResponse{ErrorFields::make(Severity::Notice, "00000", "hi")}.encode(s);
    BindComplete{}.encode(s);
    ReadyForQuery{TxStatus::InTransaction}.encode(s);
    return s;
}

// 'D' (DataRow) is skipped; everything else in the sample is inspected.
const auto kInspect = tags("1TCN2Z");

TEST(FrameScanner, WholeStream) {
    auto stream = sample_stream();
    bool boundary = false;
    auto got = scan_cut(stream, {}, kInspect, &boundary);
    ASSERT_EQ(got.size(), 6u);
    EXPECT_EQ(got[0].tag, '1');
    EXPECT_EQ(got[0].end, 5u);
    EXPECT_EQ(got[1].tag, 'T');
    EXPECT_EQ(got[2].tag, 'C');
    EXPECT_EQ(got[2].body, std::string("SELECT 2\0", 9));
    EXPECT_EQ(got.back().tag, 'Z');
    EXPECT_EQ(got.back().body, "T");
    EXPECT_EQ(got.back().end, stream.size());
    EXPECT_TRUE(boundary);
}

TEST(FrameScanner, EverySingleSplitPointMatches) {
    auto stream = sample_stream();
    auto expected = scan_cut(stream, {}, kInspect);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        bool boundary = false;
        EXPECT_EQ(scan_cut(stream, {cut}, kInspect, &boundary), expected) << "cut at " << cut;
        EXPECT_TRUE(boundary);
    }
}

TEST(FrameScanner, EveryPairOfSplitPointsMatches) {
    auto stream = sample_stream();
    auto expected = scan_cut(stream, {}, kInspect);
    for (std::size_t a = 0; a <= stream.size(); ++a)
        for (std::size_t b = a; b <= stream.size(); ++b)
            ASSERT_EQ(scan_cut(stream, {a, b}, kInspect), expected) << "cuts at " << a << ", " << b;
}

TEST(FrameScanner, OneByteAtATimeMatches) {
    auto stream = sample_stream();
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < stream.size(); ++i) cuts.push_back(i);
    EXPECT_EQ(scan_cut(stream, cuts, kInspect), scan_cut(stream, {}, kInspect));
}

TEST(FrameScanner, BodylessMessageEndingAChunkIsDeliveredInThatChunk) {
    FrameScanner s(tags("1"), 100);
    std::vector<char> seen;
    auto cb = [&](char tag, std::string_view body, std::size_t) {
        EXPECT_TRUE(body.empty());
        seen.push_back(tag);
        return true;
    };
    auto r = s.scan(hex("31 00 00"), cb);
    ASSERT_TRUE(r);
    EXPECT_TRUE(seen.empty());
    EXPECT_FALSE(s.at_boundary());
    r = s.scan(hex("00 04"), cb);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 2u);
    EXPECT_EQ(seen.size(), 1u) << "must not wait for the next chunk";
    EXPECT_TRUE(s.at_boundary());
    r = s.scan(hex("31 00 00 00 04 31 00 00 00 04"), cb);
    ASSERT_TRUE(r);
    EXPECT_EQ(seen.size(), 3u);
}

TEST(FrameScanner, EmptyChunkIsHarmless) {
    FrameScanner s(tags("Z"), 100);
    auto r = s.scan("", [](char, std::string_view, std::size_t) { return true; });
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, 0u);
    EXPECT_TRUE(s.at_boundary());
}

TEST(FrameScanner, StopReturnsTheOffsetAndResumes) {
    auto stream = hex("5a 00 00 00 05 49 5a 00 00 00 05 54 5a 00 00 00 05 45");
    FrameScanner s(tags("Z"), 100);
    std::string statuses;
    auto stop_each = [&](char, std::string_view body, std::size_t) {
        statuses += body;
        return false;
    };
    std::string_view rest(stream);
    std::vector<std::size_t> stops;
    while (!rest.empty()) {
        auto r = s.scan(rest, stop_each);
        ASSERT_TRUE(r);
        stops.push_back(*r);
        rest.remove_prefix(*r);
    }
    EXPECT_EQ(statuses, "ITE");
    EXPECT_EQ(stops, (std::vector<std::size_t>{6, 6, 6}));
}

TEST(FrameScanner, MaxInspectedSize) {
    FrameScanner s(tags("Q"), 10);
    auto ok = s.scan(hex("51 00 00 00 0e") + std::string(10, 'a'), [](char, std::string_view, std::size_t) {
        return true;
    });
    ASSERT_TRUE(ok);
    auto bad = s.scan(hex("51 00 00 00 0f"), [](char, std::string_view, std::size_t) { return true; });
    ASSERT_FALSE(bad);
    EXPECT_FALSE(s.scan("x", [](char, std::string_view, std::size_t) { return true; }))
        << "errors are final";
    s.reset();
    EXPECT_TRUE(s.scan(hex("51 00 00 00 05 00"), [](char, std::string_view, std::size_t) { return true; }));

    // Uninspected messages stream through whatever their size.
    FrameScanner big(tags("Q"), 10);
    std::size_t calls = 0;
    auto r = big.scan(hex("64 00 10 00 04") + std::string(1 << 20, 'z'), [&](char, std::string_view, std::size_t) {
        ++calls;
        return true;
    });
    ASSERT_TRUE(r);
    EXPECT_EQ(calls, 0u);
    EXPECT_TRUE(big.at_boundary());
}

TEST(FrameScanner, LengthBelowFourIsRejected) {
    FrameScanner s(tags(""), 10);
    auto r = s.scan(hex("44 00 00 00 03"), [](char, std::string_view, std::size_t) { return true; });
    EXPECT_FALSE(r);
}

TEST(FrameScanner, SplitBodyOfInspectedMessageIsReassembled) {
    std::string stream;
    CommandComplete{"INSERT 0 100"}.encode(stream);
    FrameScanner s(tags("C"), 100);
    std::string body;
    auto cb = [&](char, std::string_view b, std::size_t) {
        body = b;
        return true;
    };
    ASSERT_TRUE(s.scan(std::string_view(stream).substr(0, 8), cb));
    EXPECT_TRUE(body.empty());
    ASSERT_TRUE(s.scan(std::string_view(stream).substr(8), cb));
    EXPECT_EQ(body, std::string("INSERT 0 100\0", 13));
}

}  // namespace
}  // namespace sluice::protocol
