#pragma once
// With one worker: what an I/O completion's handler makes runnable runs as soon as that handler
// returns, before the other completions the same epoll_wait found ready. Asio queues a post at the
// back, behind all of them: a server given back at its ReadyForQuery got its waiting client's
// query only after every other response of the batch had been relayed (strace showed the queries
// sent in bursts after the responses), where PgBouncer sends it in the same step. Now the order is
// PgBouncer's, and a grant costs no trip through the scheduler: 50 clients on pool 20, 4,662 ->
// ~4,600 instructions per queued `pgbench -S` transaction.
//
//     RunNext::Scope scope;  // around the handler's call (receive_op.hpp)
//     handler(ec, n);        // a grant inside it: RunNext::take(op) instead of posting it
//                            // the scope's end runs what was taken, in order
#include <boost/asio/detail/op_queue.hpp>
#include <boost/asio/detail/scheduler_operation.hpp>
#include <boost/system/error_code.hpp>

#include "proxy/asio.hpp"

namespace sluice::proxy {

class RunNext {
public:
    // Collects, then runs, what is taken while it lives on this thread (the outermost one does).
    class Scope {
    public:
        // `active` false: a no-op (a handler being destroyed, not called, makes nothing runnable).
        explicit Scope(bool active = true) noexcept : outermost_(active && !collecting_) {
            if (outermost_) collecting_ = true;
        }
        Scope(const Scope&) = delete;
        Scope& operator=(const Scope&) = delete;
        ~Scope() {
            if (!outermost_) return;
            // What runs here may take more: they run too, in order.
            while (auto* op = head_) {
                head_ = Access::next(op);
                if (!head_) tail_ = nullptr;
                Access::next(op, static_cast<Op*>(nullptr));
                op->complete(&head_, error_code(), 0);  // a non-null owner: call it, as the scheduler would
            }
            collecting_ = false;
        }

    private:
        bool outermost_;
    };

    // Whether take() may be called: inside a Scope on this thread.
    [[nodiscard]] static bool collecting() noexcept { return collecting_; }
    // `op` runs when the outermost Scope ends. Only when collecting().
    static void take(asio::detail::scheduler_operation* op) noexcept {
        Access::next(op, static_cast<Op*>(nullptr));
        if (tail_)
            Access::next(tail_, op);
        else
            head_ = op;
        tail_ = op;
    }

private:
    // Operations link through the member Asio's own queues use; one taken here is in none of them.
    using Op = asio::detail::scheduler_operation;
    using Access = asio::detail::op_queue_access;

    static inline thread_local bool collecting_ = false;
    static inline thread_local Op* head_ = nullptr;
    static inline thread_local Op* tail_ = nullptr;
};

}  // namespace sluice::proxy
