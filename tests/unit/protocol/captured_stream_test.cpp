// Real exchanges between libpq clients (psql, pgbench) and PostgreSQL 15, recorded by
// tests/fuzz/capture/record_relay.py: each stream frames identically whole and one byte at a time,
// and every message decodes with its typed decoder and re-encodes to the captured bytes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "codec_test_util.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/frame_scanner.hpp"
#include "protocol/messages.hpp"
#include "protocol/startup.hpp"
#include "tests/support/file_text.hpp"

namespace sluice::protocol {
namespace {

namespace fs = std::filesystem;

const fs::path kCaptured = fs::path(SLUICE_TEST_DATA_DIR) / "unit/protocol/data/captured";

struct Framed {
    std::vector<std::string> startup;  // untyped packet bodies
    std::vector<std::string> frames;   // typed frames, whole wire bytes
    std::string error;
    std::size_t leftover = 0;
    bool operator==(const Framed&) const = default;
};

// Frames a client stream: startup-phase packets until the StartupMessage (or a CancelRequest,
// after which the server closes), then typed frames. step 0 feeds everything at once.
Framed frame_client(std::string_view stream, std::size_t step) {
    Framed out;
    FrameDecoder d;
    std::size_t pos = 0;
    bool typed = false;
    auto more = [&] {
        if (pos == stream.size()) return false;
        auto n = step == 0 ? stream.size() : std::min(step, stream.size() - pos);
        d.feed(stream.substr(pos, n));
        pos += n;
        return true;
    };
    more();
    for (;;) {
        if (!typed) {
            auto b = d.next_untyped();
            if (!b) {
                out.error = b.error().message;
                break;
            }
            if (!*b) {
                if (!more()) break;
                continue;
            }
            out.startup.emplace_back(**b);
            auto p = decode_startup_packet(**b);
            if (!p) {
                out.error = p.error().message;
                break;
            }
            if (std::holds_alternative<CancelRequest>(*p)) break;
            typed = std::holds_alternative<StartupMessage>(*p);
            continue;
        }
        auto f = d.next();
        if (!f) {
            out.error = f.error().message;
            break;
        }
        if (!*f) {
            if (!more()) break;
            continue;
        }
        out.frames.emplace_back((*f)->wire);
    }
    while (more()) {
    }
    out.leftover = d.buffered();
    return out;
}

Framed frame_typed(std::string_view stream, std::size_t step) {
    Framed out;
    FrameDecoder d;
    for (std::size_t pos = 0; pos < stream.size();) {
        auto n = step == 0 ? stream.size() : std::min(step, stream.size() - pos);
        d.feed(stream.substr(pos, n));
        pos += n;
        for (;;) {
            auto f = d.next();
            if (!f) {
                out.error = f.error().message;
                return out;
            }
            if (!*f) break;
            out.frames.emplace_back((*f)->wire);
        }
    }
    out.leftover = d.buffered();
    return out;
}

bool starts_with_encryption_request(std::string_view client) {
    if (client.size() < 8) return false;
    auto code = ByteReader(client.substr(4, 4)).i32();
    return code == kSslRequestCode || code == kGssEncRequestCode;
}

std::vector<std::string> capture_names() {
    std::vector<std::string> names;
    if (!fs::exists(kCaptured)) return names;
    for (const auto& e : fs::directory_iterator(kCaptured))
        if (e.path().extension() == ".client") names.push_back(e.path().stem().string());
    std::sort(names.begin(), names.end());
    return names;
}

class CapturedStream : public ::testing::TestWithParam<std::string> {};

TEST_P(CapturedStream, DecodesWholeAndBytewiseAndEveryMessageRoundTrips) {
    auto client = sluice::testing::file_text(kCaptured / (GetParam() + ".client"));
    auto server = sluice::testing::file_text(kCaptured / (GetParam() + ".server"));
    ASSERT_FALSE(client.empty());

    // ---- server -> client
    std::string_view server_typed(server);
    if (starts_with_encryption_request(client) && !server_typed.empty()) {
        EXPECT_EQ(server_typed[0], 'N') << "no TLS in the capture cluster";
        server_typed.remove_prefix(1);
    }
    auto s_whole = frame_typed(server_typed, 0);
    EXPECT_EQ(s_whole.error, "");
    EXPECT_EQ(s_whole.leftover, 0u);
    EXPECT_EQ(frame_typed(server_typed, 1), s_whole);
    std::deque<PasswordKind> password_kinds;  // what each client 'p' must be, from the server's requests
    for (const auto& wire : s_whole.frames) {
        auto m = decode_backend_message(wire[0], std::string_view(wire).substr(5));
        ASSERT_TRUE(m) << GetParam() << ": backend '" << wire[0] << "': " << m.error().message;
        std::string again;
        encode_backend_message(*m, again);
        EXPECT_EQ(test::to_hex(again), test::to_hex(wire));
        if (auto* auth = std::get_if<Authentication>(&*m)) {
            if (std::holds_alternative<AuthenticationMD5Password>(*auth) ||
                std::holds_alternative<AuthenticationCleartextPassword>(*auth))
                password_kinds.push_back(PasswordKind::Password);
            if (std::holds_alternative<AuthenticationSASL>(*auth))
                password_kinds.push_back(PasswordKind::SASLInitialResponse);
            if (std::holds_alternative<AuthenticationSASLContinue>(*auth))
                password_kinds.push_back(PasswordKind::SASLResponse);
        }
    }

    // FrameScanner sees the same messages whatever the chunking.
    std::bitset<256> all;
    all.set();
    for (std::size_t step : {std::size_t{1}, std::size_t{7}, server_typed.size() + 1}) {
        FrameScanner scanner(all, 1 << 20);
        std::vector<std::string> seen;
        for (std::size_t pos = 0; pos < server_typed.size(); pos += step) {
            auto chunk = server_typed.substr(pos, step);
            auto r = scanner.scan(chunk, [&](char tag, std::string_view body, std::size_t) {
                seen.push_back(std::string(1, tag) + std::string(body));
                return true;
            });
            ASSERT_TRUE(r);
        }
        ASSERT_EQ(seen.size(), s_whole.frames.size()) << "step " << step;
        for (std::size_t i = 0; i < seen.size(); ++i)
            EXPECT_EQ(seen[i], s_whole.frames[i].substr(0, 1) + s_whole.frames[i].substr(5));
        EXPECT_TRUE(scanner.at_boundary());
    }

    // ---- client -> server: startup phase first
    auto c_whole = frame_client(client, 0);
    EXPECT_EQ(c_whole.error, "");
    EXPECT_EQ(c_whole.leftover, 0u);
    EXPECT_EQ(frame_client(client, 1), c_whole);
    ASSERT_FALSE(c_whole.startup.empty());
    for (const auto& body : c_whole.startup) {
        auto p = decode_startup_packet(body);
        ASSERT_TRUE(p) << p.error().message;
        std::string again;
        std::visit([&](const auto& x) { x.encode(again); }, *p);
        EXPECT_EQ(test::to_hex(std::string_view(again).substr(4)), test::to_hex(body));
        if (auto* s = std::get_if<StartupMessage>(&*p)) {
            EXPECT_EQ(s->version, kProtocol30);
            EXPECT_FALSE(s->user().empty());
            EXPECT_EQ(s->database(), "shop");
            auto n = negotiate_version(*s, kProtocol32);
            EXPECT_EQ(n.use, kProtocol30);
            EXPECT_FALSE(n.send_negotiate);
        }
    }
    for (const auto& wire : c_whole.frames) {
        auto kind = PasswordKind::Password;
        if (wire[0] == 'p') {
            ASSERT_FALSE(password_kinds.empty()) << "client sent 'p' the server did not ask for";
            kind = password_kinds.front();
            password_kinds.pop_front();
        }
        auto m = decode_frontend_message(wire[0], std::string_view(wire).substr(5), kind);
        ASSERT_TRUE(m) << GetParam() << ": frontend '" << wire[0] << "': " << m.error().message;
        std::string again;
        encode_frontend_message(*m, again);
        EXPECT_EQ(test::to_hex(again), test::to_hex(wire));
    }
}

INSTANTIATE_TEST_SUITE_P(Captures, CapturedStream, ::testing::ValuesIn(capture_names()),
                         [](const auto& info) {
                             std::string n = info.param;
                             for (auto& c : n)
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             return n;
                         });

// The captures are only worth something if they cover the protocol; say so if they stop doing so.
TEST(CapturedStreams, CoverTheMessageTypesThatMatter) {
    auto names = capture_names();
    ASSERT_GE(names.size(), 8u);
    std::set<char> backend, frontend;
    std::set<std::size_t> startup_kinds;
    for (const auto& n : names) {
        auto client = sluice::testing::file_text(kCaptured / (n + ".client"));
        auto server = sluice::testing::file_text(kCaptured / (n + ".server"));
        std::string_view typed(server);
        if (starts_with_encryption_request(client) && !typed.empty()) typed.remove_prefix(1);
        for (const auto& w : frame_typed(typed, 0).frames) backend.insert(w[0]);
        auto c = frame_client(client, 0);
        for (const auto& w : c.frames) frontend.insert(w[0]);
        for (const auto& b : c.startup) startup_kinds.insert(decode_startup_packet(b)->index());
    }
    for (char t : std::string("RSKZTDCENGHdcVA12n")) EXPECT_TRUE(backend.count(t)) << "backend '" << t << "'";
    for (char t : std::string("QPBDESXdcFp")) EXPECT_TRUE(frontend.count(t)) << "frontend '" << t << "'";
    EXPECT_TRUE(startup_kinds.count(0)) << "StartupMessage";
    EXPECT_TRUE(startup_kinds.count(1)) << "SSLRequest";
    EXPECT_TRUE(startup_kinds.count(3)) << "CancelRequest";
}

}  // namespace
}  // namespace sluice::protocol
