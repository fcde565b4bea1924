#pragma once
// A byte stream to a client or a server. Plain TCP today; TLS joins here (both sides) without
// changing the code that reads and writes it.
#include <cstddef>
#include <tuple>

#include "proxy/asio.hpp"

namespace sluice::proxy {

class Stream {
public:
    explicit Stream(tcp::socket socket) noexcept : socket_(std::move(socket)) {}

    auto read_some(asio::mutable_buffer buffer) { return socket_.async_read_some(buffer, use_tuple); }

    // Writes all of `buffer`. A socket with room takes it at once, without a trip through the event
    // loop (the common case); otherwise the rest is written as the peer reads. A write that makes
    // no progress for the write timeout fails with timed_out, and the stream is then unusable.
    awaitable<std::tuple<error_code, std::size_t>> write_all(asio::const_buffer buffer);
    // Zero: no limit.
    void set_write_timeout(Clock::duration timeout) noexcept { write_timeout_ = timeout; }
    // What the socket takes now, without waiting: the bytes written (fewer when it is full), and
    // `ec` set on an error.
    std::size_t write_now(const char* data, std::size_t size, error_code& ec) noexcept;

    // Idempotent.
    void close() noexcept {
        error_code ec;
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
    }
    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    tcp::socket& socket() noexcept { return socket_; }

    // Without blocking: false when the peer has closed, reset, or sent something we did not ask
    // for (an idle server's FATAL before it goes away).
    [[nodiscard]] bool idle_and_alive() noexcept;

private:
    tcp::socket socket_;
    Clock::duration write_timeout_{};
};

}  // namespace sluice::proxy
