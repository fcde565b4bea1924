#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/model.hpp"

namespace sluice::config {

// libpq URI: postgres[ql]://[user[:password]@][host[:port][,host[:port]...]][/dbname][?param=value&...]
// Percent-decoding everywhere, IPv6 literals in brackets, multiple hosts, host=/port= query
// parameters (unix socket directories), sslmode/sslrootcert/sslcert/sslkey/sslsni/channel_binding/
// connect_timeout/options, and any other parameter kept as a startup parameter. Unknown sslmode values and
// malformed ports are errors (a string naming what is wrong).
std::variant<UpstreamUrl, std::string> parse_database_url(std::string_view url);
// Why the URL's TLS settings cannot work (a certificate file that cannot be read, a key that does
// not match its certificate, channel_binding=require without TLS), or nullopt. Checked at load, so
// that it fails at start rather than at the first connection.
std::optional<std::string> upstream_tls_problem(const UpstreamUrl& url);
// The URL with the password replaced by "****", for logs.
std::string redact_database_url(std::string_view url);

}  // namespace sluice::config
