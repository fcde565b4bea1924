#pragma once
// Throwaway certificates for TLS tests, made with the openssl command line into a temp dir once
// per process: a CA, a server certificate for localhost and 127.0.0.1, a client certificate, and
// a second CA with a server certificate for another host name (for verification failures).
#include <filesystem>
#include <string>

namespace sluice::testing {

struct TlsCerts {
    std::filesystem::path dir;
    std::filesystem::path ca_cert;            // "sluice test CA"
    std::filesystem::path server_cert, server_key;  // CN localhost, SAN DNS:localhost, IP:127.0.0.1
    std::filesystem::path client_cert, client_key;  // CN sluice_scram (a PgCluster role)
    std::filesystem::path other_host_cert, other_host_key;  // by the same CA, for "other.example" only
    std::filesystem::path other_ca_cert;      // a CA that signed none of the above
    std::filesystem::path expired_cert, expired_key;  // like server_cert, but its validity ended before it began

    // Made on first use; readable by the `postgres` OS user when running as root (PostgreSQL
    // wants its key owned by itself, mode 0600). Throws std::runtime_error if openssl fails.
    static const TlsCerts& shared();
};

}  // namespace sluice::testing
