// Stream over TLS on a real loopback TCP pair (sluice's server side against its client side):
// write_now into a full socket follows SSL_write's rule (a short write is retried with the same
// bytes) and the peer receives every byte once, in order; plaintext OpenSSL already holds is read
// without waiting on the socket; idle_and_alive() sees it.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include "proxy/stream.hpp"
#include "proxy/tls_context.hpp"
#include "proxy/tls_engine.hpp"
#include "tests/support/tls_certs.hpp"

namespace sluice::proxy {
namespace {

using testing::TlsCerts;

struct TlsPair {
    asio::io_context io;
    std::optional<Stream> server;  // sluice as a TLS server
    std::optional<Stream> client;  // sluice as a TLS client

    TlsPair() {
        // Small buffers, set before the connection exists (so the advertised window is small from
        // the start): the socket fills after a few records.
        tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        acceptor.set_option(asio::socket_base::send_buffer_size(16384));
        tcp::socket a(io), b(io);
        b.open(tcp::v4());
        b.set_option(asio::socket_base::receive_buffer_size(16384));
        b.connect(acceptor.local_endpoint());
        acceptor.accept(a);
        // As sluice's own sockets: without it, each small segment waits for a delayed ACK.
        a.set_option(tcp::no_delay(true));
        b.set_option(tcp::no_delay(true));
        server.emplace(std::move(a));
        client.emplace(std::move(b));

        const auto& certs = TlsCerts::shared();
        config::ClientTls settings;
        settings.mode = config::ClientTlsMode::Require;
        settings.cert_file = certs.server_cert.string();
        settings.key_file = certs.server_key.string();
        config::UpstreamUrl url;
        url.sslmode = config::SslMode::VerifyFull;
        url.sslrootcert = certs.ca_cert.string();
        std::string error;
        auto server_ctx = TlsContext::for_clients(settings, error);
        auto client_ctx = TlsContext::for_upstream(url, error);
        EXPECT_TRUE(server_ctx && client_ctx) << error;
        int done = 0;
        auto handshake = [&](Stream& s, std::unique_ptr<TlsEngine> engine) -> awaitable<void> {
            std::string why;
            EXPECT_TRUE(co_await s.start_tls(std::move(engine), why)) << why;
            ++done;
        };
        asio::co_spawn(io, handshake(*server, TlsEngine::server(server_ctx)), asio::detached);
        asio::co_spawn(io, handshake(*client, TlsEngine::client(client_ctx, "localhost", "localhost")), asio::detached);
        io.run();
        io.restart();
        EXPECT_EQ(done, 2);
    }
};

std::string pattern(std::size_t size) {
    std::string s(size, '\0');
    for (std::size_t i = 0; i < size; ++i) s[i] = static_cast<char>((i * 7 + i / 251) % 256);
    return s;
}

TEST(TlsStream, ShortWriteNowRetriedWithTheSameBytesLosesAndRepeatsNothing) {
    TlsPair p;
    ASSERT_TRUE(p.server->is_tls() && p.client->is_tls());
    const std::string data = pattern(1024 * 1024);

    // The peer does not read yet: write_now fills the socket and comes back short.
    error_code ec;
    std::size_t offset = 0;
    int short_writes = 0;
    while (offset < data.size()) {
        std::size_t chunk = std::min<std::size_t>(64 * 1024, data.size() - offset);
        std::size_t n = p.server->write_now(data.data() + offset, chunk, ec);
        ASSERT_FALSE(ec) << ec.message();
        ASSERT_LE(n, chunk);
        offset += n;
        if (n < chunk) {
            ++short_writes;
            break;
        }
    }
    ASSERT_EQ(short_writes, 1) << "the socket never filled";
    ASSERT_LT(offset, data.size());

    // Now the reader runs, and the writer goes on as the relay does: the rest, from `offset`.
    std::string received;
    auto reader = [&]() -> awaitable<void> {
        std::string buffer(64 * 1024, '\0');
        while (received.size() < data.size()) {
            auto [rec, n] = co_await p.client->read_some(asio::buffer(buffer));
            if (rec) co_return;
            received.append(buffer.data(), n);
        }
    };
    auto writer = [&]() -> awaitable<void> {
        while (offset < data.size()) {
            // Alternate: a non-blocking attempt, then a waiting write of what it left.
            std::size_t chunk = std::min<std::size_t>(100 * 1000, data.size() - offset);
            error_code wec;
            std::size_t n = p.server->write_now(data.data() + offset, chunk, wec);
            EXPECT_FALSE(wec);
            if (n < chunk) {
                auto [aec, m] = co_await p.server->write_all(asio::buffer(data.data() + offset + n, chunk - n));
                EXPECT_FALSE(aec);
                EXPECT_EQ(m, chunk - n);
            }
            offset += chunk;
        }
    };
    asio::co_spawn(p.io, reader(), asio::detached);
    asio::co_spawn(p.io, writer(), asio::detached);
    p.io.run();
    ASSERT_EQ(received.size(), data.size());
    EXPECT_TRUE(received == data) << "bytes lost, repeated or reordered";
}

TEST(TlsStream, PlaintextHeldByOpenSslIsReadWithoutWaitingOnTheSocket) {
    TlsPair p;
    // Two records in one go; the first read takes only a few bytes, the rest stays inside OpenSSL.
    const std::string data = pattern(20000);
    error_code ec;
    ASSERT_EQ(p.client->write_now(data.data(), data.size(), ec), data.size());
    std::string received;
    auto reader = [&]() -> awaitable<void> {
        char small[10];
        auto [rec, n] = co_await p.server->read_some(asio::buffer(small));
        EXPECT_FALSE(rec);
        received.append(small, n);
        // Whatever OpenSSL holds must not look idle (and the socket may be empty by now).
        EXPECT_FALSE(p.server->idle_and_alive());
        std::string big(64 * 1024, '\0');
        while (received.size() < data.size()) {
            auto [rec2, m] = co_await p.server->read_some(asio::buffer(big));
            if (rec2) co_return;
            received.append(big.data(), m);
        }
        EXPECT_TRUE(p.server->idle_and_alive());
    };
    asio::co_spawn(p.io, reader(), asio::detached);
    p.io.run();
    EXPECT_TRUE(received == data);
}

}  // namespace
}  // namespace sluice::proxy
