#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "config/model.hpp"

namespace sluice::config {

// libpq URI: postgres[ql]://[user[:password]@][host[:port][,host[:port]...]][/dbname][?param=value&...]
// Percent-decoding everywhere, IPv6 literals in brackets, multiple hosts, host=/port= query
// parameters (unix socket directories), sslmode/sslrootcert/sslcert/sslkey/sslsni/connect_timeout/
// options, and any other parameter kept as a startup parameter. Unknown sslmode values and
// malformed ports are errors (a string naming what is wrong).
std::variant<UpstreamUrl, std::string> parse_database_url(std::string_view url);
// Why this version of sluice cannot serve the URL as written (it asks for TLS to the upstream,
// which is not implemented yet), or nullopt. A setting that silently did nothing would be worse
// than a refusal: sslmode=verify-full must never mean plaintext.
std::optional<std::string> unsupported_upstream_feature(const UpstreamUrl& url);
// The URL with the password replaced by "****", for logs.
std::string redact_database_url(std::string_view url);

}  // namespace sluice::config
