#include "proxy/thread_handoff.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

namespace sluice::proxy {

Handoff::Handoff() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
    if (fd_ < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
}

Handoff::~Handoff() { ::close(fd_); }

void Handoff::raise() noexcept {
    raised_.store(true, std::memory_order_release);
    const std::uint64_t one = 1;
    // Cannot fail short of a closed descriptor: the counter is far from its limit.
    [[maybe_unused]] auto written = ::write(fd_, &one, sizeof one);
}

awaitable<error_code> Handoff::wait(std::shared_ptr<Handoff> handoff, bool cancellable) {
    if (handoff->raised()) co_return error_code{};
    // A descriptor of the coroutine's own, registered and closed on its thread: the other thread
    // may hold the last reference to the Handoff and close the eventfd there.
    int fd = ::dup(handoff->fd_);
    if (fd < 0) co_return error_code(errno, boost::system::system_category());
    asio::posix::stream_descriptor readiness(co_await asio::this_coro::executor, fd);
    while (!handoff->raised()) {
        auto [ec] = cancellable
                        ? co_await readiness.async_wait(asio::posix::descriptor_base::wait_read, use_tuple)
                        : co_await readiness.async_wait(asio::posix::descriptor_base::wait_read,
                                                        asio::bind_cancellation_slot(asio::cancellation_slot(), use_tuple));
        if (ec) co_return ec;
    }
    co_return error_code{};
}

}  // namespace sluice::proxy
