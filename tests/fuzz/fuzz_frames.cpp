// Typed message streams in both directions. Input: byte 0 picks the direction (bit 0) and the
// maximum message size (bits 1-7), byte 1 seeds the chunk sizes, the rest is the stream.
// The same stream is framed whole and in chunks by FrameDecoder and by two FrameScanners; all
// must agree on every message and on whether the stream breaks, every frame that decodes with
// its typed decoder must survive re-encoding byte for byte, and ends_turn must agree with them.
#include <bitset>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "codec_fuzz_checks.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/frame_scanner.hpp"
#include "protocol/turn_end.hpp"

namespace {

using sluice::fuzz::check;
using namespace sluice::protocol;

struct Message {
    char tag;
    std::string body;
    bool operator==(const Message&) const = default;
};

// Chunk sizes from a small LCG: deterministic for a given seed byte, 1..64 bytes each.
class Chunker {
public:
    explicit Chunker(std::uint8_t seed) : state_(seed * 2654435761u + 1), span_(seed % 64 + 1) {}
    std::size_t next() {
        state_ = state_ * 1103515245u + 12345u;
        return (state_ >> 16) % span_ + 1;
    }

private:
    std::uint32_t state_;
    std::uint32_t span_;
};

struct Framed {
    std::vector<Message> messages;
    bool broken = false;
};

Framed frame_whole(std::string_view stream, std::size_t max_size, bool backend) {
    Framed out;
    FrameDecoder d(max_size);
    d.feed(stream);
    for (;;) {
        auto f = d.next();
        if (!f) {
            out.broken = true;
            check(!d.next(), "FrameDecoder error is not final");
            return out;
        }
        if (!*f) return out;
        check((*f)->wire.size() == (*f)->body.size() + 5, "frame wire/body sizes disagree");
        check((*f)->wire.size() - 1 <= max_size, "frame above the maximum size");
        if (backend)
            sluice::fuzz::check_backend_frame(**f);
        else
            sluice::fuzz::check_frontend_frame(**f);
        out.messages.push_back({(*f)->tag, std::string((*f)->body)});
    }
}

Framed frame_chunked(std::string_view stream, std::size_t max_size, std::uint8_t seed) {
    Framed out;
    FrameDecoder d(max_size);
    Chunker chunks(seed);
    // The three ways bytes get in: feed(), prepare()/commit(), prepare_up_to()/commit(); and
    // sometimes release_memory() between reads, as an idle proxy connection does.
    const unsigned mode = seed % 3;
    const bool release = seed & 8;
    for (std::size_t pos = 0; pos < stream.size() && !out.broken;) {
        auto n = std::min(chunks.next(), stream.size() - pos);
        if (release) d.release_memory();
        if (mode == 1) {
            auto space = d.prepare(n + 3);
            std::copy_n(stream.data() + pos, n, space.data());
            d.commit(n);
        } else if (mode == 2) {
            auto space = d.prepare_up_to(1, 64);
            n = std::min(n, space.size());
            std::copy_n(stream.data() + pos, n, space.data());
            d.commit(n);
        } else {
            d.feed(stream.substr(pos, n));
        }
        pos += n;
        for (;;) {
            auto f = d.next();
            if (!f) {
                out.broken = true;
                break;
            }
            if (!*f) break;
            out.messages.push_back({(*f)->tag, std::string((*f)->body)});
        }
    }
    return out;
}

Framed scan_chunked(std::string_view stream, std::size_t max_size, std::uint8_t seed, std::bitset<256> inspect) {
    Framed out;
    FrameScanner s(inspect, max_size - 4);
    Chunker chunks(seed);
    for (std::size_t pos = 0; pos < stream.size();) {
        auto n = std::min(chunks.next(), stream.size() - pos);
        auto chunk = stream.substr(pos, n);
        auto r = s.scan(chunk, [&](char tag, std::string_view body, std::size_t end) {
            check(end <= chunk.size(), "scanner end offset outside the chunk");
            check(end >= 1, "scanner reported a message ending before this chunk");
            out.messages.push_back({tag, std::string(body)});
            return true;
        });
        if (!r) {
            out.broken = true;
            return out;
        }
        check(*r == chunk.size(), "scanner stopped without being asked to");
        pos += n;
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const bool backend = data[0] & 1;
    // Sizes from tiny (every header trips the limit) to the production default.
    const unsigned pick = data[0] >> 1;
    const std::size_t max_size = pick == 0 ? std::size_t{1} << 30 : 4 + (pick - 1) * 13;
    const std::uint8_t seed = data[1];
    std::string_view stream(reinterpret_cast<const char*>(data) + 2, size - 2);

    auto whole = frame_whole(stream, max_size, backend);
    auto chunked = frame_chunked(stream, max_size, seed);
    check(whole.messages == chunked.messages, "chunked FrameDecoder disagrees with whole");
    check(whole.broken == chunked.broken, "chunked FrameDecoder breaks differently");

    std::bitset<256> all;
    all.set();
    auto scanned = scan_chunked(stream, max_size, seed, all);
    check(scanned.messages == whole.messages, "FrameScanner disagrees with FrameDecoder");
    check(scanned.broken == whole.broken, "FrameScanner breaks differently from FrameDecoder");

    // The proxy's turn check walks the same headers: it must see a turn end exactly where the
    // decoder's frames cover the stream and the last one ends the turn.
    if (!whole.broken) {
        std::size_t covered = 0;
        for (const auto& m : whole.messages) covered += m.body.size() + 5;
        const TurnEnd turn = backend ? kServerTurnEnd : kClientTurnEnd;
        bool expected_end = covered == stream.size() && !whole.messages.empty() &&
                            turn.ends_turn(whole.messages.back().tag);
        check(ends_turn(stream, turn) == expected_end, "ends_turn disagrees with FrameDecoder");
    }

    // Inspect only some tags: the rest is skipped by length, never buffered.
    std::bitset<256> some;
    for (unsigned t = 0; t < 256; ++t)
        if ((t * 31 + seed) % 3 == 0) some.set(t);
    auto partial = scan_chunked(stream, max_size, static_cast<std::uint8_t>(seed + 1), some);
    std::vector<Message> expected;
    for (const auto& m : whole.messages)
        if (some.test(static_cast<unsigned char>(m.tag))) expected.push_back(m);
    if (!partial.broken && !whole.broken) check(partial.messages == expected, "partial FrameScanner disagrees");
    if (!whole.broken) check(!partial.broken, "partial FrameScanner broke on a valid stream");
    return 0;
}
