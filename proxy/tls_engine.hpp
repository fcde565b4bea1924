#pragma once
// One TLS connection's OpenSSL state over memory buffers, without I/O (Boost.MySQL's sans-I/O
// idea): ciphertext from the socket is fed in, ciphertext to send is taken out, plaintext is read
// and written in between. proxy/stream.cpp drives it with the same raw socket operations as plain
// TCP, so that Stream::write_now, idle_and_alive() and the relay's pump keep their meaning over
// TLS. No OpenSSL types here.
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::proxy {

class TlsContext;

class TlsEngine {
public:
    enum class Status { Done, WantRead, Closed, Failed };
    struct Read {
        Status status;
        std::size_t size;  // plaintext bytes read (status Done)
    };

    // The server side of a client's connection.
    static std::unique_ptr<TlsEngine> server(std::shared_ptr<const TlsContext> context);
    // The client side of an upstream connection. `sni`: the host name to send (empty: none);
    // `verify_host`: the name or address the certificate must carry (empty: not checked).
    static std::unique_ptr<TlsEngine> client(std::shared_ptr<const TlsContext> context, const std::string& sni,
                                             const std::string& verify_host);
    ~TlsEngine();
    TlsEngine(const TlsEngine&) = delete;
    TlsEngine& operator=(const TlsEngine&) = delete;

    Status handshake() noexcept;
    // Plaintext, as much as the buffered ciphertext holds, up to `size`.
    Read read(char* data, std::size_t size) noexcept;
    // Encrypts all of `data` (memory buffers take any amount) into the output.
    bool write(const char* data, std::size_t size) noexcept;
    // A close_notify alert into the output.
    void shutdown() noexcept;

    void received(const char* data, std::size_t size) noexcept;  // ciphertext from the peer
    [[nodiscard]] bool has_output() const noexcept;
    // Moves the ciphertext to send onto the end of `out`.
    void take_output(std::string& out);
    // Plaintext or unprocessed ciphertext waiting inside: a read would not block.
    [[nodiscard]] bool has_buffered_input() const noexcept;

    // Why the last handshake, read or write failed: the certificate check's reason when there is one.
    [[nodiscard]] std::string error() const;
    // After a failed handshake as a client: a short reason for the client ("certificate has
    // expired", "certificate is for another host", "certificate signed by an unknown CA"), or "".
    [[nodiscard]] std::string certificate_problem() const;

    [[nodiscard]] std::string_view alpn() const noexcept;  // the protocol the handshake agreed on
    [[nodiscard]] std::string_view version() const noexcept;  // "TLSv1.3"
    // The peer certificate's DER bytes (empty when it sent none), and its subject CN.
    [[nodiscard]] std::string peer_certificate_der() const;
    [[nodiscard]] std::optional<std::string> peer_common_name() const;
    // The DER bytes of the certificate this side presented (server side: for SCRAM-PLUS).
    [[nodiscard]] std::string own_certificate_der() const;

private:
    explicit TlsEngine(void* ssl) noexcept;
    void* ssl_;  // SSL*, owned; its memory BIOs are owned by it
    void* in_;   // BIO* from the peer
    void* out_;  // BIO* to the peer
    std::string error_;
};

}  // namespace sluice::proxy
