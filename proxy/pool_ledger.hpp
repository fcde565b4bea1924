#pragma once
// The bookkeeping of one pool as a state machine without sockets, clocks or locks: which servers
// are idle, how many slots are taken, who waits and in what order. Pool (pool.cpp) drives it
// under its mutex and does the I/O; unit tests drive it directly.
//
// Every taken slot is in exactly one place: an idle server, a lent server, a connect in progress,
// or a grant waiting in a Waiter. A slot that frees up while clients wait is granted to the first
// of them (FIFO) rather than released, so no later arrival can overtake the queue.
#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "proxy/connection_budget.hpp"

namespace sluice::proxy {

struct PoolLimits {
    std::uint32_t size = 0;
    std::uint32_t reserve_size = 0;
};

struct PoolCounts {
    std::uint32_t idle = 0;
    std::uint32_t lent = 0;
    std::uint32_t connecting = 0;
    std::uint32_t granted = 0;  // handed to a waiter that has not picked it up yet
    std::uint32_t total = 0;    // slots taken: all of the above
    std::uint32_t waiting = 0;
};

template <class Conn>
class PoolLedger {
public:
    using ConnPtr = std::unique_ptr<Conn>;

    // A client waiting for a server. It lives in the waiting coroutine; the ledger only links it.
    struct Waiter {
        ConnPtr server;      // granted: an idle server handed over
        bool slot = false;   // granted: a slot of its own, to connect with
        bool reserve = false;  // waited past reserve_timeout: may take a reserve slot
        bool queued = false;
        [[nodiscard]] bool granted() const noexcept { return server != nullptr || slot; }

    private:
        friend class PoolLedger;
        Waiter* prev_ = nullptr;  // in the queue, while `queued`
        Waiter* next_ = nullptr;
    };

    // The waiters in arrival order, linked through the waiters themselves: joining, and leaving
    // from anywhere in it (a timeout, a cancellation), take no allocation and no search.
    class WaiterQueue {
    public:
        struct iterator {
            Waiter* at;
            Waiter* operator*() const noexcept { return at; }
            iterator& operator++() noexcept {
                at = at->next_;
                return *this;
            }
            bool operator==(const iterator&) const = default;
        };
        [[nodiscard]] iterator begin() const noexcept { return {head_}; }
        [[nodiscard]] iterator end() const noexcept { return {nullptr}; }
        [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
        [[nodiscard]] std::size_t size() const noexcept { return size_; }
        [[nodiscard]] Waiter* front() const noexcept { return head_; }
        void push_back(Waiter& w) noexcept {
            w.prev_ = tail_;
            w.next_ = nullptr;
            (tail_ ? tail_->next_ : head_) = &w;
            tail_ = &w;
            ++size_;
        }
        // `w` must be in this queue.
        void erase(Waiter& w) noexcept {
            (w.prev_ ? w.prev_->next_ : head_) = w.next_;
            (w.next_ ? w.next_->prev_ : tail_) = w.prev_;
            w.prev_ = w.next_ = nullptr;
            --size_;
        }

    private:
        Waiter* head_ = nullptr;
        Waiter* tail_ = nullptr;
        std::size_t size_ = 0;
    };

    enum class Outcome {
        Lend,     // `out` holds an idle server, now lent
        Connect,  // a slot is taken for a new connection: call connected() or connect_failed()
        Wait,     // queued; wait for a grant
        Closed,   // the pool is closed
    };

    // What a change hands on: a waiter to wake (its grant is in it), or a server to close.
    struct Handoff {
        Waiter* wake = nullptr;
        ConnPtr close;
    };

    PoolLedger(PoolLimits limits, ConnectionBudget* database_budget, ConnectionBudget* user_budget) noexcept
        : limits_(limits), database_budget_(database_budget), user_budget_(user_budget) {}

    // A client asks for a server. Idle servers are lent most recently used first (warm caches,
    // and extras go idle long enough to retire). Slots that came free in a budget shared with
    // other pools go to those already waiting first: the caller wakes take_woken().
    Outcome request(Waiter& w, ConnPtr& out) {
        if (closed_) return Outcome::Closed;
        if ((out = lend_idle())) return Outcome::Lend;
        while (Waiter* first = grant_free_slot()) waiting_woken_.push_back(first);
        if (waiters_.empty() && take_slot(w.reserve)) {
            ++connecting_;
            return Outcome::Connect;
        }
        w.queued = true;
        waiters_.push_back(w);
        return Outcome::Wait;
    }

