#include "proxy/stream.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <system_error>

#include "proxy/handshake_executor.hpp"
#include "proxy/thread_handoff.hpp"
#include "proxy/tls_engine.hpp"

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;

namespace {
// One TLS record's worth of plaintext at a time: a full socket holds back at most one record.
constexpr std::size_t kRecordPlaintext = 16 * 1024;
constexpr std::size_t kCipherRead = 17 * 1024;  // a full record with its header and tag

// Non-blocking send of what the socket takes: the bytes sent; `ec` set on an error other than
// "full".
std::size_t send_now(int fd, const char* data, std::size_t size, error_code& ec) noexcept {
    std::size_t done = 0;
    while (done < size) {
        ssize_t n = ::send(fd, data + done, size - done, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n >= 0) {
            done += static_cast<std::size_t>(n);
        } else if (errno != EINTR) {
            if (errno != EAGAIN && errno != EWOULDBLOCK) ec = error_code(errno, asio::error::get_system_category());
            break;
        }
    }
    return done;
}

error_code tls_error() { return error_code(asio::error::connection_aborted); }

}  // namespace

// Only a TLS stream pays for these.
struct Stream::Tls {
    // Shared with a handshake step on the handshake thread, which may outlive the stream.
    std::shared_ptr<TlsEngine> engine;
    bool stepping = false;  // a handshake step is using the engine on the handshake thread
    std::string cipher_out;  // ciphertext not yet taken by the socket, from cipher_sent
    std::size_t cipher_sent = 0;
    // Plaintext bytes whose record is in cipher_out but that write_now did not report written.
    std::size_t unreported = 0;
    std::string cipher_in;  // read buffer for ciphertext
};

Stream::Stream(tcp::socket socket) noexcept : socket_(std::move(socket)) {}
Stream::~Stream() {
    // A read still pending completes when socket_ closes, below: the op outlives the stream.
    if (receive_ && receive_->busy()) receive_.release()->orphan();
}
Stream::Stream(Stream&&) noexcept = default;

bool Stream::park(ParkingLot& lot, std::shared_ptr<void> owner) {
    return socket_.is_open() && lot.park(parking_, socket_.native_handle(), std::move(owner));
}

void Stream::cancel() noexcept {
    if (auto* lot = parking_.lot(); lot && lot->wake(parking_)) return;
    error_code ignored;
    socket_.cancel(ignored);
}

void Stream::close() noexcept {
    error_code ec;
    if (tls_ && !tls_->stepping && socket_.is_open()) {
        // The engine stays: a coroutine suspended on this stream still uses it, and fails on the closed socket.
        tls_->engine->shutdown();
        flush_now(ec);
    }
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
}

bool Stream::idle_and_alive() noexcept {
    if (!socket_.is_open()) return false;
    if (tls_ && tls_->engine->has_buffered_input()) return false;
    char byte;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    return false;  // 0: EOF; > 0: unsolicited bytes
}

std::size_t Stream::plain_write_now(const char* data, std::size_t size, error_code& ec) noexcept {
    return send_now(socket_.native_handle(), data, size, ec);
}

bool Stream::flush_now(error_code& ec) noexcept {
    if (tls_->engine->has_output()) {
        try {
            tls_->engine->take_output(tls_->cipher_out);
        } catch (const std::bad_alloc&) {
            ec = asio::error::no_memory;
            return false;
        }
    }
    if (tls_->cipher_sent < tls_->cipher_out.size())
        tls_->cipher_sent += send_now(socket_.native_handle(), tls_->cipher_out.data() + tls_->cipher_sent,
                                 tls_->cipher_out.size() - tls_->cipher_sent, ec);
    if (tls_->cipher_sent < tls_->cipher_out.size()) return false;
    tls_->cipher_out.clear();  // keeps its capacity
    tls_->cipher_sent = 0;
    return true;
}

std::size_t Stream::tls_write_now(const char* data, std::size_t size, error_code& ec) noexcept {
    if (!flush_now(ec)) return 0;
    // The record of these bytes has gone out whole: now they count as written.
    std::size_t done = std::min(tls_->unreported, size);
    tls_->unreported = 0;
    while (done < size) {
        std::size_t n = std::min(size - done, kRecordPlaintext);
        if (!tls_->engine->write(data + done, n)) {
            ec = tls_error();
            return done;
        }
        if (!flush_now(ec)) {
            if (!ec) tls_->unreported = n;
            return done;
        }
        done += n;
    }
    return done;
}

awaitable<error_code> Stream::wait_writable() {
    if (write_timeout_ == Clock::duration::zero()) {
        auto [ec] = co_await socket_.async_wait(tcp::socket::wait_write, use_tuple);
        co_return ec;
    }
    asio::steady_timer deadline(executor());
    deadline.expires_after(write_timeout_);
    auto step = co_await (socket_.async_wait(tcp::socket::wait_write, use_tuple) || deadline.async_wait(use_tuple));
    if (step.index() == 1) co_return error_code(asio::error::timed_out);
    co_return std::get<0>(std::get<0>(step));
}

