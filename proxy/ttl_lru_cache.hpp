#pragma once
// A map with a fixed maximum number of entries, each valid for a fixed time: the least recently
// used entry makes room for a new one, and an expired entry is never returned. Keys may come
// from unauthenticated clients (auth_query caches by user name), so its size must not depend on
// what they send. Not thread-safe; the caller locks. Time is passed in, so tests need no clock.
#include <chrono>
#include <cstddef>
#include <list>
#include <map>
#include <optional>
#include <utility>

namespace sluice::proxy {

template <class Key, class Value, class Clock = std::chrono::steady_clock>
class TtlLruCache {
public:
    TtlLruCache(std::size_t max_entries, typename Clock::duration ttl) : max_entries_(max_entries), ttl_(ttl) {}

    // The value, if present and not expired at `now`; marks it most recently used.
    std::optional<Value> find(const Key& key, typename Clock::time_point now) {
        auto it = index_.find(key);
        if (it == index_.end()) return std::nullopt;
        if (now >= it->second->expires) {
            erase(it);
            return std::nullopt;
        }
        order_.splice(order_.begin(), order_, it->second);
        return it->second->value;
    }

    void insert(const Key& key, Value value, typename Clock::time_point now) {
        if (max_entries_ == 0 || ttl_ <= Clock::duration::zero()) return;
        if (auto it = index_.find(key); it != index_.end()) erase(it);
        while (index_.size() >= max_entries_) erase(index_.find(order_.back().key));
        order_.push_front(Entry{key, std::move(value), now + ttl_});
        index_.emplace(key, order_.begin());
    }

    void erase(const Key& key) {
        if (auto it = index_.find(key); it != index_.end()) erase(it);
    }

    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    [[nodiscard]] std::size_t max_entries() const noexcept { return max_entries_; }

private:
    struct Entry {
        Key key;
        Value value;
        typename Clock::time_point expires;
    };
    using Order = std::list<Entry>;

    void erase(typename std::map<Key, typename Order::iterator>::iterator it) {
        order_.erase(it->second);
        index_.erase(it);
    }

    std::size_t max_entries_;
    typename Clock::duration ttl_;
    Order order_;  // most recently used first
    std::map<Key, typename Order::iterator> index_;
};

}  // namespace sluice::proxy
