#pragma once
// A read buffer that tells Asio's epoll reactor when the peer's turn is over (protocol/turn_end.hpp),
// so that the next read waits for readiness instead of trying the socket first.
//
// Asio 1.81 tries every read at once before it waits (a "speculative" read), and skips that try
// only after a read it marks exhausted: for a stream socket, EOF alone. A proxy reads a server
// right after sending it a query and a client right after sending it an answer, so the try nearly
// always fails with EAGAIN: one wasted recvfrom per wait, two per transaction.
//
// A read that returned fewer bytes than it had room for has emptied the receive queue, but that
// alone does not make it exhausted: a FIN or RST that came with the data is reported by the next
// recv, and edge-triggered epoll raises no new edge for it. So a short read counts as exhausted
// only when it also ends the peer's turn: the peer then waits for our answer, and when it has gone,
// writing that answer draws an RST (or fails), whose edge wakes the read. Data arriving later
// raises an edge too (epoll signals each arrival), and an edge seen while no read is queued turns
// the try back on. The cost: a client that half-closes right after its Query is noticed by the
// idle limits or keepalive rather than at once.
#include <boost/asio/buffer.hpp>
#include <boost/asio/detail/reactive_socket_recv_op.hpp>
#include <boost/version.hpp>
#include <cstddef>
#include <string_view>

#include "protocol/turn_end.hpp"

namespace sluice::proxy {

using protocol::kClientTurnEnd;
using protocol::kServerTurnEnd;
using protocol::TurnEnd;

// One contiguous buffer (a buffer sequence of one), with where the messages in it start.
class TurnReadBuffer {
public:
    using value_type = boost::asio::mutable_buffer;
    using const_iterator = const boost::asio::mutable_buffer*;

    // `first_frame` is where the first message not yet complete begins: inside `buffer`, or before
    // it in the same memory (the received start of that message). nullptr: unknown (never exhausted).
    TurnReadBuffer(boost::asio::mutable_buffer buffer, const char* first_frame, TurnEnd ends) noexcept
        : buffer_(buffer), first_frame_(ends.any() ? first_frame : nullptr), ends_(ends) {}

    [[nodiscard]] const_iterator begin() const noexcept { return &buffer_; }
    [[nodiscard]] const_iterator end() const noexcept { return &buffer_ + 1; }
    [[nodiscard]] boost::asio::mutable_buffer buffer() const noexcept { return buffer_; }

    // After `n` bytes arrived: did they end exactly after a message that ends the turn?
    [[nodiscard]] bool turn_ended(std::size_t n) const noexcept {
        if (first_frame_ == nullptr || n == 0) return false;
        auto before = static_cast<std::size_t>(static_cast<const char*>(buffer_.data()) - first_frame_);
        return protocol::ends_turn(std::string_view(first_frame_, before + n), ends_);
    }

private:
    boost::asio::mutable_buffer buffer_;
    const char* first_frame_;
    TurnEnd ends_;
};

}  // namespace sluice::proxy

// The receive operation's body for TurnReadBuffer: Asio's own (reactive_socket_recv_op_base),
// with a short read that ends the peer's turn counted as exhausted. Written against Boost 1.81's
// reactor; another version gets Asio's plain behaviour through the generic template.
#if BOOST_VERSION == 108100
namespace boost::asio::detail {

template <>
class reactive_socket_recv_op_base<sluice::proxy::TurnReadBuffer> : public reactor_op {
public:
    reactive_socket_recv_op_base(const boost::system::error_code& success_ec, socket_type socket,
                                 socket_ops::state_type state, const sluice::proxy::TurnReadBuffer& buffers,
                                 socket_base::message_flags flags, func_type complete_func)
        : reactor_op(success_ec, &reactive_socket_recv_op_base::do_perform, complete_func),
          socket_(socket),
          state_(state),
          buffers_(buffers),
          flags_(flags) {}

    static status do_perform(reactor_op* base) {
        auto* o = static_cast<reactive_socket_recv_op_base*>(base);
        const bool stream = (o->state_ & socket_ops::stream_oriented) != 0;
        auto buffer = o->buffers_.buffer();
        if (!socket_ops::non_blocking_recv1(o->socket_, buffer.data(), buffer.size(), o->flags_, stream, o->ec_,
                                            o->bytes_transferred_))
            return not_done;
        if (!stream) return done;
        if (o->bytes_transferred_ == 0) return done_and_exhausted;  // EOF, as Asio
        if (!o->ec_ && o->bytes_transferred_ < buffer.size() && o->buffers_.turn_ended(o->bytes_transferred_))
            return done_and_exhausted;
        return done;
    }

private:
    socket_type socket_;
    socket_ops::state_type state_;
    sluice::proxy::TurnReadBuffer buffers_;
    socket_base::message_flags flags_;
};

}  // namespace boost::asio::detail
#endif
