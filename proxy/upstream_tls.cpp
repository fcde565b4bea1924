#include "proxy/upstream_tls.hpp"

#include "proxy/tls_context.hpp"

namespace sluice::proxy {

UpstreamTls::UpstreamTls(const config::Config& config) {
    for (const auto& database : config.databases) {
        const auto& url = database.upstream;
        if (url.sslmode == config::SslMode::Disable) continue;
        if (auto key = settings_of(url); !contexts_.contains(key)) contexts_.emplace(key, Entry{url, make(url)});
    }
}

UpstreamTls::Settings UpstreamTls::settings_of(const config::UpstreamUrl& url) {
    const bool verifies = url.verifies_server();
    return {verifies, verifies ? url.sslrootcert : std::string(), url.sslcert, url.sslkey};
}

UpstreamTls::Context UpstreamTls::make(const config::UpstreamUrl& url) {
    Context made;
    made.tls = TlsContext::for_upstream(url, made.error);
    return made;
}

UpstreamTls::Context UpstreamTls::for_url(const config::UpstreamUrl& url) const {
    if (url.sslmode == config::SslMode::Disable) return {};
    {
        std::lock_guard lock(mutex_);
        if (auto found = contexts_.find(settings_of(url)); found != contexts_.end()) return found->second.context;
    }
    return make(url);
}

UpstreamTls::Reloaded UpstreamTls::reload() {
    Reloaded reloaded;
    std::lock_guard lock(mutex_);
    for (auto& [key, entry] : contexts_) {
        auto fresh = make(entry.url);
        if (!fresh.tls) {
            reloaded.problems.push_back(std::move(fresh.error));
            continue;
        }
        entry.context = std::move(fresh);
        ++reloaded.made;
    }
    return reloaded;
}

}  // namespace sluice::proxy
