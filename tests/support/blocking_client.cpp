#include "tests/support/blocking_client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <variant>

#include "protocol/auth/md5.hpp"
#include "protocol/auth/scram.hpp"
#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"

namespace sluice::testing {
namespace {

using Clock = std::chrono::steady_clock;
namespace proto = sluice::protocol;
namespace auth = sluice::protocol::auth;

constexpr std::size_t kReadChunk = 64 * 1024;

std::string errno_text(const std::string& what, int err = errno) { return what + ": " + std::strerror(err); }

int remaining_ms(Clock::time_point deadline) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    return static_cast<int>(std::clamp<long long>(left, 0, 1 << 30));
}

// Waits for `events` on fd until the deadline; false on timeout.
bool wait_fd(int fd, short events, Clock::time_point deadline) {
    for (;;) {
        pollfd p{fd, events, 0};
        int rc = ::poll(&p, 1, remaining_ms(deadline));
        if (rc > 0) return true;
        if (rc == 0) return false;
        if (errno != EINTR) throw ClientError(errno_text("poll"));
    }
}

template <class T>
T decode_or_throw(proto::Result<T> r, std::string_view what) {
    if (!r) throw ClientError("cannot decode " + std::string(what) + ": " + r.error().message);
    return *std::move(r);
}

std::string describe_error(const proto::ErrorFields& f) {
    return std::string(f.severity()) + " " + std::string(f.code()) + ": " + std::string(f.message());
}

}  // namespace

ServerError::ServerError(protocol::ErrorFields fields)
    : std::runtime_error(describe_error(fields)), fields_(std::move(fields)) {}

BlockingClient BlockingClient::connect_tcp(const std::string& host, std::uint16_t port,
                                           std::chrono::milliseconds timeout) {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    std::string service = std::to_string(port);
    if (int rc = ::getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0)
        throw ClientError("cannot resolve " + host + ": " + ::gai_strerror(rc));
    std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> list(found, &::freeaddrinfo);

    auto deadline = Clock::now() + timeout;
    std::string last_error = "no addresses";
    for (addrinfo* ai = found; ai; ai = ai->ai_next) {
        int fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            last_error = errno_text("socket");
            continue;
        }
        BlockingClient client(fd, timeout);
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return client;
        if (errno != EINPROGRESS) {
            last_error = errno_text("connect");
            continue;
        }
        if (!wait_fd(fd, POLLOUT, deadline)) {
            last_error = "connect timed out";
            continue;
        }
        int err = 0;
        socklen_t len = sizeof err;
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err == 0) return client;
        last_error = errno_text("connect", err);
    }
    throw ClientError("cannot connect to " + host + ":" + service + ": " + last_error);
}

BlockingClient BlockingClient::connect(const ConnectOptions& options) {
    auto client = connect_tcp(options.host, options.port, options.timeout);
    client.startup(options);
    return client;
}

