#include "config/env_expand.hpp"

namespace sluice::config {
namespace {

bool is_name_start(char c) noexcept { return c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
bool is_name_char(char c) noexcept { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool is_unreserved(char c) noexcept {
    return is_name_char(c) || c == '-' || c == '.' || c == '~';
}

std::string percent_encode(std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(value.size());
    for (char c : value) {
        if (is_unreserved(c)) {
            out += c;
        } else {
            auto byte = static_cast<unsigned char>(c);
            out += '%';
            out += kHex[byte >> 4];
            out += kHex[byte & 0x0F];
        }
    }
    return out;
}

enum class Substitution { Raw, PercentEncoded };

Expanded expand(std::string_view text, const EnvLookup& env, Substitution substitution) {
    std::string out;
    out.reserve(text.size());
    std::size_t pos = 0;
    while (pos < text.size()) {
        char c = text[pos];
        if (c != '$' || pos + 1 >= text.size() || (text[pos + 1] != '$' && text[pos + 1] != '{')) {
            out += c;
            ++pos;
            continue;
        }
        if (text[pos + 1] == '$') {
            out += '$';
            pos += 2;
            continue;
        }
        std::size_t name_begin = pos + 2;
        std::size_t close = text.find('}', name_begin);
        if (close == std::string_view::npos) {
            return {std::nullopt, "unterminated \"${\" (write \"$$\" for a literal \"$\")"};
        }
        std::string_view name = text.substr(name_begin, close - name_begin);
        bool valid = !name.empty() && is_name_start(name.front());
        for (char n : name) valid = valid && is_name_char(n);
        if (!valid) {
            // Name characters only: never echo arbitrary text, which may be part of a secret.
            return {std::nullopt, name.empty() ? std::string("empty variable name in \"${}\"")
                                               : std::string("invalid environment variable name in \"${...}\" "
                                                             "(letters, digits and '_' only)")};
        }
        std::optional<std::string> value = env ? env(name) : std::nullopt;
        if (!value) return {std::nullopt, "environment variable " + std::string(name) + " is not set"};
        bool whole_text = pos == 0 && close + 1 == text.size();
        if (substitution == Substitution::PercentEncoded && !whole_text) {
            out += percent_encode(*value);
        } else {
            out += *value;
        }
        pos = close + 1;
    }
    return {std::move(out), {}};
}

}  // namespace

Expanded expand_env(std::string_view text, const EnvLookup& env) { return expand(text, env, Substitution::Raw); }

Expanded expand_env_in_url(std::string_view text, const EnvLookup& env) {
    return expand(text, env, Substitution::PercentEncoded);
}

}  // namespace sluice::config
