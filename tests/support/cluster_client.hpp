#pragma once
// Connection options for BlockingClient aimed at a PgCluster role.
#include <string>
#include <string_view>

#include "tests/support/blocking_client.hpp"
#include "tests/support/pg_cluster.hpp"

namespace sluice::testing {

inline ConnectOptions connect_options(const PgCluster& cluster, const PgRole& role,
                                      std::string_view database = "postgres") {
    ConnectOptions o;
    o.host = cluster.host();
    o.port = cluster.port();
    o.user = std::string(role.user);
    o.password = std::string(role.password);
    o.database = std::string(database);
    return o;
}

}  // namespace sluice::testing
