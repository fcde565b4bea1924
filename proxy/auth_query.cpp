#include "proxy/auth_query.hpp"

#include <spdlog/spdlog.h>

#include "protocol/backend.hpp"
#include "protocol/byte_reader.hpp"
#include "protocol/frontend.hpp"
#include "proxy/frame_io.hpp"
#include "proxy/router.hpp"

namespace sluice::proxy {

namespace p = protocol;
using Status = AuthQueryResult::Status;

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

AuthQueryResult refused(std::string reason) { return {Status::Refused, {}, std::move(reason)}; }
AuthQueryResult failed(std::string reason) { return {Status::Failed, {}, std::move(reason)}; }

}  // namespace

// The right to use one database's lookup connection; given back when it goes out of scope, also
// when the login waiting behind it was cancelled mid-lookup.
class AuthQueryCache::Permit {
public:
    explicit Permit(Upstream& upstream) noexcept : upstream_(&upstream) {}
    Permit(const Permit&) = delete;
    Permit& operator=(const Permit&) = delete;
    ~Permit() {
        upstream_->permit.try_receive([](error_code) {});
    }

private:
    Upstream* upstream_;
};

AuthQueryCache::AuthQueryCache(asio::any_io_executor executor, config::AuthQuery settings,
                               const UpstreamTls& upstream_tls)
    : executor_(std::move(executor)),
      upstream_tls_(upstream_tls),
      settings_(std::move(settings)),
      cache_(kMaxEntries, settings_.cache_ttl) {}

AuthQueryCache::~AuthQueryCache() = default;

AuthQueryCache::Upstream& AuthQueryCache::upstream_for(const std::string& database) {
    std::lock_guard lock(mutex_);
    auto& slot = upstreams_[database];  // one per configured database: bounded by the config
    if (!slot) slot = std::make_unique<Upstream>(executor_);
    return *slot;
}

std::optional<AuthQueryResult> AuthQueryCache::cached(const std::string& database, const std::string& user) {
    std::lock_guard lock(mutex_);
    return cache_.find({database, user}, Clock::now());
}

awaitable<AuthQueryResult> AuthQueryCache::lookup(const config::Database& database, const std::string& user) {
    if (auto hit = cached(database.name, user)) co_return *hit;

    auto& upstream = upstream_for(database.name);
    if (auto [ec] = co_await upstream.permit.async_send(error_code{}, use_tuple); ec)
        co_return failed("auth_query lookup cancelled");
    Permit permit(upstream);
    // Logins of the same name queue here behind the first one: its answer is in the cache now.
    if (auto hit = cached(database.name, user)) co_return *hit;

    auto result = co_await query(database, upstream, user);
    if (result.status != Status::Failed) {
        std::lock_guard lock(mutex_);
        cache_.insert({database.name, user}, result, Clock::now());
    }
    co_return result;
}

awaitable<bool> AuthQueryCache::ensure_connected(const config::Database& database, Upstream& upstream) {
    if (upstream.connection && upstream.connection->stream().idle_and_alive()) co_return true;
    upstream.connection.reset();
    auto target = Router::target_for(database, database.name, upstream_tls_);
    bool has_options = false;
    for (auto& [name, value] : target.parameters) {
        if (name == "options") {
            value += " -c search_path=pg_catalog";
            has_options = true;
        }
    }
    if (!has_options) target.parameters.emplace_back("options", "-c search_path=pg_catalog");
    target.parameters.emplace_back("application_name", "sluice auth_query");
    ServerCredentials credentials;
    credentials.user = settings_.user;
    credentials.password = settings_.password;
    auto connected = co_await ServerConnection::connect(target, credentials);
    if (!connected.connection) {
        spdlog::error("auth_query: cannot connect as \"{}\" to database \"{}\": {}", settings_.user, database.name,
                      connected.error);
        co_return false;
    }
    spdlog::info("auth_query: connected as \"{}\" to database \"{}\"", settings_.user, database.name);
    upstream.connection = std::move(connected.connection);
    co_return true;
}

awaitable<AuthQueryResult> AuthQueryCache::query(const config::Database& database, Upstream& upstream,
                                                 const std::string& user) {
    if (!co_await ensure_connected(database, upstream)) co_return failed("auth_query connection failed");
    // Until the exchange ends at ReadyForQuery the connection is mid-protocol: if this coroutine
    // fails or is cancelled on the way, the connection cannot be reused.
    struct DropUnlessClean {
        Upstream& upstream;
        bool clean = false;
        ~DropUnlessClean() {
            if (!clean && upstream.connection) {
                upstream.connection->stream().close();
                upstream.connection.reset();
            }
        }
    } guard{upstream};
    auto& server = *upstream.connection;

    std::string out;
    p::Parse{"", settings_.query, {}}.encode(out);
    p::Bind bind;
    bind.parameters.push_back(std::string_view(user));
    bind.result_formats = {1};  // binary: text columns come back as their bytes, valuntil as an int64
    bind.encode(out);
    p::Execute{"", 0}.encode(out);
    p::Sync{}.encode(out);
    if (auto [ec, n] = co_await server.stream().write_all(asio::buffer(out)); ec)
        co_return failed("auth_query connection lost: " + ec.message());

    p::FrameDecoder decoder(1024 * 1024);
    std::string error;
    AuthQueryResult result = refused("no such user");
    int rows = 0;
    for (;;) {
        auto frame = co_await read_frame(server.stream(), decoder, error);
        if (!frame) co_return failed("auth_query connection lost: " + error);
        auto tag = static_cast<p::BackendTag>(frame->tag);
        if (tag == p::BackendTag::ErrorResponse) {
            auto fields = p::ErrorFields::decode(frame->body);
            spdlog::error("auth_query failed: {}", fields ? std::string(fields->message()) : "malformed error");
            result = failed("auth_query failed on the upstream server");
        } else if (tag == p::BackendTag::DataRow && result.status != Status::Failed) {
            auto row = p::DataRow::decode(frame->body);
            if (!row || row->values.size() < 2) {
                result = failed("auth_query returned fewer than 2 columns");
            } else if (++rows > 1) {
                result = failed("auth_query returned more than one row");
            } else if (!row->values[1]) {
                result = refused("user has no password");
            } else if (row->values.size() >= 3 && row->values[2] && expired(*row->values[2])) {
                result = refused("password expired (rolvaliduntil)");
            } else {
                result = AuthQueryResult{Status::Found, std::string(*row->values[1]), {}};
            }
        } else if (tag == p::BackendTag::ReadyForQuery) {
            auto rfq = p::ReadyForQuery::decode(frame->body);
            guard.clean = rfq && rfq->status == p::TxStatus::Idle && decoder.buffered() == 0;
            break;
        }
    }
    co_return result;
}

}  // namespace sluice::proxy
