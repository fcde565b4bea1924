#pragma once
// A server lent to one client. The lease is the only owner of the server while it is out of the
// pool; it goes back exactly once: give_back() when the server is idle and clean, close() when its
// state is unknown or broken. A lease that goes out of scope still holding its server (a cancelled
// co_await, an exception) closes it: an unknown state is never lent again.
#include <memory>

#include "proxy/server_close_reason.hpp"
#include "proxy/server_connection.hpp"

namespace sluice::proxy {

class Pool;

class Lease {
public:
    Lease() noexcept = default;
    Lease(std::shared_ptr<Pool> pool, std::unique_ptr<ServerConnection> server) noexcept
        : pool_(std::move(pool)), server_(std::move(server)) {}
    Lease(Lease&& other) noexcept = default;
    Lease& operator=(Lease&& other) noexcept {
        if (this != &other) {
            if (server_) close(ServerCloseReason::Abandoned);
            pool_ = std::move(other.pool_);
            server_ = std::move(other.server_);
        }
        return *this;
    }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    // Most leases end moved from (a server passes through several on its way to a session): the
    // check is inline, the close is not.
    ~Lease() {
        if (server_) close(ServerCloseReason::Abandoned);
    }

    explicit operator bool() const noexcept { return server_ != nullptr; }
    ServerConnection* operator->() const noexcept { return server_.get(); }
    ServerConnection& operator*() const noexcept { return *server_; }
    [[nodiscard]] Pool& pool() const noexcept { return *pool_; }

    // The server is idle (ReadyForQuery 'I', nothing in flight) and carries no client state.
    void give_back();
    // Its state is unknown or it broke. No-op on an empty lease.
    void close(ServerCloseReason reason) noexcept;

private:
    std::shared_ptr<Pool> pool_;
    std::unique_ptr<ServerConnection> server_;
};

}  // namespace sluice::proxy
