#pragma once
// Decides when a lent server connection may go back to the pool: at a ReadyForQuery that says
// idle and answers the client's last sync point, with no extended-protocol message sent since
// that sync point. Pure bookkeeping, fed by the relay in both directions.
#include <bitset>
#include <cstdint>
#include <string_view>

#include "protocol/tags.hpp"

namespace sluice::proxy {

class TransactionTracker {
public:
    // Before a client message is forwarded to the server.
    void on_client_message(protocol::FrontendTag tag, std::string_view /*body*/) noexcept {
        using protocol::FrontendTag;
        switch (tag) {
        case FrontendTag::Query:
        case FrontendTag::FunctionCall:
        case FrontendTag::Sync:
            ++ready_expected_;  // each is answered by exactly one ReadyForQuery
            unsynced_ = false;
            break;
        case FrontendTag::CopyData:
        case FrontendTag::CopyDone:
        case FrontendTag::CopyFail:
            break;  // part of a COPY started by a Query or an Execute already counted
        default:
            unsynced_ = true;  // Parse/Bind/Describe/Execute/Close/Flush: held until a Sync
            break;
        }
    }
    // A server message whose tag is in server_tags().
    void on_server_message(protocol::BackendTag tag, std::string_view body) noexcept {
        if (tag != protocol::BackendTag::ReadyForQuery) return;
        if (body.size() != 1) {
            confused_ = true;
            return;
        }
        on_ready_for_query(static_cast<protocol::TxStatus>(body[0]));
    }
    static std::bitset<256> server_tags() noexcept {
        std::bitset<256> b;
        b.set(static_cast<unsigned char>(protocol::BackendTag::ReadyForQuery));
        return b;
    }
    [[nodiscard]] bool confused() const noexcept { return confused_; }
    void reset() noexcept { *this = TransactionTracker{}; }
    // A ReadyForQuery from the server.
    void on_ready_for_query(protocol::TxStatus status) noexcept {
        if (ready_expected_ > 0) --ready_expected_;
        status_ = status;
    }
    void on_copy_start() noexcept { in_copy_ = true; }
    void on_copy_end() noexcept { in_copy_ = false; }

    // Nothing in flight and the server is outside a transaction.
    [[nodiscard]] bool idle() const noexcept {
        return ready_expected_ == 0 && !unsynced_ && status_ == protocol::TxStatus::Idle;
    }
    [[nodiscard]] protocol::TxStatus status() const noexcept { return status_; }
    [[nodiscard]] std::uint32_t ready_expected() const noexcept { return ready_expected_; }
    [[nodiscard]] bool in_copy() const noexcept { return in_copy_; }

private:
    std::uint32_t ready_expected_ = 0;
    bool unsynced_ = false;
    bool in_copy_ = false;
    bool confused_ = false;
    protocol::TxStatus status_ = protocol::TxStatus::Idle;
};

}  // namespace sluice::proxy
