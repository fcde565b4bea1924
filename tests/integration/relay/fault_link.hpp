#pragma once
// A TCP relay the test controls, put between sluice and PostgreSQL (sluice's database URL points
// at it). It forwards bytes both ways like a network would, and on request does what a network or
// a dying server does, at a moment the test chooses instead of one a race chooses:
//   - freeze one direction of a connection (its bytes pile up in the socket buffers);
//   - cut a connection: an RST to sluice, with no ErrorResponse before it (a host or network
//     failure, not a PostgreSQL shutdown), and a close towards PostgreSQL;
//   - hold connections as they are accepted (a slow route, e.g. for a CancelRequest) until the
//     test releases them.
// Connections are numbered in the order they were accepted, from 0.
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace sluice::testing {

class FaultLink {
public:
    FaultLink(std::string upstream_host, std::uint16_t upstream_port);
    FaultLink(const FaultLink&) = delete;
    FaultLink& operator=(const FaultLink&) = delete;
    ~FaultLink();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] std::string url(std::string_view database) const;

    // Connections accepted so far (also those already closed).
    [[nodiscard]] std::size_t connections() const;
    // Connections accepted while holding forward nothing (and do not connect to PostgreSQL) until
    // release_held().
    void hold_new_connections(bool hold) noexcept { hold_new_ = hold; }
    void release_held();

    // Stops reading what sluice sends on connection i.
    void freeze_client_to_server(std::size_t i);
    // Forwards what sluice sends on connection i again (what piled up first).
    void thaw_client_to_server(std::size_t i);
    // Bytes sluice sent on connection i that wait unread in the relay's socket.
    [[nodiscard]] std::size_t queued_from_client(std::size_t i) const;
    // Bytes read from sluice on connection i (all forwarded unless frozen or cut).
    [[nodiscard]] std::uint64_t forwarded_client_to_server(std::size_t i) const;
    // RST to sluice, close towards PostgreSQL; returns once both sockets are closed.
    void cut(std::size_t i);
    [[nodiscard]] bool closed(std::size_t i) const;

private:
    struct Conn;
    void accept_loop();
    static void run(Conn& c, const std::string& host, std::uint16_t port);
    Conn& conn(std::size_t i) const;

    std::string upstream_host_;
    std::uint16_t upstream_port_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<bool> hold_new_{false};
    mutable std::mutex mutex_;
    std::vector<std::unique_ptr<Conn>> conns_;
    std::thread acceptor_;
};

}  // namespace sluice::testing
