#pragma once
// The TLS contexts of the upstreams: one per distinct set of TLS settings in the databases' URLs,
// made when sluice starts (and again on SIGHUP) and shared by every pool and auth_query
// connection that uses them.
// Made per pool, each context with the system's root certificates parsed the whole CA bundle again
// on the first login of each (database, user): ~0.9 MiB and ~40 ms of its worker's time here.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <tuple>
#include <vector>

#include "config/model.hpp"

namespace sluice::proxy {

class TlsContext;

class UpstreamTls {
public:
    // What a connection to an upstream uses: `tls` nullptr when sslmode is disable, or when the
    // context could not be made (`error` says why; the connection then fails with it).
    struct Context {
        std::shared_ptr<const TlsContext> tls;
        std::string error;
    };

    explicit UpstreamTls(const config::Config& config);

    // For the URL of one of the configuration's databases; a URL it has not seen gets a context
    // made on the spot.
    [[nodiscard]] Context for_url(const config::UpstreamUrl& url) const;

    // Reads the certificate files again: each context made anew replaces the running one, for
    // connections made from now on; one that cannot be made keeps the running one (`problems`
    // says why).
    struct Reloaded {
        std::size_t made = 0;
        std::vector<std::string> problems;
    };
    Reloaded reload();

private:
    // What a context depends on (SNI and the host name checked are per connection).
    using Settings = std::tuple<bool, std::string, std::string, std::string>;
    static Settings settings_of(const config::UpstreamUrl& url);
    static Context make(const config::UpstreamUrl& url);

    struct Entry {
        config::UpstreamUrl url;  // the first URL with these settings, to make its context again
        Context context;
    };
    mutable std::mutex mutex_;  // taken when a pool is made and on reload, not per connection
    std::map<Settings, Entry> contexts_;
};

}  // namespace sluice::proxy
