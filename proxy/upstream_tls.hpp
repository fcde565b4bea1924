#pragma once
// The TLS contexts of the upstreams: one per distinct set of TLS settings in the databases' URLs,
// made when sluice starts and shared by every pool and auth_query connection that uses them.
// Made per pool, each context with the system's root certificates parsed the whole CA bundle again
// on the first login of each (database, user): ~0.9 MiB and ~40 ms of its worker's time here.
#include <map>
#include <memory>
#include <string>
#include <tuple>

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

private:
    // What a context depends on (SNI and the host name checked are per connection).
    using Settings = std::tuple<bool, std::string, std::string, std::string>;
    static Settings settings_of(const config::UpstreamUrl& url);
    static Context make(const config::UpstreamUrl& url);

    std::map<Settings, Context> contexts_;  // not changed after the constructor: read by any thread
};

}  // namespace sluice::proxy
