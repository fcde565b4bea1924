#pragma once
// Cancel keys: each client gets a random (process id, secret) from sluice; a CancelRequest that
// matches one is forwarded, with the real server's key, to the server that client holds right now.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "config/model.hpp"
#include "proxy/asio.hpp"
#include "proxy/server_connection.hpp"

namespace sluice::proxy {

struct CancelTarget {
    config::HostPort endpoint;
    BackendKey key;
};

// What a session currently holds; written by the session, read by whoever handles a CancelRequest.
class CancelSlot {
public:
    void set(CancelTarget t) {
        std::lock_guard lock(mutex_);
        target_ = std::move(t);
    }
    void clear() {
        std::lock_guard lock(mutex_);
        target_.reset();
    }
    std::optional<CancelTarget> get() const {
        std::lock_guard lock(mutex_);
        return target_;
    }

private:
    mutable std::mutex mutex_;
    std::optional<CancelTarget> target_;
};

class CancelRegistry {
public:
    // A fresh key for a session: process id unique among live sessions, secret of
    // `secret_length` random bytes (4 for protocol 3.0, 32 for 3.2).
    BackendKey issue(std::shared_ptr<CancelSlot> slot, std::size_t secret_length);
    void forget(std::int32_t process_id);
    // The server to cancel, if the key matches a live session (constant-time secret check) and
    // that session holds a server now.
    std::optional<CancelTarget> find(std::int32_t process_id, std::string_view secret) const;

private:
    struct Entry {
        std::string secret;
        std::shared_ptr<CancelSlot> slot;
    };
    mutable std::mutex mutex_;
    std::unordered_map<std::int32_t, Entry> entries_;
};

// Opens a new connection to the server and sends it a CancelRequest with its own key.
awaitable<void> forward_cancel(CancelTarget target);

}  // namespace sluice::proxy