    // The idle server request() would lend, now lent; null if none is idle.
    ConnPtr lend_idle() {
        if (closed_ || idle_.empty()) return nullptr;
        ConnPtr out = std::move(idle_.back());
        idle_.pop_back();
        ++lent_;
        return out;
    }

    // A queued waiter now may use the reserve pool. True if that got it a slot at once.
    bool allow_reserve(Waiter& w) {
        w.reserve = true;
        if (!w.queued || closed_ || !take_slot(true)) return false;
        unlink(w);
        w.slot = true;
        ++granted_;
        return true;
    }

    // The waiter picks up its grant: a server becomes lent, a slot becomes a connect in progress.
    // Returns whether there was a grant.
    bool collect(Waiter& w, ConnPtr& out) {
        if (w.server) {
            out = std::move(w.server);
            --granted_;
            ++lent_;
            return true;
        }
        if (w.slot) {
            w.slot = false;
            --granted_;
            ++connecting_;
            return true;
        }
        return false;
    }

    // A waiter gives up (deadline, cancellation, error): it leaves the queue, and a grant it did
    // not collect passes on to the next waiter. A slot free in the meantime (budget given back by
    // another pool) goes to the waiter now first.
    Handoff leave(Waiter& w) {
        if (w.queued) {
            unlink(w);
            return Handoff{grant_free_slot(), nullptr};
        }
        if (w.server) {
            --granted_;
            ++lent_;
            return give_back(std::move(w.server));
        }
        if (w.slot) {
            w.slot = false;
            --granted_;
            return Handoff{pass_on_slot(), nullptr};
        }
        return {};
    }

    void connected() noexcept {
        --connecting_;
        ++lent_;
        logged_in_once_ = true;
    }
    Handoff connect_failed() {
        --connecting_;
        return Handoff{pass_on_slot(), nullptr};
    }

    // A lent server comes back clean and idle.
    Handoff give_back(ConnPtr server) {
        --lent_;
        if (closed_) {
            release_slot();
            return Handoff{nullptr, std::move(server)};
        }
        if (!waiters_.empty()) {
            Waiter* w = waiters_.front();
            unlink(*w);
            w->server = std::move(server);
            ++granted_;
            return Handoff{w, nullptr};
        }
        idle_.push_back(std::move(server));
        return {};
    }

    // A lent server was closed: its slot goes to the first waiter, who connects anew.
    Handoff closed_lent() {
        --lent_;
        return Handoff{pass_on_slot(), nullptr};
    }

    // Takes the idle servers `retire(conn, remaining_total)` says to retire, oldest-used first;
    // their slots are freed. The caller closes them.
    template <class Retire>
    std::vector<ConnPtr> retire_idle(Retire&& retire) {
        std::vector<ConnPtr> out;
        for (auto it = idle_.begin(); it != idle_.end();) {
            if (retire(**it, total_)) {
                out.push_back(std::move(*it));
                it = idle_.erase(it);
                if (Waiter* w = pass_on_slot()) waiting_woken_.push_back(w);
            } else {
                ++it;
            }
        }
        return out;
    }
    // Clients wait although the pool is below its own size (with the reserve, for a first waiter
    // that may use it): a budget shared with other pools is spent.
    [[nodiscard]] bool short_of_budget() const noexcept {
        if (closed_ || waiters_.empty()) return false;
        return total_ < limits_.size + (waiters_.front()->reserve ? limits_.reserve_size : 0);
    }
    // Slots free in the budgets now go to the waiters, first come first served; the caller wakes
    // them.
    std::vector<Waiter*> grant_free_slots() {
        std::vector<Waiter*> granted;
        while (Waiter* w = grant_free_slot()) granted.push_back(w);
        return granted;
    }
    // The least recently used idle server, its slot freed (the caller closes it); null if none.
    ConnPtr take_oldest_idle() {
        if (idle_.empty()) return nullptr;
        ConnPtr out = std::move(idle_.front());
        idle_.pop_front();
        release_slot();
        return out;
    }

