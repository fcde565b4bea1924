#include <charconv>
#include <string>

#include "protocol/auth/crypto.hpp"
#include "protocol/auth/saslprep.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/auth/scram_message.hpp"

namespace sluice::protocol::auth {

namespace {

using scram_detail::AttributeReader;

constexpr std::size_t kKeySize = 32;

// RFC 5802 saslname: ',' and '=' are escaped.
std::string escape_username(std::string_view name) {
    std::string out;
    for (const char c : name) {
        if (c == '=') {
            out += "=3D";
        } else if (c == ',') {
            out += "=2C";
        } else {
            out += c;
        }
    }
    return out;
}

}  // namespace

ScramClient::ScramClient(std::string password, std::optional<std::string> channel_binding, bool tls,
                         std::string nonce)
    : password_(std::move(password)),
      channel_binding_(std::move(channel_binding)),
      tls_(tls),
      nonce_(nonce.empty() ? scram_detail::generate_nonce() : std::move(nonce)) {}

ScramClient::ScramClient(Keys keys, std::optional<std::string> channel_binding, bool tls, std::string nonce)
    : keys_(std::move(keys)),
      channel_binding_(std::move(channel_binding)),
      tls_(tls),
      nonce_(nonce.empty() ? scram_detail::generate_nonce() : std::move(nonce)) {}

std::string_view ScramClient::mechanism() const noexcept {
    return channel_binding_ ? kScramSha256Plus : kScramSha256;
}

std::string ScramClient::gs2_header() const {
    if (channel_binding_) return "p=tls-server-end-point,,";
    // 'y': "I support channel binding but think you do not" lets a server that does offer PLUS
    // detect that someone stripped it from the mechanism list.
    return tls_ ? "y,," : "n,,";
}

std::string ScramClient::client_first(std::string_view username) {
    client_first_bare_ = "n=" + escape_username(username) + ",r=" + nonce_;
    auth_message_.clear();
    server_key_.clear();
    stage_ = Stage::SentFirst;
    return gs2_header() + client_first_bare_;
}

Result<std::string> ScramClient::client_final(std::string_view server_first) {
    if (stage_ != Stage::SentFirst) return fail("SCRAM server-first-message out of order");
    stage_ = Stage::Done;  // any failure below ends the exchange

    // PostgreSQL sends exactly r, s, i (no extensions); anything else is malformed.
    AttributeReader reader(server_first);
    const auto nonce = reader.expect('r');
    if (!nonce) return fail("SCRAM server-first-message: missing nonce");
    const auto salt_b64 = reader.expect('s');
    if (!salt_b64) return fail("SCRAM server-first-message: missing salt");
    const auto iterations_text = reader.expect('i');
    if (!iterations_text) return fail("SCRAM server-first-message: missing iteration count");
    if (!reader.at_end()) return fail("SCRAM server-first-message: unexpected trailing data");

    if (nonce->size() <= nonce_.size() || !nonce->starts_with(nonce_) || !scram_detail::is_printable_nonce(*nonce)) {
        return fail("SCRAM server nonce does not extend the client nonce");
    }
    const auto salt = base64_decode(*salt_b64);
    if (!salt || salt->empty()) return fail("SCRAM server-first-message: invalid salt");
    int iterations = 0;
    const char* end = iterations_text->data() + iterations_text->size();
    const auto [ptr, ec] = std::from_chars(iterations_text->data(), end, iterations);
    if (iterations_text->empty() || (*iterations_text)[0] == '-' || ec != std::errc{} || ptr != end ||
        iterations < 1) {
        return fail("SCRAM server-first-message: iteration count out of range");
    }
    if (iterations > kMaxScramIterations) {
        return fail("SCRAM server demands " + std::to_string(iterations) + " iterations, more than the " +
                    std::to_string(kMaxScramIterations) + " sluice accepts");
    }

    std::string client_key;
    if (password_) {
        auto keys = scram_detail::derive_keys(pbkdf2_sha256(saslprep_or_raw(*password_), *salt, iterations));
        client_key = std::move(keys.client_key);
        server_key_ = std::move(keys.server_key);
    } else {
        // Keys recovered from a client's proof only work against a secret with the same salt and
        // iteration count; a mismatch shows up as an authentication failure from the server.
        if (keys_->client_key.size() != kKeySize || keys_->server_key.size() != kKeySize) {
            return fail("SCRAM client keys have the wrong size");
        }
        client_key = keys_->client_key;
        server_key_ = keys_->server_key;
    }

    std::string cbind_input = gs2_header();
    if (channel_binding_) cbind_input += *channel_binding_;
    const std::string without_proof = "c=" + base64_encode(cbind_input) + ",r=" + std::string(*nonce);
    auth_message_ = client_first_bare_ + "," + std::string(server_first) + "," + without_proof;
    const std::string client_signature = hmac_sha256(sha256(client_key), auth_message_);
    const std::string proof = scram_detail::xor_bytes(client_key, client_signature);
    stage_ = Stage::SentFinal;
    return scram_detail::ok(without_proof + ",p=" + base64_encode(proof));
}

Result<void> ScramClient::verify_server_final(std::string_view server_final) {
    if (stage_ != Stage::SentFinal) return fail("SCRAM server-final-message out of order");
    stage_ = Stage::Done;

    AttributeReader reader(server_final);
    if (const auto error = reader.expect('e')) {
        // The value comes from the peer: only echo a short printable token (RFC 5802 server-error-value).
        const bool loggable = error->size() <= 64 && scram_detail::is_printable_nonce(*error);
        return fail("SCRAM authentication failed on the server: " +
                    (loggable ? std::string(*error) : std::string("(unprintable error)")));
    }
    const auto verifier_b64 = reader.expect('v');
    if (!verifier_b64 || !reader.at_end()) return fail("SCRAM server-final-message: malformed");
    const auto verifier = base64_decode(*verifier_b64);
    if (!verifier) return fail("SCRAM server-final-message: invalid signature encoding");
    if (!constant_time_equal(*verifier, hmac_sha256(server_key_, auth_message_))) {
        return fail("SCRAM server signature mismatch: the server does not know the password");
    }
    server_verified_ = true;
    return {};
}

}  // namespace sluice::protocol::auth
