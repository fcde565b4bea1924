#include "proxy/relay.hpp"

#include <spdlog/spdlog.h>

#include "protocol/backend.hpp"
#include "protocol/error_fields.hpp"
#include "proxy/pool.hpp"

namespace sluice::proxy {

namespace p = protocol;

namespace {
const std::bitset<256> kTrackerTags = TransactionTracker::server_tags();
}  // namespace

Relay::Relay(Stream& client, ClientSettings& settings, CancelSlot& cancel_slot, Lending lending)
    : client_(client), settings_(settings), cancel_slot_(cancel_slot), lending_(lending) {}

void Relay::attach(Lease lease) {
    lease_ = std::move(lease);
    tracker_.reset();
    doom_.reset();
    cancel_slot_.set(lease_->cancel_target());
}

void Relay::on_client_message(const p::Frame& frame) {
    auto tag = static_cast<p::FrontendTag>(frame.tag);
    tracker_.on_client_message(tag, frame.body);
    if ((tag == p::FrontendTag::Query || tag == p::FrontendTag::Parse) && may_change_role(frame.body))
        lease_->set_role_may_have_changed(true);
}

bool Relay::transaction_over() const {
    return tracker_.idle() && lease_->scanner().at_boundary();
}

void Relay::fail(ServerCloseReason reason, SessionEnd end) {
    if (!doom_) doom_ = reason;
    if (!end_) end_ = std::move(end);
    // Wake the pump if it waits on the server; it settles on its way out.
    error_code ignored;
    if (lease_) lease_->stream().socket().cancel(ignored);
}

awaitable<bool> Relay::forward(std::string_view bytes, const std::shared_ptr<void>& keep_alive) {
    // Busy before the pump starts, so that a pump that finds nothing to wait for does not give
    // the server back under this write.
    writing_ = true;
    if (!pump_running_) {
        pump_running_ = true;
        pump_keep_alive_ = keep_alive;
        pump_next();
    }
    auto [ec, n] = co_await lease_->stream().write_all(asio::buffer(bytes.data(), bytes.size()));
    writing_ = false;
    if (ec == asio::error::timed_out)
        fail(ServerCloseReason::WriteFailed,
             SessionEnd::because(EndReason::ServerLost, "the server stopped reading (timeouts.server_write)",
                                 "Retry the transaction; raise timeouts.server_write if statements run that long."));
    else if (ec)
        fail(ServerCloseReason::WriteFailed,
             SessionEnd::because(EndReason::ServerLost, "could not send to the server: " + ec.message(),
                                 "Retry the transaction."));
    settle();
    co_return !end_;
}

void Relay::pump_next() {
    if (letting_go_ || doom_ || (lending_ == Lending::Transaction && transaction_over())) return pump_done();
    auto& server = *lease_;  // the lease stays put while the pump runs: settle() waits for it
    // On the session's executor (its strand with several workers), never the server socket's:
    // the pump and the session must not run at once.
    server.stream().socket().async_read_some(
        asio::buffer(server.read_buffer()),
        asio::bind_executor(client_.socket().get_executor(), [this](error_code ec, std::size_t n) { pump_read(ec, n); }));
}

void Relay::pump_read(error_code ec, std::size_t n) {
    if (n > 0) {
        // Even when the client is leaving these bytes are its own: follow them, so the server's
        // state at the end is known.
        std::string_view chunk(lease_->read_buffer().data(), n);
        if (!follow(chunk)) return pump_done();
        if (!client_gone_) {
            client_between_messages_ = false;
            error_code wec;
            std::size_t written = client_.write_now(chunk.data(), chunk.size(), wec);
            if (!wec && written < chunk.size()) return deliver_slowly(chunk.substr(written), ec);
            delivered(wec);
        }
        if (doom_) return pump_done();
    }
    pump_continue(ec);
}

void Relay::pump_continue(error_code read_ec) {
    if (read_ec) {
        if (!(letting_go_ && read_ec == asio::error::operation_aborted)) {
            SessionEnd end = SessionEnd::because(EndReason::ServerLost,
                                                 "the server connection was lost mid-transaction: " + read_ec.message(),
                                                 "Retry the transaction.");
            // The client already has the server's own FATAL (e.g. 57P01 on a restart).
            end.client_told = server_said_fatal_;
            fail(ServerCloseReason::ServerLost, std::move(end));
        }
        return pump_done();
    }
    if (client_gone_ && !letting_go_) return pump_done();
    pump_next();
}

void Relay::deliver_slowly(std::string_view rest, error_code read_ec) {
    // `rest` stays valid: nothing reads into the server's buffer until it is delivered.
    asio::co_spawn(
        client_.socket().get_executor(),
        [this, rest, read_ec]() -> awaitable<void> {
            auto [ec, n] = co_await client_.write_all(asio::buffer(rest));
            delivered(ec);
            if (doom_) {
                pump_done();
                co_return;
            }
            pump_continue(read_ec);
        },
        [](std::exception_ptr e) {
            if (!e) return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                spdlog::error("relay pump failed: {}", ex.what());
            }
        });
}

