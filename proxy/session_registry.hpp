#pragma once
// Every client session alive, for graceful shutdown and the idle sweep (Server). A session is listed
// from its construction to its destructor, also while it is parked (no coroutine running for it).
#include <memory>
#include <mutex>
#include <unordered_set>
#include <vector>

namespace sluice::proxy {

class ClientSession;

class SessionRegistry {
public:
    void add(ClientSession& session) {
        std::lock_guard lock(mutex_);
        sessions_.insert(&session);
    }
    // From the session's destructor: until it returns the session's members are intact, which is
    // what lets select() read them under the lock.
    void remove(ClientSession& session) {
        std::lock_guard lock(mutex_);
        sessions_.erase(&session);
    }
    [[nodiscard]] bool empty() const {
        std::lock_guard lock(mutex_);
        return sessions_.empty();
    }
    // The sessions for which `pick(const ClientSession&)` holds. Their last reference may be dropped
    // by the caller, so it is released outside the lock (the destructor takes it).
    template <class Pick>
    [[nodiscard]] std::vector<std::shared_ptr<ClientSession>> select(Pick pick) const {
        std::vector<std::shared_ptr<ClientSession>> picked;
        std::lock_guard lock(mutex_);
        for (auto* session : sessions_)
            if (pick(*session))
                if (auto alive = weak_of(*session).lock()) picked.push_back(std::move(alive));
        return picked;
    }

private:
    static std::weak_ptr<ClientSession> weak_of(ClientSession& session);

    mutable std::mutex mutex_;
    std::unordered_set<ClientSession*> sessions_;
};

}  // namespace sluice::proxy