    // Waiters granted a slot by request() or retire_idle(); the caller wakes them.
    std::vector<Waiter*> take_woken() { return std::exchange(waiting_woken_, {}); }

    // A slot for a connection opened ahead of demand (min_size), if below `target` total.
    bool take_warmup_slot(std::uint32_t target) {
        if (closed_ || total_ >= target || !take_slot(false)) return false;
        ++connecting_;
        return true;
    }

    // Shutdown: no more lending; idle servers are handed back to close. Waiters are woken with
    // nothing (they see Closed when they ask again).
    std::pair<std::vector<ConnPtr>, std::vector<Waiter*>> close() {
        closed_ = true;
        std::vector<ConnPtr> idle;
        for (auto& c : idle_) idle.push_back(std::move(c));
        for (std::size_t i = 0; i < idle.size(); ++i) release_slot();
        idle_.clear();
        std::vector<Waiter*> woken;
        woken.reserve(waiters_.size());
        while (!waiters_.empty()) {
            woken.push_back(waiters_.front());
            unlink(*woken.back());
        }
        return {std::move(idle), std::move(woken)};
    }

    [[nodiscard]] PoolCounts counts() const noexcept {
        return PoolCounts{static_cast<std::uint32_t>(idle_.size()), lent_, connecting_, granted_, total_,
                          static_cast<std::uint32_t>(waiters_.size())};
    }
    [[nodiscard]] bool closed() const noexcept { return closed_; }
    [[nodiscard]] const std::deque<ConnPtr>& idle() const noexcept { return idle_; }
    [[nodiscard]] const WaiterQueue& waiters() const noexcept { return waiters_; }

private:
    bool take_slot(bool with_reserve) {
        // Until a server of this pool has logged in, one connects at a time: the first tells every
        // login what the server's defaults are (a burst of logins to a cold pool needs one server,
        // not one each), and an upstream that refuses is tried by one client, not pool-size at once.
        if (!logged_in_once_ && total_ > 0) return false;
        std::uint32_t limit = limits_.size + (with_reserve ? limits_.reserve_size : 0);
        if (total_ >= limit) return false;
        if (!database_budget_->try_take()) return false;
        if (!user_budget_->try_take()) {
            database_budget_->give_back();
            return false;
        }
        ++total_;
        return true;
    }
    void release_slot() noexcept {
        --total_;
        database_budget_->give_back();
        user_budget_->give_back();
    }
    // A slot is free: the first waiter gets it, unless it is a reserve slot and that waiter may
    // not use the reserve yet (then the reserve shrinks).
    Waiter* pass_on_slot() {
        if (!closed_ && !waiters_.empty() && (total_ <= limits_.size || waiters_.front()->reserve)) {
            Waiter* w = waiters_.front();
            unlink(*w);
            w->slot = true;
            ++granted_;
            return w;
        }
        release_slot();
        return nullptr;
    }
    // A slot can be free while clients wait: a budget shared with other pools refused it, then
    // another pool gave budget back (nobody tells this pool), or a reserve slot was released while
    // the first waiter could not use it. Each request and each departure from the queue checks,
    // and the first waiter gets the free slot; otherwise the queue would wait for its deadline.
    Waiter* grant_free_slot() {
        if (closed_ || waiters_.empty() || !take_slot(waiters_.front()->reserve)) return nullptr;
        Waiter* w = waiters_.front();
        unlink(*w);
        w->slot = true;
        ++granted_;
        return w;
    }
    void unlink(Waiter& w) noexcept {
        if (!w.queued) return;
        w.queued = false;
        waiters_.erase(w);
    }

    PoolLimits limits_;
    ConnectionBudget* database_budget_;
    ConnectionBudget* user_budget_;
    std::deque<ConnPtr> idle_;
    WaiterQueue waiters_;
    std::vector<Waiter*> waiting_woken_;
    std::uint32_t total_ = 0;
    std::uint32_t lent_ = 0;
    std::uint32_t connecting_ = 0;
    std::uint32_t granted_ = 0;
    bool closed_ = false;
    bool logged_in_once_ = false;  // a connect of this pool has succeeded
};

}  // namespace sluice::proxy