awaitable<std::tuple<error_code, std::size_t>> Stream::write_all(asio::const_buffer buffer) {
    const auto* data = static_cast<const char*>(buffer.data());
    const std::size_t size = buffer.size();
    error_code ec;
    if (!socket_.is_open()) co_return std::tuple{error_code(asio::error::bad_descriptor), std::size_t{0}};
    std::size_t done = write_now(data, size, ec);
    if (ec) co_return std::tuple{ec, done};

    if (tls_) {
        // Until every record is out, also when `buffer` is empty (a handshake's last flight).
        while (done < size || !tls_->cipher_out.empty() || tls_->engine->has_output()) {
            if (auto wec = co_await wait_writable()) co_return std::tuple{wec, done};
            done += write_now(data + done, size - done, ec);
            if (ec) co_return std::tuple{ec, done};
        }
        co_return std::tuple{error_code{}, done};
    }
    if (done == size) co_return std::tuple{ec, done};

    // The peer is not keeping up: wait for it, but not for ever.
    if (write_timeout_ == Clock::duration::zero()) {
        auto [wec, n] = co_await asio::async_write(socket_, asio::buffer(data + done, size - done), use_tuple);
        co_return std::tuple{wec, done + n};
    }
    asio::steady_timer deadline(executor());
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

awaitable<std::tuple<error_code, std::size_t>> Stream::tls_read_some(asio::mutable_buffer buffer) {
    auto* data = static_cast<char*>(buffer.data());
    for (;;) {
        // Plaintext may wait inside OpenSSL: take it before waiting on the socket, and take as
        // much as there is (a record at a time) so that one wake-up moves a full buffer.
        std::size_t got = 0;
        TlsEngine::Read r{TlsEngine::Status::Done, 0};
        while (got < buffer.size()) {
            r = tls_->engine->read(data + got, buffer.size() - got);
            if (r.status != TlsEngine::Status::Done) break;
            got += r.size;
        }
        // Reading may have produced records to send (a key update's answer): off they go, if the
        // socket takes them now; otherwise with the next write.
        error_code ignored;
        if (tls_->engine->has_output()) flush_now(ignored);
        if (got > 0) co_return std::tuple{error_code{}, got};
        if (r.status == TlsEngine::Status::Closed) co_return std::tuple{error_code(asio::error::eof), std::size_t{0}};
        if (r.status == TlsEngine::Status::Failed) co_return std::tuple{tls_error(), std::size_t{0}};

        if (tls_->cipher_in.size() < kCipherRead) tls_->cipher_in.resize(kCipherRead);
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(tls_->cipher_in), use_tuple);
        if (n > 0) tls_->engine->received(tls_->cipher_in.data(), n);
        if (ec && n == 0) co_return std::tuple{ec, std::size_t{0}};
    }
}

const TlsEngine* Stream::tls() const noexcept { return tls_ ? tls_->engine.get() : nullptr; }

void Stream::make_receive_op() {
    receive_ = std::make_unique<ReceiveOp>(asio::query(socket_.get_executor(), asio::execution::context_as<asio::execution_context&>));
}

void Stream::release_memory() noexcept {
    if (receive_ && !receive_->busy()) receive_.reset();
    if (tls_) std::string().swap(tls_->cipher_in);
}

bool Stream::tls_buffered() const noexcept { return tls_->engine->has_buffered_input(); }

bool Stream::tls_flushed() const noexcept { return tls_->cipher_out.empty() && !tls_->engine->has_output(); }

awaitable<bool> Stream::start_tls(std::unique_ptr<TlsEngine> engine, std::string& error) {
    if (!engine) {
        error = "cannot start TLS";
        co_return false;
    }
    tls_ = std::make_unique<Tls>();
    tls_->engine = std::move(engine);
    tls_->cipher_in.resize(kCipherRead);
    for (;;) {
        // The key exchange and signatures run on the handshake thread (handshake_executor.hpp);
        // the stream is not used meanwhile, this coroutine waiting for the step.
        TlsEngine::Status status;
        if (auto on = handshake_executor()) {
            // The step's result comes back through a Handoff (thread_handoff.hpp), awaited past any
            // cancellation, as the engine is in use on the other thread until it is raised.
            struct Step : Handoff {
                TlsEngine::Status status = TlsEngine::Status::Failed;
            };
            std::shared_ptr<Step> step;
            try {
                step = std::make_shared<Step>();
            } catch (const std::system_error& e) {
                error = std::string("cannot hand the TLS handshake step to its thread: ") + e.what();
                co_return false;
            }
            asio::post(*on, [step, engine = tls_->engine] {
                step->status = engine->handshake();
                step->raise();
            });
            tls_->stepping = true;
            auto ec = co_await Handoff::wait(step, false);
            tls_->stepping = !step->raised();
            if (ec) {
                error = "cannot wait for the TLS handshake step: " + ec.message();
                co_return false;
            }
            status = step->status;
        } else {
            status = tls_->engine->handshake();
        }
        // Every flight goes out before the next is awaited; the last one too (Finished).
        auto [wec, ignored] = co_await write_all(asio::const_buffer());
        if (status == TlsEngine::Status::Failed) {
            error = tls_->engine->error();
            co_return false;
        }
        if (wec) {
            error = wec.message();
            co_return false;
        }
        if (status == TlsEngine::Status::Done) co_return true;
        auto [ec, n] = co_await socket_.async_read_some(asio::buffer(tls_->cipher_in), use_tuple);
        if (n > 0) tls_->engine->received(tls_->cipher_in.data(), n);
        if (ec && n == 0) {
            error = ec == asio::error::eof ? "the peer closed the connection during the TLS handshake" : ec.message();
            co_return false;
        }
    }
}

}  // namespace sluice::proxy
