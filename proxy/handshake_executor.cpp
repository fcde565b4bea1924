#include "proxy/handshake_executor.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <system_error>

#include <boost/asio/thread_pool.hpp>
#include <spdlog/spdlog.h>

namespace sluice::proxy {
namespace {

std::atomic<HandshakeThread*> running{nullptr};

}  // namespace

HandshakeThread::HandshakeThread() { running.store(this, std::memory_order_release); }

HandshakeThread::~HandshakeThread() {
    running.store(nullptr, std::memory_order_release);
    std::lock_guard lock(mutex_);
    if (!pool_) return;
    pool_->stop();
    pool_->join();
}

std::optional<asio::any_io_executor> HandshakeThread::executor() {
    std::lock_guard lock(mutex_);
    if (!pool_) {
        try {
            pool_ = std::make_unique<asio::thread_pool>(1);
        } catch (const std::system_error& e) {
            spdlog::warn("cannot start the TLS handshake thread ({}); handshakes run on the worker threads", e.what());
            return std::nullopt;
        }
        asio::post(*pool_, [] {
            ::pthread_setname_np(::pthread_self(), "sluice-tls");  // as top -H and /proc show it
            // Linux: a thread's own nice value (PRIO_PROCESS with a thread id).
            if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10) != 0)
                spdlog::warn("cannot lower the TLS handshake thread's priority; handshakes compete with sessions");
        });
    }
    return pool_->get_executor();
}

std::optional<asio::any_io_executor> handshake_executor() {
    HandshakeThread* thread = running.load(std::memory_order_acquire);
    if (thread == nullptr) return std::nullopt;
    return thread->executor();
}

}  // namespace sluice::proxy
