#pragma once
// A scripted stand-in for an upstream PostgreSQL, for the one thing a real server will not do:
// misbehave during sluice's login (skip SASLFinal, send a wrong ServerSignature, demand absurd
// SCRAM iteration counts, ask for a cleartext password). A thread accepts connections on
// 127.0.0.1 and runs the script on each, with blocking I/O and a read deadline.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>

namespace sluice::testing {

// One accepted connection, as the script sees it.
class FakeUpstreamPeer {
public:
    explicit FakeUpstreamPeer(int fd) noexcept : fd_(fd) {}
    // Reads the StartupMessage (SSLRequest is refused with 'N' first); returns its body.
    std::string read_startup();
    // Reads one frontend message; returns its tag and sets `body`. Throws on EOF or timeout.
    char read_message(std::string& body);
    void send(std::string_view bytes);
    // AuthenticationOk, a few ParameterStatus, BackendKeyData, ReadyForQuery.
    void send_login_ok();
    // After the login: answers every Query with EmptyQueryResponse + ReadyForQuery, until
    // Terminate or EOF.
    void serve_until_terminate();

private:
    void read_exact(char* out, std::size_t n);
    int fd_;
};

class FakeUpstream {
public:
    using Script = std::function<void(FakeUpstreamPeer&)>;
    explicit FakeUpstream(Script script);
    FakeUpstream(const FakeUpstream&) = delete;
    FakeUpstream& operator=(const FakeUpstream&) = delete;
    ~FakeUpstream();

    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    [[nodiscard]] int connections() const noexcept { return connections_.load(); }

private:
    Script script_;
    int listen_fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::thread thread_;
};

}  // namespace sluice::testing
