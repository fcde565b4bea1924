#include "proxy/handshake_executor.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <atomic>

#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

namespace sluice::proxy {
namespace {

std::atomic<asio::thread_pool*> running{nullptr};

}  // namespace

HandshakeThread::HandshakeThread() : pool_(std::make_unique<asio::thread_pool>(1)) {
    asio::post(*pool_, [] {
        // Linux: a thread's own nice value (PRIO_PROCESS with a thread id).
        if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10) != 0)
            spdlog::warn("cannot lower the TLS handshake thread's priority; handshakes compete with sessions");
    });
    running.store(pool_.get(), std::memory_order_release);
}

HandshakeThread::~HandshakeThread() {
    running.store(nullptr, std::memory_order_release);
    pool_->stop();
    pool_->join();
}

std::optional<asio::any_io_executor> handshake_executor() {
    asio::thread_pool* pool = running.load(std::memory_order_acquire);
    if (pool == nullptr) return std::nullopt;
    return pool->get_executor();
}

}  // namespace sluice::proxy
