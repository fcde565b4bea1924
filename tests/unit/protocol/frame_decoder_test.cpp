// FrameDecoder: framing is independent of how the bytes are split, limits are enforced.
#include "protocol/frame_decoder.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "protocol/startup.hpp"

namespace sluice::protocol {
namespace {

using test::hex;

struct Seen {
    char tag;
    std::string body;
    std::string wire;
    friend bool operator==(const Seen&, const Seen&) = default;
};

// Drains every complete frame; stops at the first error (returned in `error`).
std::vector<Seen> drain(FrameDecoder& d, std::string* error = nullptr) {
    std::vector<Seen> out;
    for (;;) {
        auto f = d.next();
        if (!f) {
            if (error) *error = f.error().message;
            return out;
        }
        if (!*f) return out;
        out.push_back({(*f)->tag, std::string((*f)->body), std::string((*f)->wire)});
    }
}

std::string sample_stream() {
    std::string s;
    ParseComplete{}.encode(s);
    BindComplete{}.encode(s);
    RowDescription{{FieldDescription{"a", 0, 0, 23, 4, -1, 0}}}.encode(s);
    DataRow{{std::string_view("1")}}.encode(s);
    DataRow{{std::nullopt}}.encode(s);
    CommandComplete{"SELECT 2"}.encode(s);
    ReadyForQuery{TxStatus::Idle}.encode(s);
    return s;
}

TEST(FrameDecoder, OneByteAtATimeMatchesWhole) {
    auto stream = sample_stream();
    FrameDecoder whole;
    whole.feed(stream);
    auto expected = drain(whole);
    ASSERT_EQ(expected.size(), 7u);
    EXPECT_EQ(whole.buffered(), 0u);

    FrameDecoder bytewise;
    std::vector<Seen> got;
    for (char c : stream) {
        bytewise.feed(std::string_view(&c, 1));
        auto more = drain(bytewise);
        got.insert(got.end(), more.begin(), more.end());
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(bytewise.buffered(), 0u);
}

TEST(FrameDecoder, EverySplitPointMatchesWhole) {
    auto stream = sample_stream();
    FrameDecoder whole;
    whole.feed(stream);
    auto expected = drain(whole);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameDecoder d;
        d.feed(std::string_view(stream).substr(0, cut));
        auto got = drain(d);
        d.feed(std::string_view(stream).substr(cut));
        auto rest = drain(d);
        got.insert(got.end(), rest.begin(), rest.end());
        EXPECT_EQ(got, expected) << "cut at " << cut;
    }
}

// next_whole() takes what next() would, and leaves alone what next() waits for or refuses.
TEST(FrameDecoder, NextWholeAgreesWithNext) {
    auto stream = sample_stream();
    FrameDecoder whole;
    whole.feed(stream);
    auto expected = drain(whole);
    for (std::size_t cut = 0; cut <= stream.size(); ++cut) {
        FrameDecoder d;
        d.feed(std::string_view(stream).substr(0, cut));
        std::vector<Seen> got;
        while (auto f = d.next_whole()) got.push_back({f->tag, std::string(f->body), std::string(f->wire)});
        auto waiting = d.next();
        ASSERT_TRUE(waiting) << "cut at " << cut;
        EXPECT_FALSE(*waiting) << "next_whole() left a whole message behind, cut at " << cut;
        d.feed(std::string_view(stream).substr(cut));
        while (auto f = d.next_whole()) got.push_back({f->tag, std::string(f->body), std::string(f->wire)});
        EXPECT_EQ(got, expected) << "cut at " << cut;
        EXPECT_EQ(d.buffered(), 0u);
    }
    for (auto broken : {"51 00 00 00 03", "44 40 00 00 00"}) {
        FrameDecoder d(100);
        d.feed(hex(broken));
        EXPECT_FALSE(d.next_whole()) << broken;
        EXPECT_EQ(d.buffered(), 5u) << "nothing taken";
        EXPECT_FALSE(d.next()) << "next() reports it: " << broken;
    }
}

TEST(FrameDecoder, TwoFramesInOneBuffer) {
    std::string s = hex("5a 00 00 00 05 49 5a 00 00 00 05 54");
    FrameDecoder d;
    d.feed(s);
    auto a = d.next();
    ASSERT_TRUE(a && *a);
    EXPECT_EQ((*a)->tag, 'Z');
    EXPECT_EQ((*a)->body, "I");
    EXPECT_EQ((*a)->wire, s.substr(0, 6));
    EXPECT_EQ(d.buffered(), 6u);
    auto b = d.next();
    ASSERT_TRUE(b && *b);
    EXPECT_EQ((*b)->body, "T");
    auto c = d.next();
    ASSERT_TRUE(c);
    EXPECT_FALSE(*c);
}

TEST(FrameDecoder, PartialHeaderAndBodyWait) {
    FrameDecoder d;
    d.feed(hex("5a 00 00"));
    auto f = d.next();
    ASSERT_TRUE(f);
    EXPECT_FALSE(*f);
    EXPECT_EQ(d.buffered(), 3u);
    d.feed(hex("00 05"));
    f = d.next();
    ASSERT_TRUE(f);
    EXPECT_FALSE(*f);
    d.feed("I");
    f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->body, "I");
}

TEST(FrameDecoder, LengthBelowFourIsRejected) {
    for (auto w : {"51 00 00 00 00", "51 00 00 00 03", "51 00 00 00 01"}) {
        FrameDecoder d;
        d.feed(hex(w));
        EXPECT_FALSE(d.next()) << w;
        EXPECT_FALSE(d.next()) << "errors are final";
    }
    FrameDecoder four;
    four.feed(hex("53 00 00 00 04"));
    auto f = four.next();
    ASSERT_TRUE(f && *f);
    EXPECT_TRUE((*f)->body.empty());
}

TEST(FrameDecoder, MaxMessageSizeIsEnforcedFromTheHeader) {
    FrameDecoder d(100);
    // Announces 1 GiB: rejected as soon as the header is in, without waiting for the body.
    d.feed(hex("44 40 00 00 00"));
    auto f = d.next();
    ASSERT_FALSE(f);
    EXPECT_NE(f.error().message.find("maximum"), std::string::npos);

    FrameDecoder at_limit(100);
    at_limit.feed(hex("64 00 00 00 64") + std::string(96, 'x'));
    auto ok = at_limit.next();
    ASSERT_TRUE(ok && *ok);
    EXPECT_EQ((*ok)->body.size(), 96u);
    at_limit.feed(hex("64 00 00 00 65"));
    EXPECT_FALSE(at_limit.next());

    FrameDecoder huge(static_cast<std::size_t>(-1));  // no limit: 0xffffffff must not overflow
    huge.feed(hex("64 ff ff ff ff 00"));
    auto waiting = huge.next();
    ASSERT_TRUE(waiting);
    EXPECT_FALSE(*waiting);
}

TEST(FrameDecoder, PrepareCommitPath) {
    auto stream = sample_stream();
    FrameDecoder whole;
    whole.feed(stream);
    auto expected = drain(whole);

    FrameDecoder d;
    std::vector<Seen> got;
    std::size_t pos = 0;
    std::size_t step = 1;
    while (pos < stream.size()) {
        auto space = d.prepare(16);
        ASSERT_EQ(space.size(), 16u);
        auto n = std::min(step, stream.size() - pos);
        std::memcpy(space.data(), stream.data() + pos, n);
        d.commit(n);
        pos += n;
        step = step % 7 + 1;
        auto more = drain(d);
        got.insert(got.end(), more.begin(), more.end());
    }
    EXPECT_EQ(got, expected);
    EXPECT_EQ(d.buffered(), 0u);
}

TEST(FrameDecoder, UncommittedSpaceIsNotData) {
    FrameDecoder d;
    auto space = d.prepare(8);
    std::memcpy(space.data(), hex("5a 00 00 00 05 49").data(), 6);
    auto f = d.next();
    ASSERT_TRUE(f);
    EXPECT_FALSE(*f) << "prepared but uncommitted bytes must not be framed";
    EXPECT_EQ(d.buffered(), 0u);
    d.commit(6);
    f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->body, "I");
}

