#pragma once
// The Asio vocabulary of proxy/. Included (precompiled) by proxy translation units only; keep it
// out of headers that protocol/ or config/ see.
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace sluice::proxy {

namespace asio = boost::asio;
using asio::awaitable;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;
using Clock = std::chrono::steady_clock;

// A TCP socket on the io_context's own executor: 40 bytes, where tcp::socket (a type-erased
// executor) takes 88 of every parked client's. What a session runs on (a strand with several
// workers) is its Stream's executor().
using Socket = asio::basic_stream_socket<tcp, asio::io_context::executor_type>;
using Strand = asio::strand<asio::io_context::executor_type>;
// A Socket on the io_context behind `ex` (a strand of it, or it: sluice runs no other context).
inline Socket socket_on(const asio::any_io_executor& ex) {
    return Socket(static_cast<asio::io_context&>(asio::query(ex, asio::execution::context)));
}

// Expected failures (EOF, resets, timeouts) come back as values, not exceptions.
inline constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);
// The same for an operation awaited where it is made: co_await takes a deferred operation as it is,
// where use_awaitable wraps each one in a coroutine frame of its own. Not for awaitable operators.
inline constexpr auto deferred_tuple = asio::as_tuple(asio::deferred);

}  // namespace sluice::proxy
