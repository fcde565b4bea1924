// The relay's timeouts: statement, transaction, idle_in_transaction and client_idle.
//
// One timer per session, armed for the earliest limit that can fire, and re-armed only when that
// moment moves earlier. The hot path only notes when spans begin and end (a clock read per batch
// and per ReadyForQuery, and only when a limit is set): a limit of 30 s costs one timer wake-up
// per 30 s of a busy client, not a timer operation per query.
#include <spdlog/spdlog.h>

#include "config/duration.hpp"
#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/sqlstate.hpp"
#include "proxy/log_exception.hpp"
#include "proxy/relay.hpp"

namespace sluice::proxy {

namespace p = protocol;

void Relay::enforce(const config::SessionTimeouts& limits, config::Duration cancel_grace, std::weak_ptr<void> owner) {
    limits_ = limits;
    cancel_grace_ = cancel_grace;
    session_ = std::move(owner);
    idle_limits_on_ = limits.idle_in_transaction.count() > 0 || limits.client_idle.count() > 0;
    limits_on_ = idle_limits_on_ || limits.statement.count() > 0 || limits.transaction.count() > 0;
    shortest_limit_ = config::Duration::max();
    for (auto d : {limits.statement, limits.transaction, limits.idle_in_transaction, limits.client_idle})
        if (d.count() > 0) shortest_limit_ = std::min(shortest_limit_, d);
    idle_since_ = Clock::now();
}

void Relay::waiting_for_client(bool waiting) {
    waiting_for_client_ = waiting;
    // Whichever comes last, the server's ReadyForQuery or this read, starts the client's silence
    // (while a statement runs, its ReadyForQuery will).
    if (waiting && idle_limits_on_ && !statement_running()) {
        idle_since_ = Clock::now();
        watch_limits(idle_since_);
    }
}

std::optional<Relay::Due> Relay::next_due() const {
    std::optional<Due> next;
    auto consider = [&](Limit limit, Clock::time_point since, config::Duration length) {
        if (since == kNever || length.count() == 0) return;
        auto at = since + length;
        if (!next || at < next->at) next = Due{limit, at};
    };
    if (cancel_sent_ != kNever) consider(Limit::CancelGrace, cancel_sent_, cancel_grace_);
    else if (statement_running()) consider(Limit::Statement, statement_started_, limits_.statement);
    consider(Limit::Transaction, transaction_started_, limits_.transaction);
    if (waiting_for_client_ && !statement_running()) {
        if (transaction_started_ != kNever) consider(Limit::IdleInTransaction, idle_since_, limits_.idle_in_transaction);
        else consider(Limit::ClientIdle, idle_since_, limits_.client_idle);
    }
    return next;
}

void Relay::watch_limits(Clock::time_point now) {
    // A span that began at `now` ends no sooner than the shortest limit: the timer armed for that
    // or earlier will see it when it fires (the common case: no work per query).
    if (timer_at_ != kNever && timer_at_ - now <= shortest_limit_) return;
    watch_limits();
}

void Relay::watch_limits() {
    auto due = next_due();
    if (!due || due->at >= timer_at_) return;
    timer_at_ = due->at;
    if (!limit_timer_) limit_timer_.emplace(client_.executor());
    limit_timer_->expires_at(due->at);  // aborts the wait for a later moment
    limit_timer_->async_wait([this, owner = session_](error_code ec) {
        // Aborted: re-armed, or the relay is gone (its timer with it): `this` may be dangling.
        if (ec == asio::error::operation_aborted) return;
        auto session = owner.lock();
        if (!session) return;
        timer_at_ = kNever;
        on_limit_timer();
    });
}

void Relay::on_limit_timer() {
    auto due = next_due();
    if (!due) return;
    if (due->at > Clock::now()) return watch_limits();  // the span that armed it ended; a later one runs
    switch (due->limit) {
    case Limit::Statement:
        cancel_statement();
        break;
    case Limit::CancelGrace:
        spdlog::warn("server S{} did not answer a statement timeout's cancel within {}: closing it", lease_->id(),
                     config::format_duration(cancel_grace_));
        fail(ServerCloseReason::CancelIgnored,
             SessionEnd::because(EndReason::StatementTimeout,
                                 timeout_message("statement", "timeouts.statement", limits_.statement) +
                                     "; the server did not answer the cancel within timeouts.cancel_grace (" +
                                     config::format_duration(cancel_grace_) + ") and its connection was closed",
                                 "Reconnect and retry; make the statement faster, or raise timeouts.statement."));
        cancel_sent_ = kNever;
        break;
    case Limit::Transaction: {
        SessionEnd end = SessionEnd::because(
            EndReason::TransactionTimeout,
            "terminating connection due to transaction timeout (sluice's timeouts.transaction is " +
                config::format_duration(limits_.transaction) + ")",
            "Keep transactions shorter than timeouts.transaction, or raise it for this client.");
        transaction_started_ = kNever;
        // A statement still running is not waited for: the server goes, and its transaction with it.
        if (statement_running()) fail(ServerCloseReason::TransactionTimeout, std::move(end));
        else end_session(std::move(end));
        break;
    }
    case Limit::IdleInTransaction:
        transaction_started_ = kNever;
        end_session(SessionEnd::because(
            EndReason::IdleInTransactionTimeout,
            "terminating connection due to idle-in-transaction timeout (sluice's timeouts.idle_in_transaction is " +
                config::format_duration(limits_.idle_in_transaction) + ")",
            "Commit or roll back promptly; the transaction was rolled back."));
        break;
    case Limit::ClientIdle:
        idle_since_ = kNever;
        end_session(SessionEnd::because(EndReason::ClientIdleTimeout,
                                        "terminating connection due to idle-session timeout (sluice's timeouts.client_idle is " +
                                            config::format_duration(limits_.client_idle) + ")",
                                        "Reconnect when there is work to do."));
        break;
    }
    if (!end_) watch_limits();
}

std::string Relay::timeout_message(std::string_view what, std::string_view key, config::Duration value) const {
    return "canceling statement due to " + std::string(what) + " timeout (sluice's " + std::string(key) + " is " +
           config::format_duration(value) + ")";
}

void Relay::on_ready_for_query() {
    cancel_sent_ = kNever;  // the cancelled statement, if any, is over
    if (!limits_on_) return;
    auto now = Clock::now();
    bool more = tracker_.pending() > 0;  // pipelined: the next statement runs from now
    statement_started_ = more ? now : kNever;
    if (tracker_.status() == p::TxStatus::Idle) transaction_started_ = more ? now : kNever;
    if (!more) {
        idle_since_ = now;
        // The session may have started its read before this answer came: its silence counts now.
        if (idle_limits_on_ && waiting_for_client_) watch_limits(now);
    }
}

void Relay::cancel_statement() {
    if (!lease_ || !lease_->cancel_target()) return;
    auto session = session_.lock();
    if (!session) return;
    cancel_sent_ = Clock::now();
    timeout_error_.clear();
    p::append_error(timeout_error_, p::Severity::Error, p::sqlstate::kQueryCanceled,
                    timeout_message("statement", "timeouts.statement", limits_.statement), {},
                    "Make the statement faster, or raise timeouts.statement for this client (a [[timeouts.override]] "
                    "per database, user or application_name).");
    // Counted in flight first: a server given back meanwhile is closed, not lent (the cancel
    // could hit its next client).
    auto target = lease_->cancel_target();
    target->in_flight.fetch_add(1, std::memory_order_acq_rel);
    cancelling_ = true;
    asio::co_spawn(
        client_.executor(),
        [this, session, target]() -> awaitable<void> {
            co_await forward_cancel(target);
            cancelling_ = false;
            // The server may have answered already: now it can go back.
            if (learned_) learned_->cancel();
            settle();
        },
        log_exception("cancelling a statement"));
}

void Relay::end_session(SessionEnd end) {
    if (!end_) end_ = std::move(end);
    rolls_back_ = true;
    // Wake the session, which waits on the client (or is parked).
    client_.cancel();
}

}  // namespace sluice::proxy