BlockingClient::BlockingClient(BlockingClient&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      timeout_(other.timeout_),
      decoder_(std::move(other.decoder_)),
      parameters_(std::move(other.parameters_)),
      backend_pid_(other.backend_pid_),
      secret_key_(std::move(other.secret_key_)),
      tx_status_(other.tx_status_),
      auth_codes_(std::move(other.auth_codes_)),
      notices_(std::move(other.notices_)),
      ready_(std::exchange(other.ready_, false)) {}

BlockingClient& BlockingClient::operator=(BlockingClient&& other) noexcept {
    if (this != &other) {
        close();
        fd_ = std::exchange(other.fd_, -1);
        timeout_ = other.timeout_;
        decoder_ = std::move(other.decoder_);
        parameters_ = std::move(other.parameters_);
        backend_pid_ = other.backend_pid_;
        secret_key_ = std::move(other.secret_key_);
        tx_status_ = other.tx_status_;
        auth_codes_ = std::move(other.auth_codes_);
        notices_ = std::move(other.notices_);
        ready_ = std::exchange(other.ready_, false);
    }
    return *this;
}

BlockingClient::~BlockingClient() {
    if (fd_ >= 0 && ready_) {
        // A polite goodbye keeps "unexpected EOF" noise out of the server log; best effort only.
        std::string out;
        proto::Terminate{}.encode(out);
        (void)!::send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close();
}

void BlockingClient::close() noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    ready_ = false;
}

void BlockingClient::terminate() {
    if (fd_ < 0) return;
    std::string out;
    proto::Terminate{}.encode(out);
    (void)!::send(fd_, out.data(), out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    close();
}

void BlockingClient::send_raw(std::string_view bytes) {
    if (fd_ < 0) throw ClientError("send on a closed connection");
    auto deadline = Clock::now() + timeout_;
    while (!bytes.empty()) {
        ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
        if (n > 0) {
            bytes.remove_prefix(static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd_, POLLOUT, deadline)) throw ClientError("send timed out");
            continue;
        }
        throw ClientError(errno_text("send"));
    }
    ready_ = false;
}

bool BlockingClient::fill(Clock::time_point deadline) {
    for (;;) {
        if (!wait_fd(fd_, POLLIN, deadline))
            throw ClientError("timed out after " + std::to_string(timeout_.count()) + " ms waiting for the server");
        auto buf = decoder_.prepare(kReadChunk);
        ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
        decoder_.commit(n > 0 ? static_cast<std::size_t>(n) : 0);
        if (n > 0) return true;
        if (n == 0) return false;
        if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK) continue;
        if (errno == ECONNRESET) return false;
        throw ClientError(errno_text("recv"));
    }
}

std::optional<Message> BlockingClient::read_message_or_eof() {
    if (fd_ < 0) throw ClientError("read on a closed connection");
    auto deadline = Clock::now() + timeout_;
    for (;;) {
        auto frame = decoder_.next();
        if (!frame) throw ClientError("bad frame from server: " + frame.error().message);
        if (*frame) {
            Message m{(*frame)->tag, std::string((*frame)->body)};
            ready_ = m.tag == static_cast<char>(proto::BackendTag::ReadyForQuery);
            return m;
        }
        if (!fill(deadline)) {
            if (decoder_.buffered() > 0)
                throw ClientError("server closed the connection in the middle of a message");
            return std::nullopt;
        }
    }
}

Message BlockingClient::read_message() {
    auto m = read_message_or_eof();
    if (!m) throw ClientError("server closed the connection");
    return *std::move(m);
}

std::vector<Message> BlockingClient::read_until_ready() {
    std::vector<Message> out;
    for (;;) {
        out.push_back(read_message());
        if (out.back().backend_tag() == proto::BackendTag::ReadyForQuery) return out;
    }
}

bool BlockingClient::wait_closed(std::chrono::milliseconds timeout) {
    if (fd_ < 0) return true;
    auto deadline = Clock::now() + timeout;
    char buf[4096];
    for (;;) {
        if (!wait_fd(fd_, POLLIN, deadline)) return false;
        ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n == 0 || (n < 0 && errno == ECONNRESET)) {
            close();
            return true;
        }
        if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) throw ClientError(errno_text("recv"));
    }
}

char BlockingClient::request_ssl() {
    std::string out;
    proto::SslRequest{}.encode(out);
    send_raw(out);
    auto deadline = Clock::now() + timeout_;
    for (;;) {
        if (!wait_fd(fd_, POLLIN, deadline)) throw ClientError("timed out waiting for the SSLRequest answer");
        char c = 0;
        ssize_t n = ::recv(fd_, &c, 1, 0);
        if (n == 1) return c;
        if (n == 0) throw ClientError("server closed the connection after SSLRequest");
        if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) throw ClientError(errno_text("recv"));
    }
}

