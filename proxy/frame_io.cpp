#include "proxy/frame_io.hpp"

namespace sluice::proxy {

namespace {
// Small first reads keep idle clients cheap (a query fits); the buffer doubles for big messages.
constexpr std::size_t kMinRead = 512;
constexpr std::size_t kMaxRead = 64 * 1024;
}  // namespace

TurnReadBuffer read_space(protocol::FrameDecoder& decoder, TurnEnd turn_end) {
    auto space = decoder.prepare_up_to(kMinRead, kMaxRead);
    // The decoder's pending bytes are the start of its next message, just before the space.
    return TurnReadBuffer(asio::buffer(space.data(), space.size()), decoder.pending().data(), turn_end);
}

bool took_read(protocol::FrameDecoder& decoder, error_code ec, std::size_t n, std::string& error) {
    decoder.commit(n);
    if (ec) {
        error = ec == asio::error::eof ? "connection closed by peer" : ec.message();
        return false;
    }
    return true;
}

awaitable<bool> read_more(Stream& stream, protocol::FrameDecoder& decoder, std::string& error, TurnEnd turn_end) {
    auto [ec, n] = co_await stream.read_some(read_space(decoder, turn_end));
    co_return took_read(decoder, ec, n, error);
}

awaitable<std::optional<protocol::Frame>> read_frame(Stream& stream, protocol::FrameDecoder& decoder,
                                                     std::string& error, TurnEnd turn_end) {
    for (;;) {
        auto next = decoder.next();
        if (!next) {
            error = next.error().message;
            co_return std::nullopt;
        }
        if (*next) co_return **next;
        if (!co_await read_more(stream, decoder, error, turn_end)) co_return std::nullopt;
    }
}

awaitable<std::optional<std::string_view>> read_startup_packet(Stream& stream, protocol::FrameDecoder& decoder,
                                                               std::string& error) {
    for (;;) {
        auto next = decoder.next_untyped();
        if (!next) {
            error = next.error().message;
            co_return std::nullopt;
        }
        if (*next) co_return **next;
        if (!co_await read_more(stream, decoder, error, protocol::kStartupTurnEnd)) co_return std::nullopt;
    }
}

}  // namespace sluice::proxy
