#include "proxy/auth_query.hpp"

#include <spdlog/spdlog.h>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/frontend.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/router.hpp"
#include "proxy/server_connection.hpp"

namespace sluice::proxy {

namespace p = protocol;

namespace {

// PostgreSQL's binary timestamptz: microseconds since 2000-01-01 00:00:00 UTC.
constexpr std::int64_t kPostgresEpochUnixSeconds = 946684800;

bool expired(std::string_view binary_timestamptz) {
    if (binary_timestamptz.size() != 8) return true;  // not a timestamptz: refuse rather than guess
    p::ByteReader r(binary_timestamptz);
    auto hi = static_cast<std::uint32_t>(r.i32());
    auto lo = static_cast<std::uint32_t>(r.i32());
    auto micros = static_cast<std::int64_t>((std::uint64_t{hi} << 32) | lo);
    auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() -
               kPostgresEpochUnixSeconds * 1'000'000;
    return micros < now;
}

}  // namespace

awaitable<AuthQueryResult> AuthQueryCache::lookup(const config::Database& database, const std::string& user) {
    auto key = std::make_pair(database.name, user);
    {
        std::lock_guard lock(mutex_);
        auto it = cache_.find(key);
        if (it != cache_.end() && Clock::now() < it->second.expires) co_return it->second.result;
    }
    auto result = co_await query(database, user);
    std::lock_guard lock(mutex_);
    cache_[key] = Entry{result, Clock::now() + settings_.cache_ttl};
    co_return result;
}

awaitable<AuthQueryResult> AuthQueryCache::query(const config::Database& database, const std::string& user) {
    auto target = Router::target_for(database, database.name);
    bool has_options = false;
    for (auto& [name, value] : target.parameters) {
        if (name == "options") {
            value += " -c search_path=pg_catalog";
            has_options = true;
        }
    }
    if (!has_options) target.parameters.emplace_back("options", "-c search_path=pg_catalog");
    ServerCredentials credentials;
    credentials.user = settings_.user;
    credentials.password = settings_.password;
    auto connected = co_await ServerConnection::connect(target, credentials);
    if (!connected.connection) {
        spdlog::error("auth_query: cannot connect as \"{}\" to database \"{}\": {}", settings_.user, database.name,
                      connected.error);
        co_return AuthQueryResult{std::nullopt, "auth_query connection failed"};
    }
    auto& server = *connected.connection;

    std::string out;
    p::Parse{"", settings_.query, {}}.encode(out);
    p::Bind bind;
    bind.parameters.push_back(std::string_view(user));
    bind.result_formats = {1};  // binary: text columns come back as their bytes, valuntil as an int64
    bind.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Sync{}.encode(out);
    p::Terminate{}.encode(out);
    if (auto [ec, n] = co_await server.stream().write_all(asio::buffer(out)); ec)
        co_return AuthQueryResult{std::nullopt, "auth_query connection failed"};

    p::FrameDecoder decoder(1024 * 1024);
    std::string error;
    AuthQueryResult result{std::nullopt, "no such user"};
    int rows = 0;
    for (;;) {
        auto frame = co_await read_frame(server.stream(), decoder, error);
        if (!frame) co_return AuthQueryResult{std::nullopt, "auth_query connection failed: " + error};
        auto tag = static_cast<p::BackendTag>(frame->tag);
        if (tag == p::BackendTag::ErrorResponse) {
            auto fields = p::ErrorFields::decode(frame->body);
            spdlog::error("auth_query failed: {}", fields ? std::string(fields->message()) : "malformed error");
            result = AuthQueryResult{std::nullopt, "auth_query failed"};
        } else if (tag == p::BackendTag::DataRow) {
            auto row = p::DataRow::decode(frame->body);
            if (!row || row->values.size() < 2) {
                result = AuthQueryResult{std::nullopt, "auth_query returned fewer than 2 columns"};
            } else if (++rows > 1) {
                result = AuthQueryResult{std::nullopt, "auth_query returned more than one row"};
            } else if (!row->values[1]) {
                result = AuthQueryResult{std::nullopt, "user has no password"};
            } else if (row->values.size() >= 3 && row->values[2] && expired(*row->values[2])) {
                result = AuthQueryResult{std::nullopt, "password expired (rolvaliduntil)"};
            } else {
                result = AuthQueryResult{std::string(*row->values[1]), {}};
            }
        } else if (tag == p::BackendTag::ReadyForQuery) {
            break;
        }
    }
    server.stream().close();
    co_return result;
}

}  // namespace sluice::proxy
