#include "proxy/cancel_registry.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "protocol/auth/crypto.hpp"
#include "protocol/startup.hpp"
#include "proxy/tls_engine.hpp"

namespace sluice::proxy {

using namespace asio::experimental::awaitable_operators;

WorkerMutex& CancelSlot::lock_of(const CancelSlot* slot) noexcept {
    static std::array<WorkerMutex, 64> locks;
    // Slots live in sessions hundreds of bytes apart: the address above its low bits spreads them.
    return locks[(reinterpret_cast<std::uintptr_t>(slot) >> 6) % locks.size()];
}

void CancelRegistry::issue(CancelSlot& slot, std::size_t secret_length) {
    auto secret = protocol::auth::random_bytes(secret_length);
    std::lock_guard lock(mutex_);
    for (;;) {
        auto bytes = protocol::auth::random_bytes(4);
        std::uint32_t v;
        std::memcpy(&v, bytes.data(), 4);
        auto pid = static_cast<std::int32_t>(v & 0x7fffffffu);
        if (pid == 0 || entries_.contains(pid)) continue;
        slot.key_ = BackendKey{pid, std::move(secret)};
        entries_.emplace(pid, &slot);
        return;
    }
}

void CancelRegistry::forget(const CancelSlot& slot) {
    if (!slot.registered()) return;
    std::lock_guard lock(mutex_);
    entries_.erase(slot.key().process_id);
}

std::shared_ptr<const CancelTarget> CancelRegistry::find(std::int32_t process_id, std::string_view secret) const {
    // Under the registry's lock: the slot's session cannot finish forget() and go meanwhile.
    std::lock_guard lock(mutex_);
    auto it = entries_.find(process_id);
    if (it == entries_.end() || !protocol::auth::constant_time_equal(it->second->key().secret, secret)) return nullptr;
    return it->second->begin_cancel();
}

awaitable<void> forward_cancel(std::shared_ptr<const CancelTarget> target) {
    struct Done {
        std::atomic<int>& count;
        ~Done() { count.fetch_sub(1, std::memory_order_acq_rel); }
    } done{target->in_flight};
    auto ex = co_await asio::this_coro::executor;
    tcp::socket socket(ex);
    asio::steady_timer timer(ex, std::chrono::seconds(5));
    auto connected = co_await (socket.async_connect(target->address, use_tuple) || timer.async_wait(use_tuple));
    if (connected.index() != 0 || std::get<0>(std::get<0>(connected))) {
        spdlog::warn("could not forward a cancel request to {}:{}", target->endpoint.host, target->endpoint.port);
        co_return;
    }
    Stream stream(std::move(socket));
    auto send = [&]() -> awaitable<void> {
        // Over TLS when the server's own connection is: the same SSLRequest, SNI and checks.
        if (target->tls) {
            std::string error;
            if (!co_await ask_for_tls(stream, error) ||
                !co_await stream.start_tls(upstream_tls_engine(target->tls, target->sni, target->verify_host), error)) {
                spdlog::warn("could not forward a cancel request to {}:{} over TLS: {}", target->endpoint.host,
                             target->endpoint.port, error.empty() ? "the server refused TLS" : error);
                co_return;
            }
        }
        std::string out;
        protocol::CancelRequest{target->key.process_id, target->key.secret}.encode(out);
        if (auto [ec, n] = co_await stream.write_all(asio::buffer(out)); ec) co_return;
        // PostgreSQL closes the connection once it has read the request (and signalled the backend).
        char byte;
        co_await stream.read_some(asio::buffer(&byte, 1));
    };
    timer.expires_after(std::chrono::seconds(5));
    co_await (send() || timer.async_wait(use_tuple));
    stream.close();
}

}  // namespace sluice::proxy