void Relay::delivered(error_code ec) {
    if (ec == asio::error::timed_out) {
        // It holds a server others may wait for: drop it rather than drain for it.
        fail(ServerCloseReason::ClientStalled,
             SessionEnd::because(EndReason::ClientStalled, "the client stopped reading its results (timeouts.client_write)"));
        client_gone_ = true;
    } else if (ec) {
        client_gone_ = true;
    } else {
        client_between_messages_ = lease_->scanner().at_boundary();
        // Session mode keeps the server: the end of a transaction shows here instead.
        if (lending_ == Lending::Session && on_idle && idle()) on_idle();
    }
}

void Relay::pump_done() {
    // The session may go with its keep-alive: nothing of this relay is touched after it.
    auto keep_alive = std::move(pump_keep_alive_);
    pump_running_ = false;
    if (pump_stopped_) pump_stopped_->cancel();
    settle();
    if (end_) {
        // Wake the session if it waits on the client: it ends with end_.
        error_code ignored;
        client_.socket().cancel(ignored);
    }
}

bool Relay::follow(std::string_view chunk) {
    auto& server = *lease_;
    auto scanned = server.scanner().scan(chunk, [&](char tag, std::string_view body, std::size_t) {
        auto t = static_cast<p::BackendTag>(tag);
        if (kTrackerTags.test(static_cast<unsigned char>(tag))) tracker_.on_server_message(t, body);
        if (t == p::BackendTag::ErrorResponse) {
            if (auto fields = p::ErrorFields::decode(body)) {
                auto severity = fields->severity();
                server_said_fatal_ |= severity == "FATAL" || severity == "PANIC";
            }
        } else if (t == p::BackendTag::ParameterStatus) {
            if (auto ps = p::ParameterStatus::decode(body)) {
                server.params().insert_or_assign(std::string(ps->name), std::string(ps->value));
                if (is_server_owned_param(ps->name)) {
                    // SET SESSION AUTHORIZATION / SET ROLE show here; never the client's to keep.
                    if (ps->name == "session_authorization" || ps->name == "is_superuser")
                        server.set_role_may_have_changed(true);
                } else {
                    // The client changed a reported setting (SET TimeZone ...): it now wants it.
                    settings_.set(ps->name, ps->value);
                    server.set_synced_to(settings_.fingerprint);
                }
            }
        }
        return true;
    });
    if (!scanned) {
        spdlog::error("server S{} sent a malformed message stream: {}", server.id(), scanned.error().message);
        fail(ServerCloseReason::ServerProtocolError, SessionEnd::because(EndReason::ServerLost, "the server sent malformed data"));
        return false;
    }
    if (tracker_.confused()) {
        spdlog::error("server S{} answered in a way sluice cannot follow: {}", server.id(), tracker_.confusion());
        fail(ServerCloseReason::StateUnknown,
             SessionEnd::because(EndReason::ServerLost, "sluice lost track of the server's state",
                                 "Retry the transaction; report this to the sluice developers."));
    }
    return true;
}

void Relay::settle() {
    if (!lease_ || writing_ || pump_running_ || letting_go_) return;
    if (doom_) {
        cancel_slot_.clear();
        lease_.close(*doom_);
        return;
    }
    if (lending_ == Lending::Session || !transaction_over()) return;
    cancel_slot_.clear();
    lease_.give_back();
    if (on_idle) on_idle();
}

awaitable<void> Relay::let_go() {
    if (!lease_) co_return;
    letting_go_ = true;
    if (pump_running_) {
        error_code ignored;
        lease_->stream().socket().cancel(ignored);
        if (!pump_stopped_) pump_stopped_.emplace(client_.socket().get_executor());
        pump_stopped_->expires_at(Clock::time_point::max());
        co_await pump_stopped_->async_wait(use_tuple);
    }
    bool clean = !doom_ && !tracker_.confused() && transaction_over() && lease_->stream().is_open();
    if (clean && lending_ == Lending::Session) {
        auto reset = co_await lease_->run_quietly("DISCARD ALL");
        clean = reset.ok && !reset.error;
        if (clean) {
            lease_->reset_params(lease_.pool().defaults());
            lease_->set_role_may_have_changed(false);
        }
    }
    letting_go_ = false;
    cancel_slot_.clear();
    if (clean) lease_.give_back();
    else lease_.close(doom_.value_or(ServerCloseReason::ClientLeftMidTransaction));
}

}  // namespace sluice::proxy
