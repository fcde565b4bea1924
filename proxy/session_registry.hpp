#pragma once
// Every client session alive, for graceful shutdown and the idle sweep (Server). A session is listed
// from its construction to its destructor, also while it is parked (no coroutine running for it).
#include <memory>
#include <mutex>
#include <vector>

namespace sluice::proxy {

class ClientSession;

class SessionRegistry {
public:
    // A session's links in the registry, a base of the session itself: listing one of thousands
    // of clients costs no allocation of its own.
    class Entry {
        friend class SessionRegistry;
        Entry* prev_ = nullptr;
        Entry* next_ = nullptr;
    };

    void add(Entry& entry) {
        std::lock_guard lock(mutex_);
        entry.prev_ = nullptr;
        entry.next_ = head_;
        if (head_) head_->prev_ = &entry;
        head_ = &entry;
    }
    // From the session's destructor: until it returns the session's members are intact, which is
    // what lets select() read them under the lock.
    void remove(Entry& entry) {
        std::lock_guard lock(mutex_);
        (entry.prev_ ? entry.prev_->next_ : head_) = entry.next_;
        if (entry.next_) entry.next_->prev_ = entry.prev_;
        entry.prev_ = entry.next_ = nullptr;
    }
    [[nodiscard]] bool empty() const {
        std::lock_guard lock(mutex_);
        return head_ == nullptr;
    }
    // The sessions for which `pick(const ClientSession&)` holds. Their last reference may be dropped
    // by the caller, so it is released outside the lock (the destructor takes it).
    template <class Pick>
    [[nodiscard]] std::vector<std::shared_ptr<ClientSession>> select(Pick pick) const {
        std::vector<std::shared_ptr<ClientSession>> picked;
        std::lock_guard lock(mutex_);
        for (Entry* entry = head_; entry; entry = entry->next_) {
            auto& session = session_of(*entry);
            if (pick(session))
                if (auto alive = weak_of(session).lock()) picked.push_back(std::move(alive));
        }
        return picked;
    }

private:
    static ClientSession& session_of(Entry& entry);
    static std::weak_ptr<ClientSession> weak_of(ClientSession& session);

    mutable std::mutex mutex_;
    Entry* head_ = nullptr;
};

}  // namespace sluice::proxy
