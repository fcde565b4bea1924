#pragma once
// The TLS settings of one side, made once and shared by every connection that uses them: the
// server side for clients ([client_tls]), the client side per upstream URL. No OpenSSL types here.
#include <memory>
#include <optional>
#include <string>

#include "config/model.hpp"

namespace sluice::proxy {

class TlsContext {
public:
    // sluice as a TLS server. nullopt and `error` set when a file cannot be read or does not fit.
    static std::shared_ptr<const TlsContext> for_clients(const config::ClientTls& settings, std::string& error);
    // sluice as a TLS client of `url` (sslmode, sslrootcert, sslcert, sslkey).
    static std::shared_ptr<const TlsContext> for_upstream(const config::UpstreamUrl& url, std::string& error);

    ~TlsContext();
    TlsContext(const TlsContext&) = delete;
    TlsContext& operator=(const TlsContext&) = delete;

    // The OpenSSL SSL_CTX*, for proxy/tls_engine.cpp only.
    [[nodiscard]] void* native() const noexcept { return ctx_; }

private:
    explicit TlsContext(void* ctx) noexcept : ctx_(ctx) {}
    void* ctx_;  // SSL_CTX*, owned
};

// OpenSSL's queued errors as one line ("" when there are none); clears the queue.
std::string take_openssl_errors();

}  // namespace sluice::proxy
