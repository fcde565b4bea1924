#pragma once
// Where idle clients wait between transactions. Thousands of clients sit idle for most of their
// lives; waiting in Asio, each would hold a pending operation, and a session serving it its
// coroutine frames, relay and buffers (~4 KiB). A parked client holds none of these: the lot
// watches its socket in an epoll set of its own, which the reactor watches as one descriptor, and
// resumes the owner when the client speaks, hangs up, or the owner is interrupted.
//
// The socket stays in Asio's reactor meanwhile, with no operation pending (its readiness there,
// edge-triggered, does nothing). Taking it out and back in cost two epoll_ctl per park, and left
// the pages of a burst of woken clients resident after they parked again: +7 MiB of RSS after
// 5,000 parked clients ran a query each, none with the socket kept in (bench/analysis.md).
//
// The lot's registration is level-triggered (and one-shot): a socket that became readable before
// it was parked, its edge already taken by Asio's edge-triggered reactor, is found at once.
#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

namespace boost::asio {
class io_context;
}

namespace sluice::proxy {

class ParkingLot {
public:
    // Runs once per park, outside the lot's lock, when the socket is readable or closed by the
    // peer (`interrupted` false) or wake() was called (true); possibly inside the caller of wake()
    // and on any thread running the io_context, so it only posts the owner's work. `owner` is what
    // park() kept alive; the socket is its owner's to use again.
    using Resume = void (*)(std::shared_ptr<void> owner, bool interrupted);

    // A parkable socket's place in the lot: a member of what parks (Stream), in a list of the lot
    // while parked, so that the lot can let go of everything it holds when it goes.
    class Spot {
    public:
        Spot() = default;
        // Of a spot that is not parked (a stream moved before it is used); the registration its
        // lot may still have under the old name is taken over at the next park.
        Spot(Spot&&) noexcept {}
        Spot& operator=(Spot&&) = delete;

        // The lot it last parked in; nullptr if it never parked.
        [[nodiscard]] ParkingLot* lot() const noexcept { return lot_; }

    private:
        friend class ParkingLot;
        ParkingLot* lot_ = nullptr;
        Spot* prev_ = nullptr;
        Spot* next_ = nullptr;
        std::shared_ptr<void> owner_;
        int fd_ = -1;              // the watched socket's (its owner's)
        bool parked_ = false;      // under the lot's lock
        bool registered_ = false;  // in the lot's epoll set (disarmed once it fired)
    };

    // Watches its epoll set from `io`; `resume` is what a park ends with, the same for every spot
    // (a pointer less in each of thousands). Destroy it only once `io` no longer runs (it lets go
    // of the owners still parked, whose destructors may use what outlives it).
    ParkingLot(boost::asio::io_context& io, Resume resume);
    ~ParkingLot();
    ParkingLot(const ParkingLot&) = delete;
    ParkingLot& operator=(const ParkingLot&) = delete;

    // Parks `spot` until `fd` (a socket nothing waits on, which stays its owner's) is readable or
    // wake(spot); keeps `owner` alive till then. False if the kernel refused (out of memory).
    bool park(Spot& spot, int fd, std::shared_ptr<void> owner) noexcept;
    // Resumes a parked spot as interrupted; false if it is not parked (any more).
    bool wake(Spot& spot) noexcept;
    [[nodiscard]] std::size_t parked() const;

private:
    struct Watch;  // the epoll set and Asio's wait on it
    void watch();
    // Resumes every spot whose socket the epoll set reports.
    void drain();
    // Under mutex_: the spot out of the list, and out of the epoll set if its registration is
    // still armed (it did not just fire).
    struct Exit {
        std::shared_ptr<void> owner;  // null: nothing to resume
    };
    Exit leave(Spot& spot, bool still_armed) noexcept;

    const Resume resume_;
    mutable std::mutex mutex_;
    std::unique_ptr<Watch> watch_;
    Spot* head_ = nullptr;
    std::size_t parked_ = 0;
};

}  // namespace sluice::proxy
