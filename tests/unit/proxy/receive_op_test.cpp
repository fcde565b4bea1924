// ReceiveOp on real loopback sockets: a read completes with the bytes, EOF, or operation_aborted
// when cancelled or closed; the op is started again from inside its own handler; a Stream that goes
// while its read is pending leaves the op to complete and free itself; an io_context that goes
// with a read pending destroys the handler uncalled. ASan's leak check covers the last two.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "proxy/receive_op.hpp"
#include "proxy/stream.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {
namespace {

struct Pair {
    tcp::socket near;
    tcp::socket far;
};

Pair connected_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket a(io), b(io);
    b.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    return {std::move(a), std::move(b)};
}

template <class Done>
void run_until(asio::io_context& io, Done done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
        io.restart();
        io.run_for(std::chrono::milliseconds(1));
    }
}

TurnReadBuffer space(char (&buffer)[64]) { return TurnReadBuffer(asio::buffer(buffer), nullptr, TurnEnd{}); }

struct Got {
    bool called = false;
    error_code ec;
    std::string bytes;
};

class ReceiveOpTest : public ::testing::Test {
protected:
    void SetUp() override {
        if (!kReceiveOpAvailable) GTEST_SKIP() << "this Boost reads through Asio";
        WorkerMutex::set_single_worker(true);
    }
    void TearDown() override { WorkerMutex::set_single_worker(false); }

    asio::io_context io{1};
    char buffer[64] = {};
};

TEST_F(ReceiveOpTest, ReadsAndIsStartedAgainFromItsOwnHandler) {
    auto [near, far] = connected_pair(io);
    struct Reader {
        ReceiveOp op;
        tcp::socket& socket;
        char buffer[64] = {};
        std::string got;
        int reads = 0;
    } reader{ReceiveOp(io), near, {}, {}, 0};
    struct Again {
        Reader* r;
        void operator()(error_code ec, std::size_t n) const {
            EXPECT_FALSE(ec) << ec.message();
            r->got.append(r->buffer, n);
            // Free before the call: the handler starts the next read with the same op.
            EXPECT_FALSE(r->op.busy());
            if (++r->reads < 2) {
                Again next{r};
                EXPECT_TRUE(r->op.start(r->socket, space(r->buffer), next));
            }
        }
    };
    Again again{&reader};
    ASSERT_TRUE(reader.op.start(near, space(reader.buffer), again));
    EXPECT_TRUE(reader.op.busy());
    asio::write(far, asio::buffer(std::string("first")));
    run_until(io, [&] { return reader.reads == 1; });
    EXPECT_EQ(reader.got, "first");
    EXPECT_TRUE(reader.op.busy());  // the second read
    asio::write(far, asio::buffer(std::string("second")));
    run_until(io, [&] { return reader.reads == 2; });
    EXPECT_EQ(reader.got, "firstsecond");
    EXPECT_FALSE(reader.op.busy());
}

TEST_F(ReceiveOpTest, ReportsEndOfFile) {
    auto [near, far] = connected_pair(io);
    ReceiveOp op(io);
    Got got;
    auto done = [&](error_code ec, std::size_t n) {
        got = {true, ec, std::string(buffer, n)};
    };
    ASSERT_TRUE(op.start(near, space(buffer), done));
    far.close();
    run_until(io, [&] { return got.called; });
    EXPECT_EQ(got.ec, asio::error::eof);
    EXPECT_EQ(got.bytes, "");
}

TEST_F(ReceiveOpTest, CancelAndCloseCompleteItAborted) {
    auto [near, far] = connected_pair(io);
    ReceiveOp op(io);
    Got got;
    auto done = [&](error_code ec, std::size_t) { got = {true, ec, {}}; };
    ASSERT_TRUE(op.start(near, space(buffer), done));
    near.cancel();
    run_until(io, [&] { return got.called; });
    EXPECT_EQ(got.ec, asio::error::operation_aborted);

    got = {};
    ASSERT_TRUE(op.start(near, space(buffer), done));
    near.close();
    run_until(io, [&] { return got.called; });
    EXPECT_EQ(got.ec, asio::error::operation_aborted);
    EXPECT_FALSE(op.busy());
}

TEST_F(ReceiveOpTest, DeclinesAnEmptyBufferAndLeavesTheHandler) {
    auto [near, far] = connected_pair(io);
    ReceiveOp op(io);
    auto alive = std::make_shared<int>(0);
    auto done = [alive](error_code, std::size_t) {};
    EXPECT_FALSE(op.start(near, TurnReadBuffer(asio::mutable_buffer(), nullptr, TurnEnd{}), done));
    EXPECT_FALSE(op.busy());
    EXPECT_EQ(alive.use_count(), 2);  // not moved from
}

// The relay's pump reads a server's Stream this way; the Stream may go first (its server closed).
TEST_F(ReceiveOpTest, StreamThatGoesWithAReadPendingLeavesTheOpToFinish) {
    auto [near, far] = connected_pair(io);
    auto stream = std::make_unique<Stream>(std::move(near));
    Got got;
    stream->async_read_some(space(buffer), [&](error_code ec, std::size_t) { got = {true, ec, {}}; });
    io.restart();
    io.poll();
    EXPECT_FALSE(got.called);
    stream.reset();  // closes the socket: the op completes aborted, then frees itself
    run_until(io, [&] { return got.called; });
    EXPECT_EQ(got.ec, asio::error::operation_aborted);
}

TEST_F(ReceiveOpTest, CoroutineReadsThroughPlainReadSome) {
    auto [near, far] = connected_pair(io);
    Stream stream(std::move(near));
    Got got;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            for (int i = 0; i < 2; ++i) {
                auto [ec, n] = co_await stream.plain_read_some(space(buffer));
                got.ec = ec;
                got.bytes.append(buffer, n);
            }
            got.called = true;
        },
        asio::detached);
    asio::write(far, asio::buffer(std::string("one")));
    run_until(io, [&] { return got.bytes == "one"; });
    asio::write(far, asio::buffer(std::string("two")));
    run_until(io, [&] { return got.called; });
    EXPECT_FALSE(got.ec);
    EXPECT_EQ(got.bytes, "onetwo");
}

// A session's coroutine awaits its client's read when the Server (and its io_context) goes.
TEST(ReceiveOpShutdown, AnIoContextThatGoesWithAReadPendingDestroysTheReaderUncalled) {
    if (!kReceiveOpAvailable) GTEST_SKIP() << "this Boost reads through Asio";
    WorkerMutex::set_single_worker(true);
    auto alive = std::make_shared<int>(0);
    bool resumed = false;
    {
        asio::io_context io{1};
        auto [near, far] = connected_pair(io);
        auto stream = std::make_shared<Stream>(std::move(near));
        asio::co_spawn(
            io,
            [stream, alive, &resumed]() -> awaitable<void> {
                char buffer[64];
                co_await stream->plain_read_some(TurnReadBuffer(asio::buffer(buffer), nullptr, TurnEnd{}));
                resumed = true;
            },
            asio::detached);
        stream.reset();  // the coroutine's frame holds the only one
        io.poll();
        EXPECT_EQ(alive.use_count(), 2);
    }
    EXPECT_FALSE(resumed);
    EXPECT_EQ(alive.use_count(), 1);  // the frame, and the stream and op with it, are gone
    WorkerMutex::set_single_worker(false);
}

}  // namespace
}  // namespace sluice::proxy