void BlockingClient::startup(const ConnectOptions& options) {
    proto::StartupMessage sm;
    sm.version = options.version;
    sm.parameters.emplace_back("user", options.user);
    if (!options.database.empty()) sm.parameters.emplace_back("database", options.database);
    for (const auto& p : options.parameters) sm.parameters.push_back(p);
    std::string out;
    sm.encode(out);
    send_raw(out);
    authenticate(options);

    // After AuthenticationOk: ParameterStatus, BackendKeyData and notices until ReadyForQuery.
    for (;;) {
        Message m = read_message();
        switch (m.backend_tag()) {
            case proto::BackendTag::ParameterStatus: {
                auto ps = decode_or_throw(proto::ParameterStatus::decode(m.body), "ParameterStatus");
                remember_parameter(ps.name, ps.value);
                break;
            }
            case proto::BackendTag::BackendKeyData: {
                auto k = decode_or_throw(proto::BackendKeyData::decode(m.body), "BackendKeyData");
                backend_pid_ = k.process_id;
                secret_key_ = std::string(k.secret_key);
                break;
            }
            case proto::BackendTag::NoticeResponse:
                notices_.push_back(decode_or_throw(proto::NoticeResponse::decode(m.body), "NoticeResponse").fields);
                break;
            case proto::BackendTag::ErrorResponse:
                throw ServerError(decode_or_throw(proto::ErrorResponse::decode(m.body), "ErrorResponse").fields);
            case proto::BackendTag::NegotiateProtocolVersion:
                break;
            case proto::BackendTag::ReadyForQuery:
                tx_status_ = decode_or_throw(proto::ReadyForQuery::decode(m.body), "ReadyForQuery").status;
                return;
            default:
                throw ClientError(std::string("unexpected message '") + m.tag + "' during startup");
        }
    }
}

void BlockingClient::authenticate(const ConnectOptions& options) {
    std::optional<auth::ScramClient> scram;
    for (;;) {
        Message m = read_message();
        if (m.backend_tag() == proto::BackendTag::ErrorResponse)
            throw ServerError(decode_or_throw(proto::ErrorResponse::decode(m.body), "ErrorResponse").fields);
        if (m.backend_tag() == proto::BackendTag::NoticeResponse) {
            notices_.push_back(decode_or_throw(proto::NoticeResponse::decode(m.body), "NoticeResponse").fields);
            continue;
        }
        if (m.backend_tag() == proto::BackendTag::NegotiateProtocolVersion) continue;
        if (m.backend_tag() != proto::BackendTag::Authentication)
            throw ClientError(std::string("unexpected message '") + m.tag + "' during authentication");

        auto request = decode_or_throw(proto::decode_authentication(m.body), "Authentication");
        std::string out;
        bool done = std::visit(
            [&](const auto& r) -> bool {
                using T = std::decay_t<decltype(r)>;
                auth_codes_.push_back(T::code);
                if constexpr (std::is_same_v<T, proto::AuthenticationOk>) {
                    if (scram) throw ClientError("AuthenticationOk before the SCRAM exchange finished");
                    return true;
                } else if constexpr (std::is_same_v<T, proto::AuthenticationCleartextPassword>) {
                    proto::PasswordMessage{options.password}.encode(out);
                } else if constexpr (std::is_same_v<T, proto::AuthenticationMD5Password>) {
                    auto response = auth::md5_response(auth::md5_secret(options.password, options.user), r.salt);
                    proto::PasswordMessage{response}.encode(out);
                } else if constexpr (std::is_same_v<T, proto::AuthenticationSASL>) {
                    if (std::find(r.mechanisms.begin(), r.mechanisms.end(), auth::kScramSha256) == r.mechanisms.end())
                        throw ClientError("server offers no SCRAM-SHA-256");
                    if (options.scram_keys) scram.emplace(*options.scram_keys);
                    else scram.emplace(options.password);
                    std::string first = scram->client_first();
                    proto::SASLInitialResponse{auth::kScramSha256, first}.encode(out);
                } else if constexpr (std::is_same_v<T, proto::AuthenticationSASLContinue>) {
                    if (!scram) throw ClientError("AuthenticationSASLContinue without SASL");
                    auto final_message = scram->client_final(r.data);
                    if (!final_message) throw ClientError("SCRAM: " + final_message.error().message);
                    proto::SASLResponse{*final_message}.encode(out);
                } else if constexpr (std::is_same_v<T, proto::AuthenticationSASLFinal>) {
                    if (!scram) throw ClientError("AuthenticationSASLFinal without SASL");
                    // The server proves it knows the secret too; a proxy faking it is caught here.
                    if (auto v = scram->verify_server_final(r.data); !v)
                        throw ClientError("SCRAM server signature: " + v.error().message);
                    scram.reset();
                } else {
                    throw ClientError("unsupported authentication request " + std::to_string(T::code));
                }
                return false;
            },
            request);
        if (done) return;
        if (!out.empty()) send_raw(out);
    }
}

