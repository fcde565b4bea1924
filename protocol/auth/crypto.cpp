#include "protocol/auth/crypto.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <stdexcept>

namespace sluice::protocol::auth {

namespace {

constexpr std::size_t kSha256Size = 32;

const unsigned char* bytes(std::string_view s) noexcept {
    // OpenSSL wants a valid pointer even for zero-length input.
    static constexpr unsigned char kEmpty = 0;
    return s.empty() ? &kEmpty : reinterpret_cast<const unsigned char*>(s.data());
}

int checked_int(std::size_t n, const char* what) {
    if (n > static_cast<std::size_t>(INT_MAX)) throw std::length_error(what);
    return static_cast<int>(n);
}

constexpr std::string_view kBase64Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_base64_values() {
    std::array<std::int8_t, 256> values{};
    values.fill(-1);
    for (std::size_t i = 0; i < kBase64Alphabet.size(); ++i) {
        values[static_cast<unsigned char>(kBase64Alphabet[i])] = static_cast<std::int8_t>(i);
    }
    return values;
}

constexpr std::array<std::int8_t, 256> kBase64Values = make_base64_values();

}  // namespace

std::string random_bytes(std::size_t n) {
    // Each login takes a few small pieces (a salt, a cancel key): one RAND_bytes call costs as much
    // as generating a few kilobytes, so each thread draws a block and hands it out in order. Bytes
    // handed out are wiped from the block; sluice does not fork, so no two processes share one.
    struct Block {
        std::array<unsigned char, 4096> bytes;
        std::size_t used = sizeof(bytes);
        ~Block() { OPENSSL_cleanse(bytes.data(), bytes.size()); }
    };
    thread_local Block block;
    std::string out(n, '\0');
    std::size_t done = 0;
    while (done < n) {
        if (block.used == block.bytes.size()) {
            if (RAND_bytes(block.bytes.data(), static_cast<int>(block.bytes.size())) != 1)
                throw std::runtime_error("RAND_bytes failed: no secure random bytes available");
            block.used = 0;
        }
        const std::size_t chunk = std::min(n - done, block.bytes.size() - block.used);
        std::memcpy(out.data() + done, block.bytes.data() + block.used, chunk);
        OPENSSL_cleanse(block.bytes.data() + block.used, chunk);
        block.used += chunk;
        done += chunk;
    }
    return out;
}

bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    if (a.empty()) return true;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

namespace {

enum class DigestAlgorithm { Md5, Sha256 };

const EVP_MD* fetched_digest(DigestAlgorithm algorithm) {
    // Fetched once: given EVP_md5() or EVP_sha256(), OpenSSL 3 looks the algorithm up by name in
    // its providers on every call, which cost more than the digest itself on each login.
    static EVP_MD* const md5 = EVP_MD_fetch(nullptr, "MD5", nullptr);
    static EVP_MD* const sha256 = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    EVP_MD* md = algorithm == DigestAlgorithm::Md5 ? md5 : sha256;
    if (md == nullptr)
        throw std::runtime_error(algorithm == DigestAlgorithm::Md5 ? "MD5 is not available (is the default OpenSSL provider loaded?)"
                                                                   : "SHA-256 is not available");
    return md;
}

// One digest over the concatenation of `parts`.
void digest(const EVP_MD* md, std::initializer_list<std::string_view> parts, unsigned char* out, unsigned int expected) {
    struct CtxFree {
        void operator()(EVP_MD_CTX* c) const noexcept { EVP_MD_CTX_free(c); }
    };
    thread_local std::unique_ptr<EVP_MD_CTX, CtxFree> ctx(EVP_MD_CTX_new());
    bool ok = ctx && EVP_DigestInit_ex2(ctx.get(), md, nullptr) == 1;
    for (auto part : parts) ok = ok && EVP_DigestUpdate(ctx.get(), bytes(part), part.size()) == 1;
    unsigned int len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx.get(), out, &len) == 1 && len == expected;
    if (!ok) throw std::runtime_error("digest failed");
}

}  // namespace

std::string prepare_crypto() {
    try {
        random_bytes(1);
        fetched_digest(DigestAlgorithm::Sha256);
    } catch (const std::exception& e) {
        return e.what();
    }
    return {};
}

bool md5_available() {
    try {
        fetched_digest(DigestAlgorithm::Md5);
        return true;
    } catch (const std::exception&) {
        return false;
    }
}

