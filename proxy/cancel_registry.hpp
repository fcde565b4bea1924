#pragma once
// Cancel keys: each client gets a random (process id, secret) from sluice; a CancelRequest that
// matches one is forwarded, with the real server's key, to the server that client holds right now.
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "config/model.hpp"
#include "protocol/auth/siphash.hpp"
#include "proxy/asio.hpp"
#include "proxy/server_connection.hpp"
#include "proxy/worker_mutex.hpp"

namespace sluice::proxy {

// What a session currently holds, and the key its client cancels with. Written by the session,
// read by whoever handles a CancelRequest. A member of the session, not an allocation of its own:
// the registry points to it from issue() until forget(), which the session calls before it goes.
class CancelSlot {
public:
    void set(std::shared_ptr<const CancelTarget> t) {
        std::lock_guard lock(lock_of(this));
        target_ = std::move(t);
    }
    void clear() {
        std::lock_guard lock(lock_of(this));
        target_.reset();
    }
    // The target, counted as in flight (under the same lock the session clears it with, so a
    // session that lets go of its server afterwards sees the count). Call done() on it later.
    std::shared_ptr<const CancelTarget> begin_cancel() const {
        std::lock_guard lock(lock_of(this));
        if (target_) target_->in_flight.fetch_add(1, std::memory_order_acq_rel);
        return target_;
    }
    // The process id of the key the client was given (BackendKeyData); 0 until CancelRegistry::issue.
    [[nodiscard]] std::int32_t process_id() const noexcept { return process_id_; }
    [[nodiscard]] bool registered() const noexcept { return process_id_ != 0; }

private:
    friend class CancelRegistry;  // sets the key, once
    // The slots share a few locks, by address, instead of one each: a lock is held for a pointer
    // copy, and a mutex in every slot was 40 of a parked client's ~1,000 bytes.
    static WorkerMutex& lock_of(const CancelSlot* slot) noexcept;
    std::shared_ptr<const CancelTarget> target_;
    std::int32_t process_id_ = 0;
    // What the registry derives the secret from instead of keeping it (32 bytes in every idle
    // client): the issue's number (31 bits) and, in the top bit, a long secret (protocol 3.2).
    std::uint32_t issue_ = 0;
};

class CancelRegistry {
public:
    CancelRegistry();

    // Gives `slot` a fresh key and lists it until forget(): a process id unique among live
    // sessions, and the secret returned, for BackendKeyData: 4 bytes for protocol 3.0, 32 for
    // 3.2 (`long_secret`). The secret is a keyed function (SipHash-2-4, a key drawn at start) of
    // the process id and the issue's number: unpredictable without the key, and kept nowhere.
    std::string issue(CancelSlot& slot, bool long_secret);
    void forget(const CancelSlot& slot);
    // The server to cancel, if the key matches a live session (constant-time secret check) and
    // that session holds a server now; counted as in flight until forward_cancel is done.
    std::shared_ptr<const CancelTarget> find(std::int32_t process_id, std::string_view secret) const;

private:
    static constexpr std::uint32_t kLongSecret = 0x8000'0000u;
    [[nodiscard]] std::string secret_of(std::int32_t process_id, std::uint32_t issue) const;
    // Where a process id's probe run starts.
    [[nodiscard]] std::size_t home_of(std::int32_t process_id) const noexcept;
    // The slot listed under `process_id`'s key, or where it would go: the first empty place.
    [[nodiscard]] std::size_t place_of(std::int32_t process_id) const noexcept;
    void resize(std::size_t places);

    const protocol::auth::SipKey secret_key_;
    mutable std::mutex mutex_;
    std::uint32_t issued_ = 0;
    // Open addressing (linear probing) over the slots themselves, which hold their process id:
    // 8 bytes a session, at most 3/4 full; a hash map's node and bucket took ~40 of every idle
    // client's bytes. The size is a power of two, or zero.
    std::vector<const CancelSlot*> places_;
    std::size_t listed_ = 0;
};

// Opens a new connection to the server and sends it a CancelRequest with its own key; then the
// target no longer counts as in flight.
awaitable<void> forward_cancel(std::shared_ptr<const CancelTarget> target);

}  // namespace sluice::proxy