void BlockingClient::remember_parameter(std::string_view name, std::string_view value) {
    for (auto& [k, v] : parameters_) {
        if (k == name) {
            v = std::string(value);
            return;
        }
    }
    parameters_.emplace_back(name, value);
}

std::optional<std::string> BlockingClient::parameter(std::string_view name) const {
    for (const auto& [k, v] : parameters_)
        if (k == name) return v;
    return std::nullopt;
}

QueryResult BlockingClient::simple_query(std::string_view sql) {
    std::string out;
    proto::Query{sql}.encode(out);
    send_raw(out);
    return collect_until_ready();
}

QueryResult BlockingClient::extended_query(std::string_view sql, const std::vector<std::optional<std::string>>& params) {
    std::string out;
    proto::Parse{"", sql, {}}.encode(out);
    proto::Bind bind;
    for (const auto& p : params) bind.parameters.push_back(p ? proto::Value(*p) : proto::Value());
    bind.encode(out);
    proto::Describe{proto::ObjectKind::Portal, ""}.encode(out);
    proto::Execute{"", 0}.encode(out);
    proto::Sync{}.encode(out);
    send_raw(out);
    return collect_until_ready();
}

QueryResult BlockingClient::collect_until_ready() {
    QueryResult result;
    for (;;) {
        Message m = read_message();
        switch (m.backend_tag()) {
            case proto::BackendTag::RowDescription: {
                auto rd = decode_or_throw(proto::RowDescription::decode(m.body), "RowDescription");
                result.columns.clear();
                for (const auto& f : rd.fields) result.columns.emplace_back(f.name);
                break;
            }
            case proto::BackendTag::DataRow: {
                auto dr = decode_or_throw(proto::DataRow::decode(m.body), "DataRow");
                Row row;
                for (const auto& v : dr.values)
                    row.push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
                result.rows.push_back(std::move(row));
                break;
            }
            case proto::BackendTag::CommandComplete:
                result.command_tags.emplace_back(
                    decode_or_throw(proto::CommandComplete::decode(m.body), "CommandComplete").command_tag);
                break;
            case proto::BackendTag::EmptyQueryResponse:
                result.empty_query = true;
                break;
            case proto::BackendTag::ErrorResponse:
                result.error = decode_or_throw(proto::ErrorResponse::decode(m.body), "ErrorResponse").fields;
                break;
            case proto::BackendTag::NoticeResponse:
                result.notices.push_back(decode_or_throw(proto::NoticeResponse::decode(m.body), "NoticeResponse").fields);
                break;
            case proto::BackendTag::ParameterStatus: {
                auto ps = decode_or_throw(proto::ParameterStatus::decode(m.body), "ParameterStatus");
                remember_parameter(ps.name, ps.value);
                break;
            }
            case proto::BackendTag::CopyInResponse: {
                // This client has no data to send: end the COPY so the session stays usable.
                std::string out;
                proto::CopyFail{"COPY FROM STDIN is not supported by BlockingClient"}.encode(out);
                send_raw(out);
                break;
            }
            case proto::BackendTag::ReadyForQuery:
                result.tx_status = decode_or_throw(proto::ReadyForQuery::decode(m.body), "ReadyForQuery").status;
                tx_status_ = result.tx_status;
                return result;
            default:
                // ParseComplete, BindComplete, NoData, ParameterDescription, PortalSuspended,
                // CopyOutResponse/CopyData/CopyDone, NotificationResponse: nothing to collect.
                break;
        }
    }
}

void BlockingClient::cancel(const std::string& host, std::uint16_t port) const {
    if (secret_key_.empty()) throw ClientError("no BackendKeyData to cancel with");
    auto c = connect_tcp(host, port, timeout_);
    std::string out;
    proto::CancelRequest{backend_pid_, secret_key_}.encode(out);
    c.send_raw(out);
    // The server answers nothing and closes; waiting for that (as libpq does) means the request
    // was read before we return.
    c.wait_closed(timeout_);
}

}  // namespace sluice::testing
