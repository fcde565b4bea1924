#pragma once
// Whole-frame reads for the phases that need them (startup, login, quiet queries). The relay
// itself streams and never waits for whole frames.
#include <optional>
#include <string>

#include "protocol/frame_decoder.hpp"
#include "proxy/asio.hpp"
#include "proxy/stream.hpp"

namespace sluice::proxy {

// A typed frame, or nullopt with `error` set (peer closed, I/O error, bad framing). The frame's
// views stay valid until the decoder is used again.
awaitable<std::optional<protocol::Frame>> read_frame(Stream& stream, protocol::FrameDecoder& decoder,
                                                     std::string& error, TurnEnd turn_end = {});
// A startup-phase packet body, same conventions; the client's turn ends with each.
awaitable<std::optional<std::string_view>> read_startup_packet(Stream& stream, protocol::FrameDecoder& decoder,
                                                               std::string& error);
// Reads whatever arrives into the decoder; false (with error) on EOF or I/O error. A read that
// ends the peer's turn with one of `turn_end`'s messages lets the next read wait for readiness
// first (turn_read_buffer.hpp).
awaitable<bool> read_more(Stream& stream, protocol::FrameDecoder& decoder, std::string& error,
                          TurnEnd turn_end = {});
// read_more() in two halves, for a loop that awaits the read itself (one coroutine frame fewer on
// the hot path): the space to read into, then the result of `co_await stream.read_some(space)`.
TurnReadBuffer read_space(protocol::FrameDecoder& decoder, TurnEnd turn_end = {});
bool took_read(protocol::FrameDecoder& decoder, error_code ec, std::size_t n, std::string& error);

}  // namespace sluice::proxy
