// SCRAM message handling on arbitrary bytes: ScramServer and ScramClient state machines, secret
// parsing, base64, SASLprep and certificate hashing. Bad input must come back as a Result error:
// no crash, no exception, and invariants hold when something is accepted.
//
// Input: one flags byte, then fields separated by '\n':
//   client-first (to ScramServer) \n client-final (to ScramServer) \n server-first (to
//   ScramClient) \n server-final (to ScramClient) \n secret / password \n base64 / certificate
// Flags: bit 0 server offers channel binding, bit 1 client picks SCRAM-SHA-256-PLUS,
//        bit 2 client is on TLS, bit 3 client uses channel binding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/saslprep.hpp"
#include "protocol/auth/scram.hpp"

namespace {

using namespace sluice::protocol::auth;

// Fixed so that the seed corpus can carry a complete, valid exchange (see corpus/fuzz_scram/).
constexpr std::string_view kPassword = "fuzz-password";
constexpr std::string_view kSalt = "0123456789abcdef";
constexpr int kIterations = 16;
constexpr std::string_view kClientNonce = "fuzzclientnonce";
constexpr std::string_view kServerNonce = "fuzzservernonce";
const std::string kBinding(32, 'B');

const ScramSecret& secret() {
    static const ScramSecret s = ScramSecret::from_password(kPassword, std::string(kSalt), kIterations);
    return s;
}

const ScramClient::Keys& keys() {
    static const ScramClient::Keys k = [] {
        const std::string salted = pbkdf2_sha256(kPassword, kSalt, kIterations);
        return ScramClient::Keys{hmac_sha256(salted, "Client Key"), hmac_sha256(salted, "Server Key")};
    }();
    return k;
}

std::vector<std::string_view> split(std::string_view text, char separator, std::size_t max_parts) {
    std::vector<std::string_view> parts;
    while (parts.size() + 1 < max_parts) {
        const std::size_t at = text.find(separator);
        if (at == std::string_view::npos) break;
        parts.push_back(text.substr(0, at));
        text.remove_prefix(at + 1);
    }
    parts.push_back(text);
    parts.resize(max_parts);
    return parts;
}

void fuzz_server(unsigned flags, std::string_view client_first, std::string_view client_final) {
    ScramServer server(secret(), (flags & 1) ? std::optional<std::string>(kBinding) : std::nullopt,
                       std::string(kServerNonce));
    const auto mechanism = (flags & 2) ? kScramSha256Plus : kScramSha256;
    const auto first = server.server_first(mechanism, client_first);
    if (!first) return;
    if (!first->starts_with("r=")) std::abort();
    const auto final_message = server.server_final(client_final);
    if (!final_message) {
        if (!server.client_key().empty()) std::abort();  // a failed proof must not leak a key
        return;
    }
    // Accepted: the proof really was made with the secret's ClientKey.
    if (sha256(server.client_key()) != secret().stored_key) std::abort();
    if (!final_message->starts_with("v=")) std::abort();
}

void fuzz_client(unsigned flags, std::string_view server_first, std::string_view server_final) {
    ScramClient client(keys(), (flags & 8) ? std::optional<std::string>(kBinding) : std::nullopt, (flags & 4) != 0,
                       std::string(kClientNonce));
    client.client_first();
    const auto final_message = client.client_final(server_first);
    if (!final_message) return;
    if (!final_message->starts_with("c=")) std::abort();
    (void)client.verify_server_final(server_final);
}

void fuzz_secret(std::string_view text) {
    if (const auto parsed = ScramSecret::parse(text)) {
        const auto again = ScramSecret::parse(parsed->to_string());
        if (!again || again->stored_key != parsed->stored_key || again->iterations != parsed->iterations) {
            std::abort();
        }
    }
    if (const auto prepared = saslprep(text)) {
        if (prepared->empty() && !text.empty()) std::abort();
    }
    (void)saslprep_or_raw(text);
}

void fuzz_encodings(std::string_view text) {
    if (const auto decoded = base64_decode(text)) {
        if (base64_encode(*decoded) != text) std::abort();  // strict: one encoding per value
    }
    (void)tls_server_end_point(text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const unsigned flags = data[0];
    const auto parts = split(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), '\n', 6);
    fuzz_server(flags, parts[0], parts[1]);
    fuzz_client(flags, parts[2], parts[3]);
    fuzz_secret(parts[4]);
    fuzz_encodings(parts[5]);
    return 0;
}
