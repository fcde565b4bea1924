#include "proxy/handshake_executor.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <mutex>

#include <boost/asio/thread_pool.hpp>

#include <spdlog/spdlog.h>

namespace sluice::proxy {

asio::any_io_executor handshake_executor() {
    static asio::thread_pool pool(1);
    static std::once_flag lowered;
    std::call_once(lowered, [] {
        asio::post(pool, [] {
            // Linux: a thread's own nice value (PRIO_PROCESS with a thread id).
            if (::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10) != 0)
                spdlog::warn("cannot lower the TLS handshake thread's priority; handshakes compete with sessions");
        });
    });
    return pool.get_executor();
}

}  // namespace sluice::proxy
