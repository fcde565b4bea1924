// A client stream from its first byte: startup-phase packets (SSLRequest, GSSENCRequest,
// CancelRequest, StartupMessage) until a StartupMessage, then typed frontend frames.
// Framing whole and one byte at a time must agree; whatever decodes must re-encode exactly; and
// where the login's reads stop waiting (ends_turn with kStartupTurnEnd) must agree with the framing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "codec_fuzz_checks.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/startup.hpp"
#include "protocol/turn_end.hpp"

namespace {

using sluice::fuzz::check;
using namespace sluice::protocol;

struct Outcome {
    std::vector<std::string> packets;  // untyped bodies, then typed wire frames
    bool broken = false;
    bool operator==(const Outcome&) const = default;
};

void check_startup_packet(std::string_view body) {
    auto p = decode_startup_packet(body);
    if (!p) return;
    std::string again;
    std::visit([&](const auto& m) { m.encode(again); }, *p);
    check(std::string_view(again).substr(4) == body, "startup packet does not re-encode to its bytes");
    if (auto* s = std::get_if<StartupMessage>(&*p)) {
        check(!s->user().empty(), "StartupMessage without user accepted");
        check(!s->database().empty(), "database does not default to user");
        for (auto highest : {kProtocol30, kProtocol32}) {
            auto n = negotiate_version(*s, highest);
            check(n.use <= highest && n.use <= s->version, "negotiated a version nobody asked for");
            check(n.use.major == 3, "negotiated a major version other than 3");
            check(n.send_negotiate == (s->version > highest || !n.unsupported_options.empty()),
                  "NegotiateProtocolVersion decision is wrong");
        }
    }
}

// Feeds `stream` in pieces of `step` bytes (0 = all at once).
Outcome run(std::string_view stream, std::size_t step, bool check_frames) {
    Outcome out;
    FrameDecoder d(1 << 20);
    bool started = false;
    std::size_t pos = 0;
    auto feed_more = [&] {
        auto n = step == 0 ? stream.size() - pos : std::min(step, stream.size() - pos);
        d.feed(stream.substr(pos, n));
        pos += n;
    };
    feed_more();
    for (;;) {
        if (!started) {
            auto body = d.next_untyped();
            if (!body) {
                out.broken = true;
                return out;
            }
            if (!*body) {
                if (pos == stream.size()) return out;
                feed_more();
                continue;
            }
            out.packets.emplace_back(**body);
            if (check_frames) check_startup_packet(**body);
            auto p = decode_startup_packet(**body);
            if (!p) {
                out.broken = true;
                return out;
            }
            if (std::holds_alternative<CancelRequest>(*p)) return out;  // the server closes after it
            started = std::holds_alternative<StartupMessage>(*p);
            continue;
        }
        auto f = d.next();
        if (!f) {
            out.broken = true;
            return out;
        }
        if (!*f) {
            if (pos == stream.size()) return out;
            feed_more();
            continue;
        }
        out.packets.emplace_back((*f)->wire);
        if (check_frames) sluice::fuzz::check_frontend_frame(**f);
    }
}

// A read of the startup phase ends the client's turn exactly when what it holds is whole
// startup-phase packets: every prefix of the stream up to where the framing stops (a broken packet,
// the StartupMessage or CancelRequest that ends the phase, or the stream's end) is checked.
void check_startup_turn_ends(std::string_view stream) {
    FrameDecoder d(1 << 20);
    d.feed(stream);
    std::vector<std::size_t> boundaries;  // after each whole packet
    std::size_t limit = stream.size();
    for (std::size_t at = 0;;) {
        auto body = d.next_untyped();
        if (!body) {
            limit = at;  // the framing rejects what follows: ends_turn need not agree past here
            break;
        }
        if (!*body) break;
        at += 4 + (*body)->size();
        boundaries.push_back(at);
        auto p = decode_startup_packet(**body);
        if (!p || (!std::holds_alternative<SslRequest>(*p) && !std::holds_alternative<GssEncRequest>(*p))) {
            limit = at;  // typed frames (or a closed connection) follow
            break;
        }
    }
    std::size_t next = 0;  // index into boundaries
    for (std::size_t k = 0; k <= limit; ++k) {
        const bool boundary = next < boundaries.size() && boundaries[next] == k;
        if (boundary) ++next;
        check(ends_turn(stream.substr(0, k), kStartupTurnEnd) == boundary,
              "ends_turn(kStartupTurnEnd) disagrees with the startup packets' framing");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view stream(reinterpret_cast<const char*>(data), size);
    auto whole = run(stream, 0, true);
    auto bytewise = run(stream, 1, false);
    check(whole == bytewise, "framing one byte at a time differs from framing the whole stream");
    auto odd = run(stream, 7, false);
    check(whole == odd, "framing in 7-byte pieces differs from framing the whole stream");
    check_startup_turn_ends(stream);
    return 0;
}
