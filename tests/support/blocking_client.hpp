#pragma once
// A minimal blocking PostgreSQL client built only on sluice's own codec (protocol/) and auth
// (protocol/auth/): POSIX sockets, no libpq. Tests use it to talk to PostgreSQL or to sluice at the
// protocol level, so every read has a deadline (poll) and a test never hangs on a silent peer.
#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/auth/scram.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/startup.hpp"
#include "protocol/tags.hpp"

namespace sluice::testing {

// I/O failure, timeout, connection closed, or bytes the codec rejects.
class ClientError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The server answered with ErrorResponse where the call needed success (e.g. during login).
class ServerError : public std::runtime_error {
public:
    explicit ServerError(protocol::ErrorFields fields);
    [[nodiscard]] const protocol::ErrorFields& fields() const noexcept { return fields_; }
    [[nodiscard]] std::string_view sqlstate() const noexcept { return fields_.code(); }

private:
    protocol::ErrorFields fields_;
};

// One backend message, copied out of the decoder.
struct Message {
    char tag = 0;
    std::string body;
    [[nodiscard]] protocol::BackendTag backend_tag() const noexcept { return static_cast<protocol::BackendTag>(tag); }
};

using Row = std::vector<std::optional<std::string>>;  // nullopt is SQL NULL

struct QueryResult {
    std::vector<std::string> columns;  // names from the last RowDescription
    std::vector<Row> rows;             // DataRows of every statement, in order
    std::vector<std::string> command_tags;
    std::optional<protocol::ErrorFields> error;  // the ErrorResponse, if any
    std::vector<protocol::ErrorFields> notices;
    protocol::TxStatus tx_status = protocol::TxStatus::Idle;  // from the closing ReadyForQuery
    bool empty_query = false;                                  // EmptyQueryResponse seen

    [[nodiscard]] bool ok() const noexcept { return !error; }
    [[nodiscard]] std::string_view sqlstate() const noexcept { return error ? error->code() : std::string_view{}; }
    // rows[row][column], throwing std::out_of_range; NULL reads as nullopt.
    [[nodiscard]] const std::optional<std::string>& at(std::size_t row, std::size_t column) const {
        return rows.at(row).at(column);
    }
};

struct ConnectOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 5432;
    std::string user;
    std::string password;  // used only if the server asks for one
    // SCRAM with ClientKey/ServerKey instead of the password (what sluice does after verifying a
    // client against a stored secret); the password is still used for MD5/cleartext.
    std::optional<protocol::auth::ScramClient::Keys> scram_keys;
    std::string database;  // empty: PostgreSQL's default (the user name)
    // More StartupMessage parameters (application_name, options, ...).
    std::vector<std::pair<std::string, std::string>> parameters;
    protocol::ProtocolVersion version = protocol::kProtocol30;
    std::chrono::milliseconds timeout = std::chrono::seconds(10);  // connect and each read
};

class BlockingClient {
public:
    // TCP connect + startup + authentication, until the first ReadyForQuery. Throws ServerError
    // (with the server's fields, e.g. 28P01) or ClientError.
    static BlockingClient connect(const ConnectOptions& options);
    // TCP connect only, for protocol-level tests that send their own startup bytes.
    static BlockingClient connect_tcp(const std::string& host, std::uint16_t port,
                                      std::chrono::milliseconds timeout = std::chrono::seconds(10));

    BlockingClient(BlockingClient&& other) noexcept;
    BlockingClient& operator=(BlockingClient&& other) noexcept;
    BlockingClient(const BlockingClient&) = delete;
    BlockingClient& operator=(const BlockingClient&) = delete;
    // Sends Terminate if the session is idle at a message boundary, then closes.
    ~BlockingClient();

    // StartupMessage + authentication on a connect_tcp() connection.
    void startup(const ConnectOptions& options);

    // Simple query protocol: Query, then everything until ReadyForQuery.
    QueryResult simple_query(std::string_view sql);
    // Extended protocol with the unnamed statement and portal: Parse/Bind/Describe/Execute/Sync,
    // text-format parameters (nullopt = NULL) and results.
    QueryResult extended_query(std::string_view sql, const std::vector<std::optional<std::string>>& params = {});

    // Protocol-level access.
    void send_raw(std::string_view bytes);
    Message read_message();
    // Like read_message(), but nullopt when the server closed the connection cleanly.
    std::optional<Message> read_message_or_eof();
    // Reads until ReadyForQuery (included), returning every message.
    std::vector<Message> read_until_ready();
    // True if the peer closes the connection within `timeout` (bytes before the close are
    // discarded); false if it is still open then.
    bool wait_closed(std::chrono::milliseconds timeout);
    // SSLRequest; returns the server's one-byte answer ('S' or 'N').
    char request_ssl();

    // CancelRequest with this session's BackendKeyData, on a new connection to host:port
    // (the server's, or a proxy's).
    void cancel(const std::string& host, std::uint16_t port) const;
    // Sends Terminate and closes the socket.
    void terminate();
    void close() noexcept;

    void set_timeout(std::chrono::milliseconds timeout) noexcept { timeout_ = timeout; }
    [[nodiscard]] std::chrono::milliseconds timeout() const noexcept { return timeout_; }
    [[nodiscard]] bool is_open() const noexcept { return fd_ >= 0; }
    [[nodiscard]] int native_handle() const noexcept { return fd_; }

    // From the login.
    [[nodiscard]] std::optional<std::string> parameter(std::string_view name) const;
    [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& parameters() const noexcept {
        return parameters_;
    }
    [[nodiscard]] std::int32_t backend_pid() const noexcept { return backend_pid_; }
    [[nodiscard]] const std::string& secret_key() const noexcept { return secret_key_; }
    [[nodiscard]] protocol::TxStatus tx_status() const noexcept { return tx_status_; }
    // The authentication request codes seen during login, in order (e.g. {10, 11, 12, 0} for SCRAM).
    [[nodiscard]] const std::vector<std::int32_t>& auth_codes() const noexcept { return auth_codes_; }
    // Notices received outside a query (e.g. during login).
    [[nodiscard]] const std::vector<protocol::ErrorFields>& notices() const noexcept { return notices_; }

private:
    BlockingClient(int fd, std::chrono::milliseconds timeout) noexcept : fd_(fd), timeout_(timeout) {}
    void authenticate(const ConnectOptions& options);
    QueryResult collect_until_ready();
    void remember_parameter(std::string_view name, std::string_view value);
    bool fill(std::chrono::steady_clock::time_point deadline);

    int fd_ = -1;
    std::chrono::milliseconds timeout_;
    protocol::FrameDecoder decoder_;
    std::vector<std::pair<std::string, std::string>> parameters_;
    std::int32_t backend_pid_ = 0;
    std::string secret_key_;
    protocol::TxStatus tx_status_ = protocol::TxStatus::Idle;
    std::vector<std::int32_t> auth_codes_;
    std::vector<protocol::ErrorFields> notices_;
    bool ready_ = false;  // at a message boundary after ReadyForQuery
};

}  // namespace sluice::testing
