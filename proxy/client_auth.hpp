#pragma once
// Authenticates a client against the configured users (trust, MD5, SCRAM-SHA-256), and works out
// the credentials sluice then uses for that client's upstream logins.
#include <optional>
#include <string_view>

#include "config/model.hpp"
#include "protocol/frame_decoder.hpp"
#include "proxy/asio.hpp"
#include "proxy/auth_query.hpp"
#include "proxy/server_connection.hpp"
#include "proxy/session_end.hpp"
#include "proxy/stream.hpp"

namespace sluice::proxy {

struct ClientAuthResult {
    std::optional<SessionEnd> failure;  // set: the client is not let in
    ServerCredentials upstream;
};

// Runs the exchange up to (not including) AuthenticationOk. `database` may be null (unknown
// database): the exchange still runs so that a client cannot tell unknown databases, unknown
// users and wrong passwords apart before proving who it is.
awaitable<ClientAuthResult> authenticate_client(Stream& stream, protocol::FrameDecoder& decoder,
                                                const config::Config& config, const config::Database* database,
                                                std::string_view user, AuthQueryCache* auth_query);

}  // namespace sluice::proxy
