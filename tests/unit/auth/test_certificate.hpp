#pragma once
// Self-signed certificates minted per test run, for channel binding tests.
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace sluice::protocol::auth::test_certificates {

enum class KeyKind { Rsa2048, EcP256, Ed25519 };

inline std::string make_self_signed_certificate(KeyKind kind, const EVP_MD* signature_digest,
                                                const char* common_name = "sluice-test") {
    std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(nullptr, EVP_PKEY_free);
    switch (kind) {
        case KeyKind::Rsa2048: key.reset(EVP_RSA_gen(2048)); break;
        case KeyKind::EcP256: key.reset(EVP_EC_gen("P-256")); break;
        case KeyKind::Ed25519: key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519")); break;
    }
    if (!key) throw std::runtime_error("key generation failed");

    std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
    if (!cert || X509_set_version(cert.get(), 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1) != 1 ||
        X509_gmtime_adj(X509_getm_notBefore(cert.get()), 0) == nullptr ||
        X509_gmtime_adj(X509_getm_notAfter(cert.get()), 3600) == nullptr ||
        X509_set_pubkey(cert.get(), key.get()) != 1) {
        throw std::runtime_error("certificate setup failed");
    }
    X509_NAME* name = X509_get_subject_name(cert.get());
    if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(cert.get(), name) != 1 || X509_sign(cert.get(), key.get(), signature_digest) <= 0) {
        throw std::runtime_error("certificate signing failed");
    }
    const int len = i2d_X509(cert.get(), nullptr);
    if (len <= 0) throw std::runtime_error("certificate encoding failed");
    std::string der(static_cast<std::size_t>(len), '\0');
    auto* out = reinterpret_cast<unsigned char*>(der.data());
    i2d_X509(cert.get(), &out);
    return der;
}

// The certificate hash computed a second way (X509_digest on the parsed certificate).
inline std::string x509_digest(const std::string& der, const EVP_MD* md) {
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    std::unique_ptr<X509, decltype(&X509_free)> cert(d2i_X509(nullptr, &p, static_cast<long>(der.size())), X509_free);
    if (!cert) throw std::runtime_error("d2i_X509 failed");
    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (X509_digest(cert.get(), md, hash, &len) != 1) throw std::runtime_error("X509_digest failed");
    return std::string(reinterpret_cast<const char*>(hash), len);
}

}  // namespace sluice::protocol::auth::test_certificates
