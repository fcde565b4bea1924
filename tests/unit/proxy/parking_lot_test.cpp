// ParkingLot on real loopback sockets: a parked stream comes back when its peer speaks or hangs up,
// or when it is cancelled, its socket never leaving Asio's reactor; bytes that arrived before the park are
// found at once; the lot's one-shot registrations are reused; more sockets ready at once than one
// read of the epoll set takes all resume; the lot lets go of what is parked when it goes.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "proxy/parking_lot.hpp"
#include "proxy/stream.hpp"

namespace sluice::proxy {
namespace {

// One side of a loopback connection as a Stream (what parks), the other as a plain socket.
struct Parked {
    Stream stream;
    tcp::socket peer;
    int resumed = 0;
    bool interrupted = false;
};

std::shared_ptr<Parked> connected_pair(asio::io_context& io) {
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    tcp::socket a(io), b(io);
    b.connect(acceptor.local_endpoint());
    acceptor.accept(a);
    return std::make_shared<Parked>(Parked{Stream(std::move(a)), std::move(b)});
}

void on_resume(std::shared_ptr<void> owner, bool interrupted) {
    auto parked = std::static_pointer_cast<Parked>(std::move(owner));
    ++parked->resumed;
    parked->interrupted = interrupted;
}

bool park(ParkingLot& lot, const std::shared_ptr<Parked>& p) { return p->stream.park(lot, p); }

void send(tcp::socket& socket, const std::string& bytes) { asio::write(socket, asio::buffer(bytes)); }

// Runs `io` until `done` or nothing is left to run for a while.
template <class Done>
void run_until(asio::io_context& io, Done done) {
    for (int i = 0; i < 2000 && !done(); ++i) {
        io.restart();
        io.run_for(std::chrono::milliseconds(1));
    }
}

// Runs what is ready now, and a little while for what the kernel has on its way.
void settle(asio::io_context& io) {
    io.restart();
    io.run_for(std::chrono::milliseconds(20));
}

// What the stream reads next, within a second.
std::string read_next(asio::io_context& io, Stream& stream) {
    std::string got;
    bool done = false;
    asio::co_spawn(
        io,
        [&]() -> awaitable<void> {
            char buffer[256];
            auto [ec, n] = co_await stream.read_some(asio::buffer(buffer));
            got = ec ? "error: " + ec.message() : std::string(buffer, n);
            done = true;
        },
        asio::detached);
    run_until(io, [&] { return done; });
    return done ? got : "nothing read";
}

// Waits for the next resume of `p` (not interrupted) and reads from its stream.
std::string resume_and_read(asio::io_context& io, Parked& p) {
    const int before = p.resumed;
    run_until(io, [&] { return p.resumed > before; });
    if (p.resumed != before + 1) return "resumed " + std::to_string(p.resumed - before) + " times";
    if (p.interrupted) return "resumed as interrupted";
    return read_next(io, p.stream);
}

TEST(ParkingLot, AParkedStreamResumesWhenItsPeerSpeaksAndReadsWhatItSaid) {
    asio::io_context io;
    ParkingLot lot(io, &on_resume);
    auto p = connected_pair(io);
    const int fd = p->stream.socket().native_handle();
    ASSERT_TRUE(park(lot, p));
    EXPECT_EQ(lot.parked(), 1u);
    EXPECT_TRUE(p->stream.is_open()) << "a parked socket stays its stream's";
    settle(io);
    EXPECT_EQ(p->resumed, 0) << "resumed with nothing to read";

    send(p->peer, "hello");
    EXPECT_EQ(resume_and_read(io, *p), "hello");
    EXPECT_EQ(lot.parked(), 0u);
    EXPECT_EQ(p->stream.socket().native_handle(), fd) << "the same socket, never out of the reactor";
}

// As a session parks: it cancels its read, and the client's next bytes may come before the park,
// their readiness edge taken by Asio's edge-triggered reactor while no operation waits. The lot's
// level-triggered registration must find them when it is made.
TEST(ParkingLot, BytesThatArrivedBeforeTheParkResumeItAtOnce) {
    asio::io_context io;
    ParkingLot lot(io, &on_resume);
    auto p = connected_pair(io);
    char buffer[16];
    bool read_done = false;
    p->stream.socket().async_read_some(asio::buffer(buffer), [&](error_code, std::size_t) { read_done = true; });
    settle(io);  // registered; the speculative read found nothing
    p->stream.cancel();
    run_until(io, [&] { return read_done; });
    ASSERT_TRUE(read_done);
    send(p->peer, "early");
    settle(io);  // the reactor takes the edge: nothing waits for it

    ASSERT_TRUE(park(lot, p));
    EXPECT_EQ(resume_and_read(io, *p), "early") << "bytes in the socket before the park";
}

TEST(ParkingLot, CancelResumesAParkedStreamAsInterruptedAndItParksAgain) {
    asio::io_context io;
    ParkingLot lot(io, &on_resume);
    auto p = connected_pair(io);
    ASSERT_TRUE(park(lot, p));
    p->stream.cancel();
    EXPECT_EQ(p->resumed, 1) << "the resume runs inside cancel() (it posts what it does)";
    EXPECT_TRUE(p->interrupted);
    EXPECT_EQ(lot.parked(), 0u);
    p->stream.cancel();  // not parked: nothing to wake, nothing pending
    EXPECT_EQ(p->resumed, 1);

    // Out of the lot's set after the cancel: parked again, it registers anew.
    ASSERT_TRUE(park(lot, p));
    send(p->peer, "again");
    EXPECT_EQ(resume_and_read(io, *p), "again");

    // After a resume by readiness its one-shot registration stays, disarmed, and is re-armed.
    for (int round = 0; round < 3; ++round) {
        ASSERT_TRUE(park(lot, p));
        settle(io);
        EXPECT_EQ(p->resumed, 2 + round) << "a disarmed registration fired";
        send(p->peer, "round " + std::to_string(round));
        EXPECT_EQ(resume_and_read(io, *p), "round " + std::to_string(round));
    }
}

TEST(ParkingLot, APeerThatHangsUpResumesItsStreamWhichReadsTheEnd) {
    asio::io_context io;
    ParkingLot lot(io, &on_resume);
    auto p = connected_pair(io);
    ASSERT_TRUE(park(lot, p));
    p->peer.close();
    EXPECT_EQ(resume_and_read(io, *p), "error: End of file");
}

TEST(ParkingLot, MoreStreamsReadyAtOnceThanOneReadOfTheSetTakesAllResume) {
    asio::io_context io;
    ParkingLot lot(io, &on_resume);
    std::vector<std::shared_ptr<Parked>> all;
    for (int i = 0; i < 200; ++i) {
        all.push_back(connected_pair(io));
        ASSERT_TRUE(park(lot, all.back()));
    }
    EXPECT_EQ(lot.parked(), 200u);
    for (auto& p : all) send(p->peer, "x");
    auto resumed = [&] {
        int n = 0;
        for (auto& p : all) n += p->resumed;
        return n;
    };
    run_until(io, [&] { return resumed() == 200; });
    EXPECT_EQ(resumed(), 200);
    EXPECT_EQ(lot.parked(), 0u);
}

TEST(ParkingLot, TheLotLetsGoOfWhatIsStillParkedWhenItGoes) {
    asio::io_context io;
    auto lot = std::make_unique<ParkingLot>(io, &on_resume);
    auto p = connected_pair(io);
    std::weak_ptr<Parked> watch = p;
    ASSERT_TRUE(park(*lot, p));
    auto& peer = p->peer;
    tcp::socket keep_peer = std::move(peer);
    p.reset();
    EXPECT_FALSE(watch.expired()) << "the lot keeps a parked owner alive";
    lot.reset();
    EXPECT_TRUE(watch.expired()) << "the lot still held its owner";
    // The parked descriptor went with its stream: the peer reads the end.
    char byte;
    error_code ec;
    keep_peer.read_some(asio::buffer(&byte, 1), ec);
    EXPECT_EQ(ec, asio::error::eof);
}

}  // namespace
}  // namespace sluice::proxy
