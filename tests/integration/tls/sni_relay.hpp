#pragma once
// A test front for the SNI check: a TCP relay on 127.0.0.1 that forwards every byte both ways to
// an upstream, and records the server name of each TLS ClientHello that follows an SSLRequest.
// It never decrypts: the TLS session is between sluice and PostgreSQL.
#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sluice::testing::tls {

class SniRelay {
public:
    explicit SniRelay(std::uint16_t upstream_port);
    ~SniRelay();
    SniRelay(const SniRelay&) = delete;
    SniRelay& operator=(const SniRelay&) = delete;

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    // One entry per relayed ClientHello: its server name, "" when it had none.
    [[nodiscard]] std::vector<std::string> server_names() const;

private:
    void accept_loop();
    void relay(int client);

    std::uint16_t upstream_port_;
    std::uint16_t port_ = 0;
    int listener_ = -1;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    std::vector<std::string> names_;
    std::vector<int> fds_;  // open connections, shut down at the end
    std::vector<std::thread> threads_;
    std::thread acceptor_;
};

// The SNI host name of a TLS ClientHello record (starting at the record header); nullopt when
// `record` is not a complete ClientHello, "" when it has no server_name extension.
std::optional<std::string> client_hello_server_name(const std::string& record);

}  // namespace sluice::testing::tls
