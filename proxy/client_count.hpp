#pragma once
// listen.max_client_connections, counted over every socket sluice accepted, from the accept on:
// a client that has not sent its startup packet yet, or that only carries a CancelRequest, costs
// a descriptor and memory like any other. A Place holds one count and gives it back when it goes
// away, on whatever path the session ends (a cancelled co_await throws through it too).
#include <atomic>
#include <cstdint>
#include <utility>

namespace sluice::proxy {

// What a newly accepted socket may do.
enum class Admission : std::uint8_t {
    Admitted,  // within max_client_connections
    Refused,   // past it: read its startup packet (briefly) to answer 53300, then close
    Dropped,   // far past it (a flood): close at once, unread
};

class ClientCount {
public:
    // `limit`: max_client_connections; `refusals`: how many sockets past it may be answered at
    // once, each for a moment, before more are closed unread.
    ClientCount(std::uint32_t limit, std::uint32_t refusals) noexcept : limit_(limit), refusals_(refusals) {}
    ClientCount(const ClientCount&) = delete;
    ClientCount& operator=(const ClientCount&) = delete;

    class Place {
    public:
        Place() noexcept = default;
        Place(Place&& o) noexcept : count_(std::exchange(o.count_, nullptr)) {}
        Place& operator=(Place&& o) noexcept {
            if (this != &o) {
                release();
                count_ = std::exchange(o.count_, nullptr);
            }
            return *this;
        }
        Place(const Place&) = delete;
        Place& operator=(const Place&) = delete;
        ~Place() { release(); }

    private:
        friend class ClientCount;
        explicit Place(ClientCount* count) noexcept : count_(count) {}
        void release() noexcept {
            if (count_) count_->used_.fetch_sub(1, std::memory_order_acq_rel);
            count_ = nullptr;
        }

        ClientCount* count_ = nullptr;
    };

    // A socket's count, and what it may do (which only its login needs: a session keeps the
    // admission apart, in a byte of its own, and its Place is one pointer).
    struct Taken {
        Place place;
        Admission admission;
    };

    // Counts one more socket.
    [[nodiscard]] Taken take() noexcept {
        const auto n = used_.fetch_add(1, std::memory_order_acq_rel) + 1;
        const auto admission = n <= limit_               ? Admission::Admitted
                               : n <= limit_ + refusals_ ? Admission::Refused
                                                         : Admission::Dropped;
        return Taken{Place(this), admission};
    }
    [[nodiscard]] std::uint32_t used() const noexcept { return used_.load(std::memory_order_relaxed); }
    [[nodiscard]] std::uint32_t limit() const noexcept { return limit_; }

private:
    const std::uint32_t limit_;
    const std::uint32_t refusals_;
    std::atomic<std::uint32_t> used_{0};
};

}  // namespace sluice::proxy
