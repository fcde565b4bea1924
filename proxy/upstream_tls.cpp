#include "proxy/upstream_tls.hpp"

#include "proxy/tls_context.hpp"

namespace sluice::proxy {

UpstreamTls::UpstreamTls(const config::Config& config) {
    for (const auto& database : config.databases) {
        const auto& url = database.upstream;
        if (url.sslmode != config::SslMode::Disable) contexts_.try_emplace(settings_of(url), make(url));
    }
}

UpstreamTls::Settings UpstreamTls::settings_of(const config::UpstreamUrl& url) {
    const bool verifies = url.sslmode == config::SslMode::VerifyCa || url.sslmode == config::SslMode::VerifyFull;
    return {verifies, verifies ? url.sslrootcert : std::string(), url.sslcert, url.sslkey};
}

UpstreamTls::Context UpstreamTls::make(const config::UpstreamUrl& url) {
    Context made;
    made.tls = TlsContext::for_upstream(url, made.error);
    return made;
}

UpstreamTls::Context UpstreamTls::for_url(const config::UpstreamUrl& url) const {
    if (url.sslmode == config::SslMode::Disable) return {};
    if (auto found = contexts_.find(settings_of(url)); found != contexts_.end()) return found->second;
    return make(url);
}

}  // namespace sluice::proxy
