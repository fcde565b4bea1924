#pragma once
// A byte stream to a client or a server: plain TCP, or TLS once start_tls() has run. Both read and
// write the same socket with the same non-blocking calls; a plain stream takes no TLS branch
// beyond one null check.
#include <cstddef>
#include <memory>
#include <string>
#include <tuple>

#include "proxy/asio.hpp"
#include "proxy/parking_lot.hpp"
#include "proxy/receive_op.hpp"
#include "proxy/turn_read_buffer.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {

class TlsEngine;

class Stream {
public:
    explicit Stream(tcp::socket socket) noexcept;
    ~Stream();
    Stream(Stream&&) noexcept;
    Stream& operator=(Stream&&) = delete;

    awaitable<std::tuple<error_code, std::size_t>> read_some(asio::mutable_buffer buffer) {
        if (tls_) return tls_read_some(buffer);
        return socket_.async_read_some(buffer, use_tuple);
    }
    // The same, telling a plain socket's reactor where the peer's turn may end (turn_read_buffer.hpp);
    // TLS reads ciphertext, whose messages cannot be seen, and reads as above.
    awaitable<std::tuple<error_code, std::size_t>> read_some(TurnReadBuffer buffer) {
        if (tls_) return tls_read_some(buffer.buffer());
        return socket_.async_read_some(buffer, use_tuple);
    }
    // read_some() for a plain stream (!is_tls()) as a deferred operation: co_awaited where it is
    // made, it costs no coroutine frame (the session's read between transactions).
    auto plain_read_some(TurnReadBuffer buffer) {
        return asio::async_initiate<decltype(deferred_tuple), void(error_code, std::size_t)>(
            [this](auto handler, TurnReadBuffer b) { plain_receive(b, handler); }, deferred_tuple, buffer);
    }
    // The same as a callback (the relay's pump): `handler(error_code, std::size_t)` runs on its
    // associated executor, which must be the one this stream is used from.
    template <class Handler>
    void async_read_some(TurnReadBuffer buffer, Handler&& handler) {
        if (!tls_) return plain_receive(buffer, handler);
        auto ex = asio::get_associated_executor(handler, executor());
        asio::co_spawn(ex, tls_read_some(buffer.buffer()),
                       [h = std::forward<Handler>(handler)](std::exception_ptr e,
                                                            std::tuple<error_code, std::size_t> r) mutable {
                           if (e) return h(error_code(asio::error::no_memory), std::size_t{0});
                           h(std::get<0>(r), std::get<1>(r));
                       });
    }

    // Writes all of `buffer`. A socket with room takes it at once, without a trip through the event
    // loop (the common case); otherwise the rest is written as the peer reads. A write that makes
    // no progress for the write timeout fails with timed_out, and the stream is then unusable.
    awaitable<std::tuple<error_code, std::size_t>> write_all(asio::const_buffer buffer);
    // write_all()'s first step, for a caller that awaits write_all() only when it is needed (one
    // coroutine frame fewer on the hot path): true when all of it, and over TLS every record of it,
    // is out; otherwise `done` bytes were written (write_all() goes on from there) or `ec` is set.
    bool write_all_now(const char* data, std::size_t size, std::size_t& done, error_code& ec) noexcept {
        done = write_now(data, size, ec);
        return !ec && done == size && (!tls_ || tls_flushed());
    }
    // Zero: no limit.
    void set_write_timeout(Clock::duration timeout) noexcept { write_timeout_ = timeout; }
    // What the socket takes now, without waiting: the bytes written (fewer when it is full), and
    // `ec` set on an error. After a short write, the next write must start with the bytes not
    // written (as OpenSSL's SSL_write asks): over TLS, the record holding them may be on its way.
    std::size_t write_now(const char* data, std::size_t size, error_code& ec) noexcept {
        if (tls_) return tls_write_now(data, size, ec);
        return plain_write_now(data, size, ec);
    }

    // TLS from now on, as the server of the handshake (a client's SSLRequest answered 'S', or its
    // first byte a TLS record) or as its client (an upstream's 'S'). `error` says why it failed.
    awaitable<bool> start_tls(std::unique_ptr<TlsEngine> engine, std::string& error);
    [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }
    // Nothing read from the socket waits inside the stream (TLS may hold plaintext or ciphertext), so
    // the socket's readiness tells whether there is more to read.
    [[nodiscard]] bool nothing_buffered() const noexcept { return !tls_ || !tls_buffered(); }
    // Frees the buffer kept between reads (TLS's ciphertext); the next read makes it again.
    void release_memory() noexcept;
    // nullptr for a plain stream.
    [[nodiscard]] const TlsEngine* tls() const noexcept;

    // Parks the stream in `lot` until its socket is readable or cancel() is called, keeping `owner`
    // alive; the lot's resume then runs (parking_lot.hpp), after which the stream is used as before. Only
    // with no operation pending on the socket. False if the lot could not take it.
    bool park(ParkingLot& lot, std::shared_ptr<void> owner);
    // Interrupts what waits to read the stream: a pending operation completes with
    // operation_aborted, a park resumes as interrupted.
    void cancel() noexcept;

    // Idempotent. Over TLS, a close_notify is sent if the socket takes it at once.
    void close() noexcept;
    [[nodiscard]] bool is_open() const noexcept { return socket_.is_open(); }
    // For socket options and cancel(). Reading or writing it directly bypasses TLS.
    tcp::socket& socket() noexcept { return socket_; }
    // Where what uses this stream runs: a client's strand when several threads run the io_context,
    // else the io_context. The socket's own: an I/O completion whose handler runs there is called
    // directly, where one on another executor (even the io_context's, typed) is dispatched to it.
    [[nodiscard]] const asio::any_io_executor& executor() noexcept { return socket_.get_executor(); }

    // Without blocking: false when the peer has closed, reset, or sent something we did not ask
    // for (an idle server's FATAL before it goes away).
    [[nodiscard]] bool idle_and_alive() noexcept;

private:
    // With one worker through the stream's own ReceiveOp (receive_op.hpp), else through Asio.
    template <class Handler>
    void plain_receive(const TurnReadBuffer& buffer, Handler& handler) {
        if constexpr (ReceiveOp::holds<std::decay_t<Handler>>) {
            if (WorkerMutex::single_worker()) {
                if (!receive_) make_receive_op();
                if (!receive_->busy() && receive_->start(socket_, buffer, handler)) return;
            }
        }
        socket_.async_read_some(buffer, std::move(handler));
    }
    void make_receive_op();
    std::size_t plain_write_now(const char* data, std::size_t size, error_code& ec) noexcept;
    std::size_t tls_write_now(const char* data, std::size_t size, error_code& ec) noexcept;
    awaitable<std::tuple<error_code, std::size_t>> tls_read_some(asio::mutable_buffer buffer);
    // Sends the pending ciphertext the socket takes now; true when none is left.
    bool flush_now(error_code& ec) noexcept;
    awaitable<error_code> wait_writable();
    [[nodiscard]] bool tls_buffered() const noexcept;
    [[nodiscard]] bool tls_flushed() const noexcept;

    tcp::socket socket_;
    std::unique_ptr<ReceiveOp> receive_;  // made at the first read, freed with release_memory()
    ParkingLot::Spot parking_;  // its place in the lot while parked
    Clock::duration write_timeout_{};
    struct Tls;  // the engine and its buffers
    std::unique_ptr<Tls> tls_;
};

}  // namespace sluice::proxy
