#include "config/tls_files.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace sluice::config {
namespace {

struct FileCloser {
    void operator()(std::FILE* f) const noexcept { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;
struct X509Free {
    void operator()(X509* x) const noexcept { X509_free(x); }
};
struct KeyFree {
    void operator()(EVP_PKEY* k) const noexcept { EVP_PKEY_free(k); }
};

File open(const std::string& path, std::string& error) {
    File file(std::fopen(path.c_str(), "rb"));
    if (!file) error = "cannot read \"" + path + "\": " + std::strerror(errno);
    return file;
}

std::unique_ptr<X509, X509Free> first_certificate(const std::string& path, std::string& error) {
    File file = open(path, error);
    if (!file) return nullptr;
    std::unique_ptr<X509, X509Free> cert(PEM_read_X509(file.get(), nullptr, nullptr, nullptr));
    ERR_clear_error();
    if (!cert) error = "\"" + path + "\" holds no PEM certificate";
    return cert;
}

}  // namespace

std::optional<std::string> certificate_file_problem(const std::string& path) {
    std::string error;
    if (!first_certificate(path, error)) return error;
    return std::nullopt;
}

std::optional<std::string> key_file_problem(const std::string& key_path, const std::string& cert_path) {
    std::string error;
    File file = open(key_path, error);
    if (!file) return error;
    // No passphrase callback: an encrypted key cannot be used unattended.
    std::unique_ptr<EVP_PKEY, KeyFree> key(
        PEM_read_PrivateKey(file.get(), nullptr, [](char*, int, int, void*) { return 0; }, nullptr));
    ERR_clear_error();
    if (!key) return "\"" + key_path + "\" holds no unencrypted PEM private key";
    auto cert = first_certificate(cert_path, error);
    if (!cert) return std::nullopt;  // reported for the certificate's own key
    bool matches = X509_check_private_key(cert.get(), key.get()) == 1;
    ERR_clear_error();
    if (!matches) return "the key in \"" + key_path + "\" does not match the certificate in \"" + cert_path + "\"";
    return std::nullopt;
}

}  // namespace sluice::config