std::string sha256(std::string_view data) {
    std::string out(kSha256Size, '\0');
    digest(fetched_digest(DigestAlgorithm::Sha256), {data}, reinterpret_cast<unsigned char*>(out.data()), kSha256Size);
    return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
    // RFC 2104 over the fetched digest (OpenSSL's one-shot HMAC() fetches its algorithms each call).
    constexpr std::size_t kBlock = 64;
    std::array<unsigned char, kBlock> k{};
    if (key.size() > kBlock) {
        digest(fetched_digest(DigestAlgorithm::Sha256), {key}, k.data(), kSha256Size);
    } else if (!key.empty()) {
        std::memcpy(k.data(), key.data(), key.size());
    }
    std::array<char, kBlock> pad;
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<char>(k[i] ^ 0x36);
    std::array<unsigned char, kSha256Size> inner;
    digest(fetched_digest(DigestAlgorithm::Sha256), {std::string_view(pad.data(), kBlock), data}, inner.data(), kSha256Size);
    for (std::size_t i = 0; i < kBlock; ++i) pad[i] = static_cast<char>(k[i] ^ 0x5c);
    std::string out(kSha256Size, '\0');
    digest(fetched_digest(DigestAlgorithm::Sha256),
           {std::string_view(pad.data(), kBlock), std::string_view(reinterpret_cast<const char*>(inner.data()), kSha256Size)},
           reinterpret_cast<unsigned char*>(out.data()), kSha256Size);
    OPENSSL_cleanse(k.data(), k.size());
    OPENSSL_cleanse(pad.data(), pad.size());
    OPENSSL_cleanse(inner.data(), inner.size());
    return out;
}

std::string md5_digest(std::string_view data) {
    std::string out(16, '\0');
    digest(fetched_digest(DigestAlgorithm::Md5), {data}, reinterpret_cast<unsigned char*>(out.data()), 16);
    return out;
}

std::string pbkdf2_sha256(std::string_view password, std::string_view salt, int iterations) {
    if (iterations < 1) throw std::invalid_argument("PBKDF2 needs at least one iteration");
    std::string out(kSha256Size, '\0');
    if (PKCS5_PBKDF2_HMAC(reinterpret_cast<const char*>(bytes(password)),
                          checked_int(password.size(), "password too long"), bytes(salt),
                          checked_int(salt.size(), "salt too long"), iterations, fetched_digest(DigestAlgorithm::Sha256),
                          static_cast<int>(kSha256Size), reinterpret_cast<unsigned char*>(out.data())) != 1) {
        throw std::runtime_error("PBKDF2-HMAC-SHA-256 failed");
    }
    return out;
}

std::string base64_encode(std::string_view data) {
    // Written in place: a login encodes and decodes a few hundred characters, and appending them
    // one at a time cost more than the rest of the work.
    std::string out((data.size() + 2) / 3 * 4, '=');
    char* o = out.data();
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<std::uint32_t>(static_cast<unsigned char>(data[k])); };
    for (; i + 3 <= data.size(); i += 3, o += 4) {
        const std::uint32_t v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        o[0] = kBase64Alphabet[v >> 18 & 63];
        o[1] = kBase64Alphabet[v >> 12 & 63];
        o[2] = kBase64Alphabet[v >> 6 & 63];
        o[3] = kBase64Alphabet[v & 63];
    }
    const std::size_t rest = data.size() - i;
    if (rest > 0) {  // the padding '=' is in place already
        const std::uint32_t v = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
        o[0] = kBase64Alphabet[v >> 18 & 63];
        o[1] = kBase64Alphabet[v >> 12 & 63];
        if (rest == 2) o[2] = kBase64Alphabet[v >> 6 & 63];
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    // Strict RFC 4648 section 4: whole quanta, padding only at the very end, no whitespace, and
    // unused bits zero so that every value has exactly one accepted encoding.
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    const std::size_t data_chars = text.size() - padding;

    std::string out(data_chars * 6 / 8, '\0');
    char* o = out.data();
    std::uint32_t acc = 0;
    int bits = 0;
    for (std::size_t i = 0; i < data_chars; ++i) {
        const std::int8_t v = kBase64Values[static_cast<unsigned char>(text[i])];
        if (v < 0) return std::nullopt;  // includes '=' before the final quantum's padding
        acc = (acc << 6 | static_cast<std::uint32_t>(v)) & 0xFFFFFF;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *o++ = static_cast<char>(acc >> bits & 0xFF);
        }
    }
    if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string hex_encode(std::string_view data) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(data.size() * 2);
    for (const char c : data) {
        const auto b = static_cast<unsigned char>(c);
        out += kDigits[b >> 4];
        out += kDigits[b & 15];
    }
    return out;
}

}  // namespace sluice::protocol::auth