TEST(FrameDecoder, CommitMoreThanPreparedIsClamped) {
    FrameDecoder d;
    auto space = d.prepare(2);
    space[0] = 'S';
    space[1] = 0;
    d.commit(1000);
    EXPECT_EQ(d.buffered(), 2u);
    d.commit(5);  // no prepare outstanding: ignored
    EXPECT_EQ(d.buffered(), 2u);
}

TEST(FrameDecoder, FeedAfterPrepareWithoutCommitDropsThePreparedSpace) {
    FrameDecoder d;
    (void)d.prepare(100);
    d.feed(hex("53 00 00 00 04"));
    EXPECT_EQ(d.buffered(), 5u);
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->tag, 'S');
}

TEST(FrameDecoder, ClearDropsEverything) {
    FrameDecoder d;
    d.feed(hex("5a 00 00 00 05"));
    d.clear();
    EXPECT_EQ(d.buffered(), 0u);
    d.feed(hex("5a 00 00 00 05 49"));
    auto f = d.next();
    ASSERT_TRUE(f && *f);
}

TEST(FrameDecoder, NextUntypedBounds) {
    auto expect_error = [](std::string bytes) {
        FrameDecoder d;
        d.feed(bytes);
        EXPECT_FALSE(d.next_untyped()) << test::to_hex(bytes);
    };
    expect_error(hex("00 00 00 07 00 00 00"));
    expect_error(hex("00 00 00 00"));
    expect_error(hex("00 00 27 11"));  // 10001
    expect_error(hex("ff ff ff ff"));

    FrameDecoder at_max;
    std::string big = hex("00 00 27 10") + std::string(10000 - 4, 'a');
    at_max.feed(big.substr(0, 100));
    auto w = at_max.next_untyped();
    ASSERT_TRUE(w);
    EXPECT_FALSE(*w);
    at_max.feed(big.substr(100));
    w = at_max.next_untyped();
    ASSERT_TRUE(w && *w);
    EXPECT_EQ((*w)->size(), 10000u - 4);

    FrameDecoder ssl;
    ssl.feed(hex("00 00 00 08 04 d2 16 2f 51"));
    auto body = ssl.next_untyped();
    ASSERT_TRUE(body && *body);
    EXPECT_EQ(test::to_hex(**body), "04 d2 16 2f");
    EXPECT_EQ(ssl.pending(), "Q") << "bytes after the packet stay buffered (STARTTLS injection check)";

    FrameDecoder partial;
    partial.feed(hex("00 00 00"));
    auto p = partial.next_untyped();
    ASSERT_TRUE(p);
    EXPECT_FALSE(*p);
}

