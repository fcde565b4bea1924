// Typed decoders straight on message bodies, without framing in the way: byte 0 bit 0 picks the
// direction (1 = backend), bit 1 also tries the body as a startup-phase packet; byte 1 is the tag;
// the rest is the body. Whatever decodes must re-encode to the same bytes and decode again equal.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "codec_fuzz_checks.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/startup.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    using namespace sluice::protocol;
    if (size < 2) return 0;
    const bool backend = data[0] & 1;
    const char tag = static_cast<char>(data[1]);
    std::string_view body(reinterpret_cast<const char*>(data) + 2, size - 2);

    // Frame it the way a peer would have sent it, so the checks can compare whole wire bytes.
    std::string wire(1, tag);
    auto len = static_cast<std::uint32_t>(body.size() + 4);
    for (int shift = 24; shift >= 0; shift -= 8) wire.push_back(static_cast<char>((len >> shift) & 0xff));
    wire.append(body);
    Frame f{tag, std::string_view(wire).substr(5), wire};
    if (backend)
        sluice::fuzz::check_backend_frame(f);
    else
        sluice::fuzz::check_frontend_frame(f);

    if (data[0] & 2) {
        auto p = decode_startup_packet(body);
        if (p) {
            std::string again;
            std::visit([&](const auto& m) { m.encode(again); }, *p);
            sluice::fuzz::check(std::string_view(again).substr(4) == body,
                                "startup packet does not re-encode to its bytes");
        }
    }
    return 0;
}
