#pragma once
// Connection options for BlockingClient aimed at a PgCluster role.
#include <cstdint>
#include <string>
#include <utility>
#include <string_view>

#include "tests/support/blocking_client.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

// Logging in as `role` to whatever listens on host:port (a cluster, or sluice in front of one).
inline ConnectOptions connect_options(std::string host, std::uint16_t port, const PgRole& role,
                                      std::string_view database = "postgres") {
    ConnectOptions o;
    o.host = std::move(host);
    o.port = port;
    o.user = std::string(role.user);
    o.password = std::string(role.password);
    o.database = std::string(database);
    return o;
}

inline ConnectOptions connect_options(const PgCluster& cluster, const PgRole& role,
                                      std::string_view database = "postgres") {
    return connect_options(cluster.host(), cluster.port(), role, database);
}

}  // namespace sluice::testing
