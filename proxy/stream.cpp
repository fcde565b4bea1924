#include "proxy/stream.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;

bool Stream::idle_and_alive() noexcept {
    if (!socket_.is_open()) return false;
    char byte;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    return false;  // 0: EOF; > 0: unsolicited bytes
}

std::size_t Stream::write_now(const char* data, std::size_t size, error_code& ec) noexcept {
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::send(socket_.native_handle(), data + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) ec = error_code(errno, asio::error::get_system_category());
            break;
        }
    }
    return done;
}

awaitable<std::tuple<error_code, std::size_t>> Stream::write_all(asio::const_buffer buffer) {
    const auto* data = static_cast<const char*>(buffer.data());
    const std::size_t size = buffer.size();
    error_code ec;
    if (!socket_.is_open()) co_return std::tuple{error_code(asio::error::bad_descriptor), std::size_t{0}};
    std::size_t done = write_now(data, size, ec);
    if (ec || done == size) co_return std::tuple{ec, done};

    // The peer is not keeping up: wait for it, but not for ever.
    if (write_timeout_ == Clock::duration::zero()) {
        auto [wec, n] = co_await asio::async_write(socket_, asio::buffer(data + done, size - done), use_tuple);
        co_return std::tuple{wec, done + n};
    }
    asio::steady_timer deadline(socket_.get_executor());
    while (done < size) {
        deadline.expires_after(write_timeout_);
        auto step = co_await (socket_.async_write_some(asio::buffer(data + done, size - done), use_tuple) ||
                              deadline.async_wait(use_tuple));
        if (step.index() == 1) co_return std::tuple{error_code(asio::error::timed_out), done};
        auto [wec, n] = std::get<0>(step);
        done += n;
        if (wec) co_return std::tuple{wec, done};
    }
    co_return std::tuple{error_code{}, done};
}

}  // namespace sluice::proxy