TEST(FrameDecoder, StartupThenTypedFrames) {
    std::string s;
    StartupMessage{kProtocol30, {{"user", "alice"}}}.encode(s);
    Query{"SELECT 1"}.encode(s);
    Terminate{}.encode(s);
    FrameDecoder d;
    d.feed(s);
    auto st = d.next_untyped();
    ASSERT_TRUE(st && *st);
    auto q = d.next();
    ASSERT_TRUE(q && *q);
    EXPECT_EQ((*q)->tag, 'Q');
    auto t = d.next();
    ASSERT_TRUE(t && *t);
    EXPECT_EQ((*t)->tag, 'X');
}

TEST(FrameDecoder, PrepareUpToReusesGrownSpace) {
    FrameDecoder d;
    auto first = d.prepare_up_to(16, 1 << 20);
    EXPECT_GE(first.size(), 16u);
    d.commit(0);
    // A big message grows the buffer; once consumed, the space is handed out again, not regrown.
    std::string big = hex("64 00 01 00 04") + std::string(65536, 'x');
    d.feed(big);
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    auto grown = d.capacity();
    EXPECT_GE(grown, big.size());
    auto space = d.prepare_up_to(16, 1 << 20);
    EXPECT_EQ(space.size(), grown);
    EXPECT_EQ(d.capacity(), grown);
    d.commit(0);
    auto bounded = d.prepare_up_to(16, 100);
    EXPECT_EQ(bounded.size(), 100u);
    std::memcpy(bounded.data(), hex("5a 00 00 00 05 49").data(), 6);
    d.commit(6);
    f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->body, "I");
}

TEST(FrameDecoder, ReleaseMemoryOnlyWhenNothingIsBuffered) {
    FrameDecoder d;
    d.feed(hex("5a 00 00 00 05 49 5a 00"));
    ASSERT_TRUE(d.next().value());
    d.release_memory();
    EXPECT_GT(d.capacity(), 0u) << "a partial message is still buffered";
    EXPECT_EQ(d.buffered(), 2u);
    d.feed(hex("00 00 05 54"));
    auto f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->body, "T");
    d.release_memory();
    EXPECT_EQ(d.capacity(), 0u);
    EXPECT_EQ(d.buffered(), 0u);
    auto none = d.next();
    ASSERT_TRUE(none);
    EXPECT_FALSE(*none);
    d.feed(hex("5a 00 00 00 05 45"));
    f = d.next();
    ASSERT_TRUE(f && *f);
    EXPECT_EQ((*f)->body, "E");
}

}  // namespace
}  // namespace sluice::protocol
