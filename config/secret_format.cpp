#include "config/secret_format.hpp"

#include "protocol/auth/md5.hpp"
#include "protocol/auth/scram.hpp"

namespace sluice::config {

SecretCheck classify_secret(std::string_view password) {
    namespace auth = protocol::auth;
    if (password.empty()) return {SecretFormat::None, {}};
    if (auth::ScramSecret::looks_like(password)) {
        auto parsed = auth::ScramSecret::parse(password);
        if (!parsed) return {SecretFormat::MalformedScram, parsed.error().message};
        return {SecretFormat::Scram, {}};
    }
    // PostgreSQL's isMD5(): "md5" and 32 lowercase hex digits; anything else is a password.
    if (auth::is_md5_secret(password)) return {SecretFormat::Md5, {}};
    return {SecretFormat::Plain, {}};
}

}  // namespace sluice::config
