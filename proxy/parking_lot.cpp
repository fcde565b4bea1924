#include "proxy/parking_lot.hpp"

#include <sys/epoll.h>

#include <array>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <cerrno>
#include <system_error>
#include <vector>

#include "proxy/asio.hpp"

namespace sluice::proxy {

namespace {
constexpr int kEventsPerDrain = 64;
}  // namespace

struct ParkingLot::Watch {
    asio::posix::stream_descriptor epoll;  // owns the epoll set's descriptor
};

ParkingLot::ParkingLot(asio::io_context& io, Resume resume) : resume_(resume) {
    int fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "parking lot: epoll_create1");
    watch_ = std::make_unique<Watch>(Watch{asio::posix::stream_descriptor(io, fd)});
    watch();
}

ParkingLot::~ParkingLot() {
    // Let go outside the lock, as `owners` goes last: a session's destructor takes other locks.
    std::vector<std::shared_ptr<void>> owners;
    {
        std::lock_guard lock(mutex_);
        while (head_) owners.push_back(leave(*head_, false).owner);
    }
    error_code ignored;
    watch_->epoll.close(ignored);
}

std::size_t ParkingLot::parked() const {
    std::lock_guard lock(mutex_);
    return parked_;
}

void ParkingLot::watch() {
    // The epoll set's own descriptor sits in Asio's edge-triggered reactor: the next wait is started
    // before the set is read (drain), so that a socket ready in between completes it.
    watch_->epoll.async_wait(asio::posix::stream_descriptor::wait_read, [this](error_code ec) {
        if (ec) return;  // closed by the destructor: `this` may be gone
        watch();
        drain();
    });
}

bool ParkingLot::park(Spot& spot, int fd, std::shared_ptr<void> owner) noexcept {
    std::lock_guard lock(mutex_);
    if (spot.parked_ || !owner) return false;
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLRDHUP | EPOLLONESHOT;
    ev.data.ptr = &spot;
    // A spot that parked here before is still in the set, disabled since it fired (one-shot).
    const int epoll = watch_->epoll.native_handle();
    const int first = spot.registered_ && spot.lot_ == this ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (::epoll_ctl(epoll, first, fd, &ev) != 0) {
        // ENOENT: closed since (its number reused); EEXIST: in the set under another spot's name.
        const int second = errno == ENOENT ? EPOLL_CTL_ADD : errno == EEXIST ? EPOLL_CTL_MOD : -1;
        if (second < 0 || ::epoll_ctl(epoll, second, fd, &ev) != 0) return false;
    }
    spot.lot_ = this;
    spot.fd_ = fd;
    spot.owner_ = std::move(owner);
    spot.parked_ = true;
    spot.registered_ = true;
    spot.prev_ = nullptr;
    spot.next_ = head_;
    if (head_) head_->prev_ = &spot;
    head_ = &spot;
    ++parked_;
    return true;
}

ParkingLot::Exit ParkingLot::leave(Spot& spot, bool still_armed) noexcept {
    if (still_armed) {
        // Out of the set: an armed registration would name a spot whose owner may be gone (a
        // modification cannot disarm it, as EPOLLHUP and EPOLLERR are always reported).
        epoll_event ev{};
        ::epoll_ctl(watch_->epoll.native_handle(), EPOLL_CTL_DEL, spot.fd_, &ev);
        spot.registered_ = false;
    }
    (spot.prev_ ? spot.prev_->next_ : head_) = spot.next_;
    if (spot.next_) spot.next_->prev_ = spot.prev_;
    spot.prev_ = spot.next_ = nullptr;
    spot.parked_ = false;
    --parked_;
    return {std::move(spot.owner_)};
}

bool ParkingLot::wake(Spot& spot) noexcept {
    Exit exit;
    {
        std::lock_guard lock(mutex_);
        if (!spot.parked_ || spot.lot_ != this) return false;
        exit = leave(spot, true);
    }
    resume_(std::move(exit.owner), true);
    return true;
}

void ParkingLot::drain() {
    std::array<epoll_event, kEventsPerDrain> events;
    std::array<Exit, kEventsPerDrain> ready;
    for (;;) {
        int n = 0;
        {
            // Read and taken out under the lock: a spot woken meanwhile is no longer reported, so
            // no event outlives the spot it names.
            std::lock_guard lock(mutex_);
            n = ::epoll_wait(watch_->epoll.native_handle(), events.data(), kEventsPerDrain, 0);
            for (int i = 0; i < n; ++i) {
                auto& spot = *static_cast<Spot*>(events[static_cast<std::size_t>(i)].data.ptr);
                // One-shot: the registration disarmed itself when it fired, and stays for the next park.
                if (spot.parked_) ready[static_cast<std::size_t>(i)] = leave(spot, false);
            }
        }
        for (int i = 0; i < n; ++i) {
            auto& exit = ready[static_cast<std::size_t>(i)];
            if (exit.owner) resume_(std::move(exit.owner), false);
            exit = {};
        }
        if (n < kEventsPerDrain) return;
    }
}

}  // namespace sluice::proxy
