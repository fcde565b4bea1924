#pragma once
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
// The URL with the password replaced by "****", for logs.
std::string redact_database_url(std::string_view url);

}  // namespace sluice::config
