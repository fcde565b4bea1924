#pragma once
// A plain socket's receive that its Stream keeps and starts again for every read, completed
// straight from the reactor. Asio's own async_read_some allocates an operation per read, keeps a
// tracked copy of the socket's type-erased executor in it and dispatches the completion through
// that executor. With one worker the reactor's thread is the only one and every handler's executor
// is the io_context's, so none of it changes where or when a handler runs: it only costs. With
// its own recv() (Asio's wrapper assigns an error_code through its category on every call) this
// took a `pgbench -S` transaction from 4,288 to 3,711 instructions (two reads each).
//
// Written against Boost 1.81's reactor (as turn_read_buffer.hpp); with another version
// kReceiveOpAvailable is false and every read goes through Asio.
#include <sys/socket.h>

#include <boost/version.hpp>
#include <cerrno>
#include <cstddef>
#include <type_traits>
#include <utility>

#include "proxy/asio.hpp"
#include "proxy/in_place_handler.hpp"
#include "proxy/turn_read_buffer.hpp"

#if BOOST_VERSION == 108100
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/detail/reactor.hpp>
#include <boost/asio/detail/reactor_op.hpp>
#include <boost/asio/detail/socket_ops.hpp>
#endif

namespace sluice::proxy {

#if BOOST_VERSION == 108100

inline constexpr bool kReceiveOpAvailable = true;

class ReceiveOp final : public asio::detail::reactor_op {
public:
    // Room for the handlers sluice starts it with (an awaiting coroutine's, the relay's pump).
    using Handler = InPlaceHandler<32, error_code, std::size_t>;

    // `context` runs the sockets this op reads: its reactor is looked up once, here.
    explicit ReceiveOp(asio::execution_context& context)
        : reactor_op(error_code(), &ReceiveOp::perform, &ReceiveOp::complete),
          reactor_(asio::use_service<asio::detail::reactor>(context)) {}
    ReceiveOp(const ReceiveOp&) = delete;
    ReceiveOp& operator=(const ReceiveOp&) = delete;
    ~ReceiveOp() = default;

    // Whether start() takes a handler of type H (a bound executor's copy does not fit: with one
    // worker nothing binds one).
    template <class H>
    static constexpr bool holds = Handler::template fits<H>;

    // Between start() and the handler's call (or the reactor's shutdown).
    [[nodiscard]] bool busy() const noexcept { return !handler_.empty(); }

    // Reads `socket` into `buffer` as async_read_some(buffer, handler) would, `handler(error_code,
    // std::size_t)` called from the reactor's thread, which must be its executor's. False, with
    // `handler` untouched, when this way cannot: a per-operation cancellation slot, an empty buffer,
    // a socket not yet in non-blocking mode that refuses it.
    template <class H>
    bool start(tcp::socket& socket, const TurnReadBuffer& buffer, H& handler) {
        static_assert(holds<std::decay_t<H>>);
        if (asio::get_associated_cancellation_slot(handler).is_connected() || buffer.buffer().size() == 0)
            return false;
        auto& impl = implementation(socket);
        namespace ops = asio::detail::socket_ops;
        error_code ec;
        if ((impl.state_ & ops::non_blocking) == 0 && !ops::set_internal_non_blocking(impl.socket_, impl.state_, true, ec))
            return false;
        socket_ = impl.socket_;
        buffer_ = buffer;
        ec_ = error_code();
        bytes_transferred_ = 0;
        handler_.emplace(std::move(handler));
        reactor_.start_op(asio::detail::reactor::read_op, impl.socket_, impl.reactor_data_, this, false, true);
        return true;
    }

    // The owner goes while a read is pending. The reactor still holds the op and completes it
    // (aborted, once the socket closes): the handler runs as it would have, then the op frees itself.
    void orphan() noexcept { orphaned_ = true; }

private:
    using base_implementation = asio::detail::reactive_socket_service_base::base_implementation_type;

    // basic_socket keeps its implementation protected; a pointer to the member, named through a
    // derived class, reaches it (the descriptor and the reactor's data for it).
    struct SocketAccess : tcp::socket {
        static base_implementation& of(tcp::socket& socket) noexcept {
            return (socket.*(&SocketAccess::impl_)).get_implementation();
        }
    };
    static base_implementation& implementation(tcp::socket& socket) noexcept { return SocketAccess::of(socket); }

    // Asio's receive for a stream socket (reactive_socket_recv_op_base, non_blocking_recv1), with
    // a short read that ends the peer's turn counted as exhausted, as turn_read_buffer.hpp explains.
    static status perform(reactor_op* base) {
        auto* op = static_cast<ReceiveOp*>(base);
        const auto buffer = op->buffer_.buffer();
        for (;;) {
            const ssize_t n = ::recv(op->socket_, buffer.data(), buffer.size(), 0);
            if (n > 0) {
                const auto got = static_cast<std::size_t>(n);
                op->bytes_transferred_ = got;
                return got < buffer.size() && op->buffer_.turn_ended(got) ? done_and_exhausted : done;
            }
            if (n == 0) {
                op->ec_ = asio::error::eof;
                return done_and_exhausted;  // as Asio
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return not_done;
            op->ec_ = error_code(errno, asio::error::get_system_category());
            return done;
        }
    }

    // `owner` is null when the reactor shuts down with the read pending: the handler is destroyed
    // uncalled, as Asio destroys its own operations' handlers then. The handler may start the next
    // read with this op, or end its owner: nothing here touches the op after it ran, unless the
    // owner had already gone (then the op is nobody else's to free).
    static void complete(void* owner, asio::detail::scheduler_operation* base, const error_code&, std::size_t) {
        auto* op = static_cast<ReceiveOp*>(base);
        const auto how = owner ? Handler::Completion::call : Handler::Completion::destroy;
        if (!op->orphaned_) return op->handler_.complete(how, op->ec_, op->bytes_transferred_);
        op->handler_.complete(how, op->ec_, op->bytes_transferred_);
        delete op;
    }

    asio::detail::reactor& reactor_;
    asio::detail::socket_type socket_ = asio::detail::invalid_socket;
    TurnReadBuffer buffer_{asio::mutable_buffer(), nullptr, TurnEnd{}};
    bool orphaned_ = false;
    Handler handler_;
};

#else

inline constexpr bool kReceiveOpAvailable = false;

// Never made: Stream reads through Asio.
class ReceiveOp {
public:
    explicit ReceiveOp(asio::execution_context&) {}
    template <class H>
    static constexpr bool holds = false;
    [[nodiscard]] bool busy() const noexcept { return false; }
    template <class Handler>
    bool start(tcp::socket&, const TurnReadBuffer&, Handler&) {
        return false;
    }
    void orphan() noexcept {}
};

#endif

}  // namespace sluice::proxy
