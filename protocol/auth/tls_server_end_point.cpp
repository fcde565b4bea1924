#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <climits>
#include <memory>

#include "protocol/auth/scram.hpp"
#include "protocol/auth/scram_message.hpp"

namespace sluice::protocol::auth {

namespace {

struct X509Free {
    void operator()(X509* cert) const noexcept { X509_free(cert); }
};

}  // namespace

Result<std::string> tls_server_end_point(std::string_view certificate_der) {
    const auto* p = reinterpret_cast<const unsigned char*>(certificate_der.data());
    const auto* const end = p + certificate_der.size();
    if (certificate_der.empty() || certificate_der.size() > static_cast<std::size_t>(LONG_MAX)) {
        return fail("empty or oversized certificate");
    }
    std::unique_ptr<X509, X509Free> cert(d2i_X509(nullptr, &p, static_cast<long>(certificate_der.size())));
    if (!cert) return fail("certificate is not valid DER");
    if (p != end) return fail("trailing bytes after the DER certificate");

    int digest_nid = NID_undef;
    if (OBJ_find_sigid_algs(X509_get_signature_nid(cert.get()), &digest_nid, nullptr) != 1) {
        return fail("unknown certificate signature algorithm");
    }
    // RFC 5929 section 4.1: MD5 and SHA-1 are upgraded to SHA-256. Algorithms without a separate
    // digest (Ed25519, RSA-PSS with parameters) have no defined hash; PostgreSQL refuses them too.
    if (digest_nid == NID_md5 || digest_nid == NID_sha1) digest_nid = NID_sha256;
    const EVP_MD* md = digest_nid == NID_undef ? nullptr : EVP_get_digestbynid(digest_nid);
    if (md == nullptr) return fail("certificate signature algorithm has no usable digest for channel binding");

    unsigned char hash[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(certificate_der.data(), certificate_der.size(), hash, &len, md, nullptr) != 1) {
        return fail("certificate digest failed");
    }
    return scram_detail::ok(std::string(reinterpret_cast<const char*>(hash), len));
}

}  // namespace sluice::protocol::auth
