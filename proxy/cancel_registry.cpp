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

namespace {

protocol::auth::SipKey random_sip_key() {
    protocol::auth::SipKey key;
    const auto bytes = protocol::auth::random_bytes(key.size());
    std::memcpy(key.data(), bytes.data(), key.size());
    return key;
}

void put_le32(char* out, std::uint32_t v) noexcept {
    for (int i = 0; i < 4; ++i) out[i] = static_cast<char>(v >> (8 * i));
}

}  // namespace

CancelRegistry::CancelRegistry() : secret_key_(random_sip_key()) {}

std::string CancelRegistry::secret_of(std::int32_t process_id, std::uint32_t issue) const {
    std::string secret((issue & kLongSecret) ? 32 : 4, '\0');
    // One 8-byte output per block of the secret: (process id, issue, block).
    char input[9];
    put_le32(input, static_cast<std::uint32_t>(process_id));
    put_le32(input + 4, issue);
    for (std::size_t at = 0; at < secret.size(); at += 8) {
        input[8] = static_cast<char>(at / 8);
        const std::uint64_t block = protocol::auth::siphash24(secret_key_, std::string_view(input, sizeof input));
        for (std::size_t i = 0; i < 8 && at + i < secret.size(); ++i) secret[at + i] = static_cast<char>(block >> (8 * i));
    }
    return secret;
}

std::size_t CancelRegistry::home_of(std::int32_t process_id) const noexcept {
    // Process ids are random; the multiply spreads them anyway, whatever bits the mask keeps.
    return (static_cast<std::uint64_t>(static_cast<std::uint32_t>(process_id)) * 0x9E3779B97F4A7C15ull >> 32) &
           (places_.size() - 1);
}

std::size_t CancelRegistry::place_of(std::int32_t process_id) const noexcept {
    const std::size_t mask = places_.size() - 1;
    std::size_t i = home_of(process_id);
    while (places_[i] && places_[i]->process_id() != process_id) i = (i + 1) & mask;
    return i;
}

void CancelRegistry::resize(std::size_t places) {
    auto old = std::exchange(places_, std::vector<const CancelSlot*>(places, nullptr));
    for (const auto* slot : old)
        if (slot) places_[place_of(slot->process_id())] = slot;
}

std::string CancelRegistry::issue(CancelSlot& slot, bool long_secret) {
    std::lock_guard lock(mutex_);
    if ((listed_ + 1) * 4 > places_.size() * 3) resize(std::max<std::size_t>(64, places_.size() * 2));
    for (;;) {
        auto bytes = protocol::auth::random_bytes(4);
        std::uint32_t v;
        std::memcpy(&v, bytes.data(), 4);
        auto pid = static_cast<std::int32_t>(v & 0x7fffffffu);
        if (pid == 0) continue;
        const std::size_t at = place_of(pid);
        if (places_[at]) continue;  // in use by a live session
        // A process id comes back only with another issue number, so never with the same secret.
        issued_ = (issued_ + 1) & ~kLongSecret;
        slot.process_id_ = pid;
        slot.issue_ = issued_ | (long_secret ? kLongSecret : 0);
        places_[at] = &slot;
        ++listed_;
        return secret_of(pid, slot.issue_);
    }
}

void CancelRegistry::forget(const CancelSlot& slot) {
    if (!slot.registered()) return;
    std::lock_guard lock(mutex_);
    std::size_t hole = place_of(slot.process_id());
    if (places_[hole] != &slot) return;
    // Backward-shift deletion: move later entries of the probe run into the hole, so that no
    // lookup stops early at it (and no tombstones pile up).
    const std::size_t mask = places_.size() - 1;
    for (std::size_t i = (hole + 1) & mask; places_[i]; i = (i + 1) & mask) {
        const std::size_t home = home_of(places_[i]->process_id());
        // Movable into the hole when its home is not within (hole, i] cyclically.
        if (((i - home) & mask) >= ((i - hole) & mask)) {
            places_[hole] = places_[i];
            hole = i;
        }
    }
    places_[hole] = nullptr;
    --listed_;
    if (places_.size() > 64 && listed_ * 8 < places_.size()) resize(places_.size() / 2);
}

std::shared_ptr<const CancelTarget> CancelRegistry::find(std::int32_t process_id, std::string_view secret) const {
    // Under the registry's lock: the slot's session cannot finish forget() and go meanwhile.
    std::lock_guard lock(mutex_);
    if (places_.empty() || process_id == 0) return nullptr;
    const auto* slot = places_[place_of(process_id)];
    if (!slot || !protocol::auth::constant_time_equal(secret_of(process_id, slot->issue_), secret)) return nullptr;
    return slot->begin_cancel();
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
