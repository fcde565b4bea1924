#include <utility>

#include "protocol/sql/session_state.hpp"

namespace sluice::sql {

AnalysisCache::AnalysisCache(std::size_t max_entries, std::size_t max_bytes)
    : max_entries_(max_entries), max_bytes_(max_bytes) {}

std::shared_ptr<const Analysis> AnalysisCache::get(std::string_view sql) {
    {
        std::lock_guard lock(mutex_);
        if (auto found = index_.find(sql); found != index_.end()) {
            order_.splice(order_.begin(), order_, found->second);  // now most recently used
            return found->second->analysis;
        }
    }
    // Parsed outside the lock: a slow parse must not stall other sessions' hits.
    auto analysis = std::make_shared<const Analysis>(analyze(sql));
    if (max_entries_ == 0 || sql.size() > max_bytes_) return analysis;
    std::lock_guard lock(mutex_);
    if (auto found = index_.find(sql); found != index_.end()) return found->second->analysis;  // another thread won
    order_.push_front(Entry{std::string(sql), analysis});
    index_.emplace(order_.front().text, order_.begin());
    bytes_ += sql.size();
    evict_locked();
    return analysis;
}

void AnalysisCache::evict_locked() {
    while (!order_.empty() && (order_.size() > max_entries_ || bytes_ > max_bytes_)) {
        const Entry& oldest = order_.back();
        bytes_ -= oldest.text.size();
        index_.erase(oldest.text);
        order_.pop_back();
    }
}

std::size_t AnalysisCache::size() const {
    std::lock_guard lock(mutex_);
    return order_.size();
}

std::size_t AnalysisCache::bytes() const {
    std::lock_guard lock(mutex_);
    return bytes_;
}

}  // namespace sluice::sql
