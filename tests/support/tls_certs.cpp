#include "tests/support/tls_certs.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "tests/support/child_process.hpp"

namespace sluice::testing {
namespace {

namespace fs = std::filesystem;

void run(const std::string& command) {
    if (std::system((command + " >/dev/null 2>&1").c_str()) != 0)
        throw std::runtime_error("TLS test certificates: failed: " + command);
}

std::string q(const fs::path& p) { return "'" + p.string() + "'"; }

// A key and a certificate signed by `ca` (self-signed when `ca` is empty).
void make_cert(const fs::path& dir, const std::string& name, const std::string& subject, const std::string& extensions,
               const std::string& ca, int days = 3650) {
    fs::path ext = dir / (name + ".ext");
    std::ofstream(ext) << extensions;
    const fs::path key = dir / (name + ".key"), csr = dir / (name + ".csr"), crt = dir / (name + ".crt");
    run("openssl req -new -newkey rsa:2048 -nodes -keyout " + q(key) + " -out " + q(csr) + " -subj '" + subject + "'");
    if (ca.empty()) {
        run("openssl x509 -req -in " + q(csr) + " -signkey " + q(key) + " -out " + q(crt) + " -days 3650 -extfile " +
            q(ext));
    } else {
        run("openssl x509 -req -in " + q(csr) + " -CA " + q(dir / (ca + ".crt")) + " -CAkey " + q(dir / (ca + ".key")) +
            " -CAcreateserial -out " + q(crt) + " -days " + std::to_string(days) + " -extfile " + q(ext));
    }
}

TlsCerts generate() {
    std::string pattern = (fs::temp_directory_path() / "sluice-tls-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp: " + std::string(std::strerror(errno)));
    TlsCerts c;
    c.dir = pattern;
    const std::string ca_ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
    make_cert(c.dir, "ca", "/CN=sluice test CA", ca_ext, "");
    make_cert(c.dir, "other_ca", "/CN=sluice other CA", ca_ext, "");
    make_cert(c.dir, "server", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "ca");
    make_cert(c.dir, "other_host", "/CN=other.example", "subjectAltName=DNS:other.example\nextendedKeyUsage=serverAuth\n", "ca");
    make_cert(c.dir, "client", "/CN=sluice_scram", "extendedKeyUsage=clientAuth\n", "ca");
    // Valid until a day before it was made.
    make_cert(c.dir, "expired", "/CN=localhost", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
              "ca", -1);
    c.ca_cert = c.dir / "ca.crt";
    c.other_ca_cert = c.dir / "other_ca.crt";
    c.server_cert = c.dir / "server.crt";
    c.server_key = c.dir / "server.key";
    c.other_host_cert = c.dir / "other_host.crt";
    c.other_host_key = c.dir / "other_host.key";
    c.client_cert = c.dir / "client.crt";
    c.client_key = c.dir / "client.key";
    c.expired_cert = c.dir / "expired.crt";
    c.expired_key = c.dir / "expired.key";
    // libpq refuses a client key others can read; PostgreSQL one it does not own.
    std::optional<RunAs> postgres;
    if (::geteuid() == 0) postgres = RunAs::user("postgres");
    ::chmod(c.dir.c_str(), 0755);
    for (const auto& entry : fs::directory_iterator(c.dir)) {
        ::chmod(entry.path().c_str(), entry.path().extension() == ".key" ? 0600 : 0644);
        if (postgres && entry.path().filename() != "client.key" &&
            ::chown(entry.path().c_str(), postgres->uid, postgres->gid) != 0)
            throw std::runtime_error("chown " + entry.path().string() + ": " + std::strerror(errno));
    }
    return c;
}

}  // namespace

const TlsCerts& TlsCerts::shared() {
    static const struct Owned {
        TlsCerts certs = generate();
        ~Owned() {
            std::error_code ec;
            fs::remove_all(certs.dir, ec);
        }
    } owned;
    return owned.certs;
}

}  // namespace sluice::testing
