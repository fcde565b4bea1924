#pragma once
// Checks shared by the codec fuzz targets: a message that decodes must re-encode to the bytes it
// came from, and decoding those again must give equal fields. Any violation aborts (a fuzz finding).
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "protocol/frame_decoder.hpp"
#include "protocol/messages.hpp"

namespace sluice::fuzz {

[[noreturn]] inline void finding(const char* what) {
    std::fprintf(stderr, "codec fuzz finding: %s\n", what);
    std::abort();
}

inline void check(bool ok, const char* what) {
    if (!ok) finding(what);
}

// Decodes one client frame with every decoder that could apply to its tag.
inline void check_frontend_frame(const protocol::Frame& f) {
    using namespace sluice::protocol;
    for (auto kind : {PasswordKind::Password, PasswordKind::SASLInitialResponse, PasswordKind::SASLResponse}) {
        auto m = decode_frontend_message(f.tag, f.body, kind);
        if (m) {
            std::string again;
            encode_frontend_message(*m, again);
            check(again == f.wire, "frontend message does not re-encode to its wire bytes");
            auto twice = decode_frontend_message(again[0], std::string_view(again).substr(5), kind);
            check(twice && *twice == *m, "re-encoded frontend message decodes differently");
        }
        if (f.tag != static_cast<char>(FrontendTag::Password)) break;
    }
}

inline void check_backend_frame(const protocol::Frame& f) {
    using namespace sluice::protocol;
    auto m = decode_backend_message(f.tag, f.body);
    if (!m) return;
    std::string again;
    encode_backend_message(*m, again);
    check(again == f.wire, "backend message does not re-encode to its wire bytes");
    auto twice = decode_backend_message(again[0], std::string_view(again).substr(5));
    check(twice && *twice == *m, "re-encoded backend message decodes differently");
}

}  // namespace sluice::fuzz
