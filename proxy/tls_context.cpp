#include "proxy/tls_context.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace sluice::proxy {

namespace {

constexpr unsigned char kAlpnPostgresql[] = {10, 'p', 'o', 's', 't', 'g', 'r', 'e', 's', 'q', 'l'};

// Like PostgreSQL 17: a client that offers ALPN must offer "postgresql".
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned int inlen,
                void*) {
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, kAlpnPostgresql, sizeof kAlpnPostgresql, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

int protocol_version(const std::string& name) { return name == "TLSv1.3" ? TLS1_3_VERSION : TLS1_2_VERSION; }

struct CtxDeleter {
    void operator()(SSL_CTX* ctx) const noexcept { SSL_CTX_free(ctx); }
};
using CtxPtr = std::unique_ptr<SSL_CTX, CtxDeleter>;

bool fail(std::string& error, std::string what) {
    std::string detail = take_openssl_errors();
    error = detail.empty() ? std::move(what) : what + ": " + detail;
    return false;
}

bool load_pair(SSL_CTX* ctx, const std::string& cert, const std::string& key, std::string& error) {
    if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
        return fail(error, "cannot use certificate file \"" + cert + "\"");
    if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
        return fail(error, "cannot use key file \"" + key + "\"");
    if (SSL_CTX_check_private_key(ctx) != 1)
        return fail(error, "the key in \"" + key + "\" does not match the certificate in \"" + cert + "\"");
    return true;
}

}  // namespace

std::string take_openssl_errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
        char buf[256];
        ERR_error_string_n(e, buf, sizeof buf);
        // "error:0A000086:SSL routines::certificate verify failed": the reason is the last field.
        const char* reason = std::strrchr(buf, ':');
        if (!out.empty()) out += "; ";
        out += reason != nullptr && reason[1] != '\0' ? reason + 1 : buf;
    }
    return out;
}

TlsContext::~TlsContext() { SSL_CTX_free(static_cast<SSL_CTX*>(ctx_)); }

std::shared_ptr<const TlsContext> TlsContext::for_clients(const config::ClientTls& settings, std::string& error) {
    ERR_clear_error();
    CtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return fail(error, "cannot create a TLS context"), nullptr;
    SSL_CTX_set_min_proto_version(ctx.get(), protocol_version(settings.min_protocol));
    // No resumption (each client does a full handshake): no ticket keys, no session cache to guard.
    SSL_CTX_set_num_tickets(ctx.get(), 0);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    if (!settings.ciphers.empty() && SSL_CTX_set_cipher_list(ctx.get(), settings.ciphers.c_str()) != 1)
        return fail(error, "client_tls.ciphers: no usable cipher in \"" + settings.ciphers + "\""), nullptr;
    if (!load_pair(ctx.get(), settings.cert_file, settings.key_file, error)) return nullptr;
    if (settings.client_cert != config::ClientCertCheck::Off) {
        if (SSL_CTX_load_verify_locations(ctx.get(), settings.ca_file.c_str(), nullptr) != 1)
            return fail(error, "cannot use CA file \"" + settings.ca_file + "\""), nullptr;
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
        // The CAs named in the CertificateRequest, so a client with several certificates picks the right one.
        SSL_CTX_set_client_CA_list(ctx.get(), SSL_load_client_CA_file(settings.ca_file.c_str()));
    }
    SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, nullptr);
    return std::shared_ptr<const TlsContext>(new TlsContext(ctx.release()));
}

std::shared_ptr<const TlsContext> TlsContext::for_upstream(const config::UpstreamUrl& url, std::string& error) {
    ERR_clear_error();
    CtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    if (!ctx) return fail(error, "cannot create a TLS context"), nullptr;
    // libpq's default ssl_min_protocol_version.
    SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_alpn_protos(ctx.get(), kAlpnPostgresql, sizeof kAlpnPostgresql);
    bool verify = url.verifies_server();
    if (verify) {
        if (url.sslrootcert.empty() || url.sslrootcert == "system") {
            if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1)
                return fail(error, "cannot load the system's root certificates"), nullptr;
        } else if (SSL_CTX_load_verify_locations(ctx.get(), url.sslrootcert.c_str(), nullptr) != 1) {
            return fail(error, "cannot use sslrootcert \"" + url.sslrootcert + "\""), nullptr;
        }
        SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    }
    if (!url.sslcert.empty() && !load_pair(ctx.get(), url.sslcert, url.sslkey.empty() ? url.sslcert : url.sslkey, error))
        return nullptr;
    return std::shared_ptr<const TlsContext>(new TlsContext(ctx.release()));
}

}  // namespace sluice::proxy
