#pragma once
// SCRAM-SHA-256 (RFC 5802 / RFC 7677) as PostgreSQL speaks it, for both roles: sluice verifies
// clients (ScramServer) and authenticates to upstream servers (ScramClient). Pure state machines:
// callers move the messages.
#include <optional>
#include <string>
#include <string_view>

#include "protocol/result.hpp"

namespace sluice::protocol::auth {

inline constexpr std::string_view kScramSha256 = "SCRAM-SHA-256";
inline constexpr std::string_view kScramSha256Plus = "SCRAM-SHA-256-PLUS";
inline constexpr int kDefaultScramIterations = 4096;
// Upper bound on a server's iteration count that ScramClient accepts. sluice derives keys on an
// event-loop thread: a malicious or hijacked upstream demanding 10 million rounds would stall
// every client on that thread for seconds per connection. PostgreSQL's default is 4096; libpq
// has no cap, but libpq does not serve other clients while it hashes.
inline constexpr int kMaxScramIterations = 100'000;

// A stored secret: SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> (base64 parts).
struct ScramSecret {
    int iterations = kDefaultScramIterations;
    std::string salt;        // raw bytes
    std::string stored_key;  // raw 32 bytes
    std::string server_key;  // raw 32 bytes

    static Result<ScramSecret> parse(std::string_view text);
    static bool looks_like(std::string_view text) noexcept;  // starts with "SCRAM-SHA-256$"
    // From a plaintext password (SASLprep applied); a random 16-byte salt when none is given.
    static ScramSecret from_password(std::string_view password, std::string salt = {},
                                     int iterations = kDefaultScramIterations);
    [[nodiscard]] std::string to_string() const;
};

// RFC 5929 tls-server-end-point: the hash of the server certificate (DER), with SHA-256 for
// certificates signed with MD5 or SHA-1, else the certificate's own signature hash.
Result<std::string> tls_server_end_point(std::string_view certificate_der);

// Client side. Keys can come from the password or, when sluice only knows the client's proof,
// from a ClientKey/ServerKey pair recovered during client authentication.
class ScramClient {
public:
    struct Keys {
        std::string client_key;
        std::string server_key;
    };
    // channel_binding: the tls-server-end-point data of the TLS connection, to use
    // SCRAM-SHA-256-PLUS; nullopt for plain SCRAM-SHA-256 ("n" flag, or "y" if `tls` is true).
    // When the server offers SCRAM-SHA-256-PLUS on a TLS connection, pass the binding: a server
    // offering PLUS rejects "y" as a downgrade (PostgreSQL 15: "SCRAM channel binding negotiation
    // error"). Use tls=true without binding only when PLUS was not offered.
    explicit ScramClient(std::string password, std::optional<std::string> channel_binding = std::nullopt,
                         bool tls = false, std::string nonce = {});
    ScramClient(Keys keys, std::optional<std::string> channel_binding = std::nullopt, bool tls = false,
                std::string nonce = {});

    [[nodiscard]] std::string_view mechanism() const noexcept;
    // client-first-message (with GS2 header), for SASLInitialResponse. PostgreSQL ignores the
    // SCRAM user name (it uses the startup packet's), so it is empty unless given (RFC vectors).
    std::string client_first(std::string_view username = {});
    // client-final-message, for SASLResponse, from the server-first-message. Rejects a server
    // nonce that does not extend ours, bad salt/iterations (< 1 or absurdly large).
    Result<std::string> client_final(std::string_view server_first);
    // Checks the server signature in AuthenticationSASLFinal (authenticates the server).
    Result<void> verify_server_final(std::string_view server_final);
    // True once verify_server_final() accepted the server's signature. Until then an
    // AuthenticationOk proves nothing: the server may not know the password (libpq refuses it too).
    [[nodiscard]] bool server_verified() const noexcept { return server_verified_; }

private:
    enum class Stage { Initial, SentFirst, SentFinal, Done };

    [[nodiscard]] std::string gs2_header() const;

    std::optional<std::string> password_;
    std::optional<Keys> keys_;
    std::optional<std::string> channel_binding_;
    bool tls_;
    std::string nonce_;
    Stage stage_ = Stage::Initial;
    std::string client_first_bare_;
    std::string auth_message_;
    std::string server_key_;
    bool server_verified_ = false;
};

// Server side. `channel_binding` is the tls-server-end-point data of the client's TLS connection
// when sluice offers SCRAM-SHA-256-PLUS there; `nonce` is the server's part of the nonce (random
// when empty; tests inject one).
class ScramServer {
public:
    ScramServer(ScramSecret secret, std::optional<std::string> channel_binding = std::nullopt,
                std::string nonce = {});

    // Handles the SASLInitialResponse data; returns server-first-message. Enforces the GS2
    // channel-binding flag rules ('p' only with PLUS and matching data, 'y' on a TLS connection
    // that offered PLUS is a downgrade attack).
    Result<std::string> server_first(std::string_view mechanism, std::string_view client_first);
    // Verifies the client's proof; returns server-final-message ("v=...") on success, an error
    // (wrong password) otherwise.
    Result<std::string> server_final(std::string_view client_final);
    // After a successful server_final: the client's ClientKey, recovered from its proof.
    [[nodiscard]] const std::string& client_key() const noexcept { return client_key_; }
    [[nodiscard]] const ScramSecret& secret() const noexcept { return secret_; }

private:
    enum class Stage { Initial, SentFirst, Done };

    ScramSecret secret_;
    std::optional<std::string> channel_binding_;
    std::string server_nonce_;
    Stage stage_ = Stage::Initial;
    char cbind_flag_ = 'n';
    std::string nonce_;  // combined client+server nonce
    std::string gs2_header_;
    std::string client_first_bare_;
    std::string server_first_;
    std::string client_key_;
};

}  // namespace sluice::protocol::auth
