#include "proxy/tls_engine.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <climits>

#include "proxy/tls_context.hpp"

namespace sluice::proxy {

namespace {

SSL* ssl_of(void* p) noexcept { return static_cast<SSL*>(p); }
BIO* bio_of(void* p) noexcept { return static_cast<BIO*>(p); }

int clamp(std::size_t size) noexcept { return size > INT_MAX ? INT_MAX : static_cast<int>(size); }

std::string der_of(X509* cert) {
    if (cert == nullptr) return {};
    int size = i2d_X509(cert, nullptr);
    if (size <= 0) return {};
    std::string der(static_cast<std::size_t>(size), '\0');
    auto* p = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert, &p);
    return der;
}

}  // namespace

TlsEngine::TlsEngine(void* ssl) noexcept : ssl_(ssl), in_(BIO_new(BIO_s_mem())), out_(BIO_new(BIO_s_mem())) {
    // Reads of an empty input buffer ask for more instead of reporting end of file.
    BIO_set_mem_eof_return(bio_of(in_), -1);
    BIO_set_mem_eof_return(bio_of(out_), -1);
    SSL_set_bio(ssl_of(ssl_), bio_of(in_), bio_of(out_));
}

TlsEngine::~TlsEngine() { SSL_free(ssl_of(ssl_)); }

std::unique_ptr<TlsEngine> TlsEngine::server(std::shared_ptr<const TlsContext> context) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(context->native()));
    if (ssl == nullptr) return nullptr;
    SSL_set_accept_state(ssl);
    return std::unique_ptr<TlsEngine>(new TlsEngine(ssl));
}

std::unique_ptr<TlsEngine> TlsEngine::client(std::shared_ptr<const TlsContext> context, const std::string& sni,
                                             const std::string& verify_host) {
    SSL* ssl = SSL_new(static_cast<SSL_CTX*>(context->native()));
    if (ssl == nullptr) return nullptr;
    SSL_set_connect_state(ssl);
    if (!sni.empty()) SSL_set_tlsext_host_name(ssl, sni.c_str());
    if (!verify_host.empty()) {
        // An address is matched against the certificate's IP entries, a name against its DNS names.
        X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
        if (X509_VERIFY_PARAM_set1_ip_asc(param, verify_host.c_str()) != 1) {
            ERR_clear_error();
            X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            X509_VERIFY_PARAM_set1_host(param, verify_host.c_str(), 0);
        }
    }
    return std::unique_ptr<TlsEngine>(new TlsEngine(ssl));
}

TlsEngine::Status TlsEngine::handshake() noexcept {
    ERR_clear_error();
    int rc = SSL_do_handshake(ssl_of(ssl_));
    if (rc == 1) return Status::Done;
    int err = SSL_get_error(ssl_of(ssl_), rc);
    if (err == SSL_ERROR_WANT_READ) return Status::WantRead;
    error_ = take_openssl_errors();
    if (error_.empty()) error_ = err == SSL_ERROR_ZERO_RETURN || err == SSL_ERROR_SYSCALL ? "the peer closed the connection"
                                                                                          : "handshake failed";
    return Status::Failed;
}

TlsEngine::Read TlsEngine::read(char* data, std::size_t size) noexcept {
    ERR_clear_error();
    std::size_t got = 0;
    int rc = SSL_read_ex(ssl_of(ssl_), data, size, &got);
    if (rc == 1) return {Status::Done, got};
    int err = SSL_get_error(ssl_of(ssl_), rc);
    if (err == SSL_ERROR_WANT_READ) return {Status::WantRead, 0};
    if (err == SSL_ERROR_ZERO_RETURN) return {Status::Closed, 0};
    error_ = take_openssl_errors();
    if (error_.empty()) error_ = "TLS read failed";
    return {Status::Failed, 0};
}

bool TlsEngine::write(const char* data, std::size_t size) noexcept {
    if (size == 0) return true;
    ERR_clear_error();
    std::size_t written = 0;
    if (SSL_write_ex(ssl_of(ssl_), data, size, &written) == 1 && written == size) return true;
    error_ = take_openssl_errors();
    if (error_.empty()) error_ = "TLS write failed";
    return false;
}

void TlsEngine::shutdown() noexcept {
    if (SSL_is_init_finished(ssl_of(ssl_)) == 1) SSL_shutdown(ssl_of(ssl_));
    ERR_clear_error();
}

void TlsEngine::received(const char* data, std::size_t size) noexcept {
    // A memory BIO takes everything (it grows): only an allocation failure could stop it.
    BIO_write(bio_of(in_), data, clamp(size));
}

bool TlsEngine::has_output() const noexcept { return BIO_ctrl_pending(bio_of(out_)) > 0; }

void TlsEngine::take_output(std::string& out) {
    char* data = nullptr;
    long size = BIO_get_mem_data(bio_of(out_), &data);
    if (size <= 0) return;
    out.append(data, static_cast<std::size_t>(size));
    (void)BIO_reset(bio_of(out_));
}

bool TlsEngine::has_buffered_input() const noexcept {
    return SSL_pending(ssl_of(ssl_)) > 0 || BIO_ctrl_pending(bio_of(in_)) > 0;
}

std::string TlsEngine::error() const {
    long verify = SSL_get_verify_result(ssl_of(ssl_));
    if (verify != X509_V_OK) return std::string("certificate verify failed: ") + X509_verify_cert_error_string(verify);
    return error_;
}

std::string TlsEngine::certificate_problem() const {
    switch (SSL_get_verify_result(ssl_of(ssl_))) {
        case X509_V_OK: return {};
        case X509_V_ERR_CERT_HAS_EXPIRED: return "certificate has expired";
        case X509_V_ERR_CERT_NOT_YET_VALID: return "certificate is not yet valid";
        case X509_V_ERR_HOSTNAME_MISMATCH:
        case X509_V_ERR_IP_ADDRESS_MISMATCH: return "certificate is for another host";
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: return "certificate signed by an unknown CA";
        default: return "certificate rejected";
    }
}

std::string_view TlsEngine::alpn() const noexcept {
    const unsigned char* data = nullptr;
    unsigned int size = 0;
    SSL_get0_alpn_selected(ssl_of(ssl_), &data, &size);
    return data == nullptr ? std::string_view{} : std::string_view(reinterpret_cast<const char*>(data), size);
}

std::string_view TlsEngine::version() const noexcept { return SSL_get_version(ssl_of(ssl_)); }

std::string TlsEngine::peer_certificate_der() const {
    X509* cert = SSL_get1_peer_certificate(ssl_of(ssl_));
    std::string der = der_of(cert);
    X509_free(cert);
    return der;
}

std::optional<std::string> TlsEngine::peer_common_name() const {
    X509* cert = SSL_get1_peer_certificate(ssl_of(ssl_));
    if (cert == nullptr) return std::nullopt;
    std::optional<std::string> cn;
    X509_NAME* subject = X509_get_subject_name(cert);
    int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (index >= 0) {
        ASN1_STRING* value = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
        cn.emplace(reinterpret_cast<const char*>(ASN1_STRING_get0_data(value)),
                   static_cast<std::size_t>(ASN1_STRING_length(value)));
    }
    X509_free(cert);
    return cn;
}

std::string TlsEngine::own_certificate_der() const { return der_of(SSL_get_certificate(ssl_of(ssl_))); }

}  // namespace sluice::proxy
