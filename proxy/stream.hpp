#pragma once
// A byte stream to a client or a server. Plain TCP today; TLS joins here (both sides) without
// changing the code that reads and writes it.
#include <tuple>

#include "proxy/asio.hpp"

namespace sluice::proxy {

class Stream {
public:
    explicit Stream(tcp::socket socket) noexcept : socket_(std::move(socket)) {}

    auto read_some(asio::mutable_buffer buffer) { return socket_.async_read_some(buffer, use_tuple); }
    auto write_all(asio::const_buffer buffer) { return asio::async_write(socket_, buffer, use_tuple); }
    template <class Buffers>
    auto write_all_buffers(const Buffers& buffers) {
        return asio::async_write(socket_, buffers, use_tuple);
    }

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
};

}  // namespace sluice::proxy
