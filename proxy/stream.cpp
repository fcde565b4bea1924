#include "proxy/stream.hpp"

#include <sys/socket.h>

#include <cerrno>

namespace sluice::proxy {

bool Stream::idle_and_alive() noexcept {
    if (!socket_.is_open()) return false;
    char byte;
    ssize_t n = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK;
    return false;  // 0: EOF; > 0: unsolicited bytes
}

}  // namespace sluice::proxy
