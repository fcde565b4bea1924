#include "protocol/auth/crypto.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/auth/scram_message.hpp"

namespace sluice::protocol::auth {

namespace {

using scram_detail::AttributeReader;

constexpr std::string_view kChannelBindingType = "tls-server-end-point";
constexpr std::size_t kProofSize = 32;

}  // namespace

ScramServer::ScramServer(ScramSecret secret, std::optional<std::string> channel_binding, std::string nonce)
    : secret_(std::move(secret)),
      channel_binding_(std::move(channel_binding)),
      server_nonce_(nonce.empty() ? scram_detail::generate_nonce() : std::move(nonce)) {}

Result<std::string> ScramServer::server_first(std::string_view mechanism, std::string_view client_first) {
    if (stage_ != Stage::Initial) return fail("SCRAM client-first-message out of order");
    stage_ = Stage::Done;  // any failure below ends the exchange

    bool plus = false;
    if (mechanism == kScramSha256Plus) {
        if (!channel_binding_) return fail("SCRAM-SHA-256-PLUS selected but it was not offered (no TLS)");
        plus = true;
    } else if (mechanism != kScramSha256) {
        return fail("unsupported SASL mechanism");
    }

    // GS2 header: cbind-flag "," [authzid] ","
    std::string_view rest = client_first;
    if (rest.starts_with("n,") || rest.starts_with("y,")) {
        cbind_flag_ = rest[0];
        rest.remove_prefix(2);
    } else if (rest.starts_with("p=")) {
        const std::size_t comma = rest.find(',');
        if (comma == std::string_view::npos) return fail("SCRAM client-first-message: malformed GS2 header");
        if (rest.substr(2, comma - 2) != kChannelBindingType) return fail("unsupported SCRAM channel binding type");
        cbind_flag_ = 'p';
        rest.remove_prefix(comma + 1);
    } else {
        return fail("SCRAM client-first-message: malformed GS2 header");
    }
    switch (cbind_flag_) {
        case 'n':
            if (plus) return fail("SCRAM-SHA-256-PLUS selected but the client sent no channel binding");
            break;
        case 'y':
            if (plus) return fail("SCRAM-SHA-256-PLUS selected but the client sent no channel binding");
            // The client could bind but believes we cannot: someone removed PLUS from our offer.
            if (channel_binding_) return fail("SCRAM channel binding downgrade detected");
            break;
        default:  // 'p'
            if (!plus) return fail("SCRAM channel binding requested without SCRAM-SHA-256-PLUS");
            break;
    }
    if (rest.starts_with("a=")) return fail("SCRAM authorization identity is not supported");
    if (!rest.starts_with(",")) return fail("SCRAM client-first-message: malformed GS2 header");
    rest.remove_prefix(1);
    gs2_header_ = std::string(client_first.substr(0, client_first.size() - rest.size()));

    // client-first-message-bare: [reserved-mext ","] username "," nonce ["," extensions]
    AttributeReader reader(rest);
    if (!rest.empty() && rest[0] == 'm') return fail("SCRAM client requires an unsupported extension");
    // The user name is ignored, as PostgreSQL does: the startup packet's user is authoritative.
    if (!reader.expect('n')) return fail("SCRAM client-first-message: missing user name");
    const auto client_nonce = reader.expect('r');
    if (!client_nonce || client_nonce->empty() || !scram_detail::is_printable_nonce(*client_nonce)) {
        return fail("SCRAM client-first-message: missing or invalid nonce");
    }
    while (!reader.at_end()) {
        if (!reader.next()) return fail("SCRAM client-first-message: malformed extension");
    }

    client_first_bare_ = std::string(rest);
    nonce_ = std::string(*client_nonce) + server_nonce_;
    server_first_ = "r=" + nonce_ + ",s=" + base64_encode(secret_.salt) + ",i=" + std::to_string(secret_.iterations);
    stage_ = Stage::SentFirst;
    return scram_detail::ok(server_first_);
}

Result<std::string> ScramServer::server_final(std::string_view client_final) {
    if (stage_ != Stage::SentFirst) return fail("SCRAM client-final-message out of order");
    stage_ = Stage::Done;

    // client-final-message: channel-binding "," nonce ["," extensions] "," proof
    AttributeReader reader(client_final);
    const auto cbind_b64 = reader.expect('c');
    if (!cbind_b64) return fail("SCRAM client-final-message: missing channel binding");
    const auto nonce = reader.expect('r');
    if (!nonce) return fail("SCRAM client-final-message: missing nonce");
    std::optional<std::string_view> proof_b64;
    std::size_t proof_at = 0;
    while (!reader.at_end()) {
        proof_at = reader.position();
        const auto attribute = reader.next();
        if (!attribute) return fail("SCRAM client-final-message: malformed");
        if (attribute->name == 'p') {
            proof_b64 = attribute->value;
            if (!reader.at_end()) return fail("SCRAM client-final-message: proof must be last");
        }
    }
    if (!proof_b64) return fail("SCRAM client-final-message: missing proof");

    std::string expected_cbind = gs2_header_;
    if (cbind_flag_ == 'p') expected_cbind += *channel_binding_;
    const auto cbind = base64_decode(*cbind_b64);
    if (!cbind || !constant_time_equal(*cbind, expected_cbind)) return fail("SCRAM channel binding check failed");
    if (!constant_time_equal(*nonce, nonce_)) return fail("SCRAM nonce mismatch");
    const auto proof = base64_decode(*proof_b64);
    if (!proof || proof->size() != kProofSize) return fail("SCRAM client-final-message: malformed proof");

    const std::string auth_message =
        client_first_bare_ + "," + server_first_ + "," + std::string(client_final.substr(0, proof_at - 1));
    const std::string client_signature = hmac_sha256(secret_.stored_key, auth_message);
    std::string client_key = scram_detail::xor_bytes(*proof, client_signature);
    if (!constant_time_equal(sha256(client_key), secret_.stored_key)) {
        return fail("SCRAM proof mismatch: wrong password");
    }
    client_key_ = std::move(client_key);
    return scram_detail::ok("v=" + base64_encode(hmac_sha256(secret_.server_key, auth_message)));
}

}  // namespace sluice::protocol::auth
