#pragma once
// Helpers shared by the issue #8 acceptance tests (prepared statements and session state through
// a transaction pool):
//   - pool_config(): sluice on a small pool (trust logins: the drivers open many connections);
//   - Target: where a driver script connects (PostgreSQL directly, or sluice), so that every
//     script runs against PostgreSQL first: a failure through sluice then means sluice is wrong;
//   - run_driver(): a driver script as a child process, with its output for the failure message;
//   - Rig: raw protocol sessions whose transactions land on a chosen server of a pool of 2.
#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "protocol/backend.hpp"
#include "protocol/frontend.hpp"
#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing::prepared {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The role every case logs in as: trust on both PostgreSQL and sluice, no SCRAM rounds.
inline constexpr PgRole kRole = kTrustRole;

inline SluiceConfig pool_config(std::uint32_t size, std::string pool_toml = {}) {
    auto config = SluiceConfig::trust();
    config.pool_size = size;
    config.log_connections = false;
    config.pool_toml = std::move(pool_toml);
    return config;
}

inline fs::path clients_dir() { return fs::path(SLUICE_TEST_DATA_DIR) / "integration" / "prepared" / "clients"; }

struct Target {
    std::string label;  // "postgres" or "sluice": names the run in failure messages
    std::string host;
    std::uint16_t port = 0;
    static Target direct() { return {"postgres", pg().host(), pg().port()}; }
    static Target through(const SluiceProcess& sluice) { return {"sluice", sluice.host(), sluice.port()}; }
    [[nodiscard]] std::vector<std::pair<std::string, std::string>> env() const {
        return {{"PGHOST", host},           {"PGPORT", std::to_string(port)}, {"PGUSER", std::string(kRole.user)},
                {"PGDATABASE", "postgres"}, {"PGSSLMODE", "disable"},       {"PGCONNECT_TIMEOUT", "30"}};
    }
};

struct DriverRun {
    std::optional<ExitStatus> status;  // nullopt: still running at the deadline (killed)
    std::string output;
    [[nodiscard]] bool ok() const noexcept { return status && status->success(); }
    [[nodiscard]] std::string describe(const Target& target) const {
        return "through " + target.label + ": " + (status ? status->describe() : std::string("no exit in time")) +
               "\n---- output ----\n" + output + "---- end ----";
    }
};

// Runs `argv` against `target` (PG* variables set) with `env` added; waits up to `timeout`.
inline DriverRun run_driver(const Target& target, std::vector<std::string> argv,
                            const std::vector<std::pair<std::string, std::string>>& env = {},
                            std::chrono::milliseconds timeout = 180s, const fs::path& working_dir = {}) {
    ChildOptions options;
    options.argv = std::move(argv);
    options.env = target.env();
    options.env.insert(options.env.end(), env.begin(), env.end());
    options.working_dir = working_dir;
    ChildProcess child(options);
    DriverRun run;
    run.status = child.wait_for_exit(timeout);
    run.output = child.log();
    return run;
}

// ---- raw protocol sessions ----------------------------------------------------------------------

// A backend message as the comparisons see it: the tag, plus what must be identical between
// PostgreSQL and sluice (SQLSTATE of an error, bodies of descriptions, rows and tags, status).
inline std::string summarize(const Message& m) {
    switch (m.tag) {
        case 'E':
        case 'N': {
            auto fields = protocol::ErrorFields::decode(m.body);
            return std::string(1, m.tag) + ":" + (fields ? std::string(fields->code()) : "<undecodable>");
        }
        case 't':
        case 'T':
        case 'D':
        case 'C':
        case 'Z':
        case 'A': {
            std::string s(1, m.tag);
            s += ":";
            for (unsigned char c : m.body) {
                if (c >= 0x20 && c < 0x7f) s.push_back(static_cast<char>(c));
                else {
                    static constexpr char kHex[] = "0123456789abcdef";
                    s += "\\x";
                    s.push_back(kHex[c >> 4]);
                    s.push_back(kHex[c & 15]);
                }
            }
            return s;
        }
        default:
            return std::string(1, m.tag);
    }
}

// Frontend message builders (protocol/ encoders), for scripts that read like the protocol docs.
inline std::string parse(std::string_view name, std::string_view sql, std::vector<std::int32_t> types = {}) {
    std::string out;
    protocol::Parse{name, sql, std::move(types)}.encode(out);
    return out;
}
inline std::string bind(std::string_view statement, std::vector<protocol::Value> params = {},
                        std::string_view portal = {}) {
    std::string out;
    protocol::Bind{portal, statement, {}, std::move(params), {}}.encode(out);
    return out;
}
inline std::string describe_statement(std::string_view name) {
    std::string out;
    protocol::Describe{protocol::ObjectKind::Statement, name}.encode(out);
    return out;
}
inline std::string describe_portal(std::string_view name = {}) {
    std::string out;
    protocol::Describe{protocol::ObjectKind::Portal, name}.encode(out);
    return out;
}
inline std::string execute(std::string_view portal = {}, std::int32_t max_rows = 0) {
    std::string out;
    protocol::Execute{portal, max_rows}.encode(out);
    return out;
}
inline std::string close_statement(std::string_view name) {
    std::string out;
    protocol::Close{protocol::ObjectKind::Statement, name}.encode(out);
    return out;
}
inline std::string close_portal(std::string_view name) {
    std::string out;
    protocol::Close{protocol::ObjectKind::Portal, name}.encode(out);
    return out;
}
inline std::string sync() {
    std::string out;
    protocol::Sync{}.encode(out);
    return out;
}
inline std::string query(std::string_view sql) {
    std::string out;
    protocol::Query{sql}.encode(out);
    return out;
}
// Bind (unnamed portal) + Describe portal + Execute + Sync of a named statement.
inline std::string run_statement(std::string_view statement, std::vector<protocol::Value> params = {}) {
    return bind(statement, std::move(params)) + describe_portal() + execute() + sync();
}

// Clients of one target, for scripts of raw messages. Through sluice on a pool of 2, it also
// decides which server each step runs on: two "holder" clients keep exactly one server in an
// open transaction between steps, so a step always runs on the one server left free, and
// switch() moves the next step to the other server (the free one is taken by the idle holder,
// then the busy holder commits). Against PostgreSQL directly the holders are harmless.
// A client that sluice pins to its server (policy "pin") leaves the idle holder no server: the
// rig then notices (the holder waits in vain), stops holding and placing, and says so in
// pinned(); only a rig made with `may_pin` accepts that, for any other it is a placement error.
class Rig {
public:
    Rig(Target target, int clients, bool may_pin = false) : target_(std::move(target)), may_pin_(may_pin) {
        for (int i = 0; i < clients; ++i) clients_.push_back(connect());
        idle_.assign(static_cast<std::size_t>(clients), true);
        holders_.push_back(connect());
        holders_.push_back(connect());
        hold(0);
    }
    Rig(const Rig&) = delete;
    Rig& operator=(const Rig&) = delete;
    ~Rig() {
        try {
            for (auto& h : holders_)
                if (h.tx_status() != protocol::TxStatus::Idle) h.simple_query("COMMIT");
        } catch (const std::exception&) {
        }
    }

    // Sends `messages` as client `client`, reads until ReadyForQuery, and returns the summaries.
    // Before a step of an idle client, notes the server it runs on (see placement_errors()).
    std::vector<std::string> step(int client, const std::string& messages) {
        std::vector<std::string> out;
        for (const auto& m : exchange(client, messages)) out.push_back(summarize(m));
        return out;
    }
    // The same, returning the messages themselves.
    std::vector<Message> exchange(int client, const std::string& messages) {
        const auto i = static_cast<std::size_t>(client);
        if (idle_[i]) note_server(client);
        auto& c = clients_.at(i);
        c.send_raw(messages);
        auto answers = c.read_until_ready();
        idle_[i] = answers.back().body == "I";
        return answers;
    }
    // Through sluice: where a step ran on another server than the one the rig meant (the same
    // server after switch_server(), another one without). Empty when the placement held.
    [[nodiscard]] const std::vector<std::string>& placement_errors() const { return placement_errors_; }
    [[nodiscard]] int servers_seen() const { return static_cast<int>(pids_seen_.size()); }
    // The backend pid client `client`'s next step would run on (not part of any transcript).
    std::string backend_pid(int client) {
        auto r = clients_.at(static_cast<std::size_t>(client)).simple_query("SELECT pg_backend_pid()");
        if (!r.ok() || r.rows.empty() || !r.at(0, 0)) throw std::runtime_error("pg_backend_pid() failed");
        return *r.at(0, 0);
    }
    // Moves the next steps (of every client) to the other server.
    void switch_server() {
        if (pinned_) return;
        const int busy = busy_;
        if (!try_hold(1 - busy)) {
            // Every server is taken: one client of this rig is pinned. The waiting holder is
            // mid-query: replace it, and let go of the other server for everyone else.
            pinned_ = true;
            holders_[static_cast<std::size_t>(1 - busy)] = connect();
            if (!may_pin_) placement_errors_.push_back("no server free for the idle holder: a client is pinned");
        } else {
            switched_ = true;
        }
        auto r = holders_[static_cast<std::size_t>(busy)].simple_query("COMMIT");
        if (!r.ok()) throw std::runtime_error("holder COMMIT failed: " + std::string(r.sqlstate()));
    }
    // True once the rig found a pinned client and stopped placing steps.
    [[nodiscard]] bool pinned() const noexcept { return pinned_; }
    BlockingClient& client(int i) { return clients_.at(static_cast<std::size_t>(i)); }
    [[nodiscard]] const Target& target() const { return target_; }

private:
    void note_server(int client) {
        const std::string pid = backend_pid(client);
        pids_seen_.insert(pid);
        if (!last_pid_.empty() && !pinned_) {
            if (switched_ && pid == last_pid_)
                placement_errors_.push_back("step after switch_server() ran on the same backend " + pid);
            if (!switched_ && pid != last_pid_)
                placement_errors_.push_back("step moved from backend " + last_pid_ + " to " + pid + " unasked");
        }
        last_pid_ = pid;
        switched_ = false;
    }
    BlockingClient connect() {
        auto o = connect_options(target_.host, target_.port, kRole);
        return BlockingClient::connect(o);
    }
    void hold(int holder) {
        if (!try_hold(holder)) throw std::runtime_error("holder got no server");
    }
    // False when no server came within kPinnedWait (all taken).
    bool try_hold(int holder) {
        auto& h = holders_[static_cast<std::size_t>(holder)];
        QueryResult r;
        h.set_timeout(kPinnedWait);
        try {
            r = h.simple_query("BEGIN; SELECT 1");
        } catch (const ClientError&) {
            return false;
        }
        h.set_timeout(std::chrono::seconds(10));
        if (!r.ok() || r.tx_status != protocol::TxStatus::InTransaction)
            throw std::runtime_error("holder could not open a transaction: " + std::string(r.sqlstate()));
        busy_ = holder;
        return true;
    }

    static constexpr std::chrono::milliseconds kPinnedWait{3000};

    Target target_;
    bool may_pin_ = false;
    bool pinned_ = false;
    std::vector<BlockingClient> clients_;
    std::vector<BlockingClient> holders_;
    int busy_ = 0;
    std::vector<bool> idle_;
    // Placement bookkeeping (only meaningful through sluice: directly, each client is its own backend).
    bool switched_ = false;
    std::string last_pid_;
    std::set<std::string> pids_seen_;
    std::vector<std::string> placement_errors_;
};

inline std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const auto& l : lines) s += "  " + l + "\n";
    return s;
}

}  // namespace sluice::testing::prepared

namespace sluice::testing::prepared {

// One exchange's answers, decoded: what a driver would hand its caller.
struct Answer {
    std::vector<std::string> columns;  // from the last RowDescription
    std::vector<std::vector<std::optional<std::string>>> rows;
    std::optional<protocol::ErrorFields> error;  // the first ErrorResponse
    char status = 0;                             // the ReadyForQuery status
    std::string transcript;                      // every message summarized, for failure messages
};

inline Answer decode_answer(const std::vector<Message>& messages) {
    Answer a;
    for (const auto& m : messages) {
        a.transcript += "  " + summarize(m) + "\n";
        if (m.tag == 'T') {
            auto rd = protocol::RowDescription::decode(m.body);
            if (!rd) continue;
            a.columns.clear();
            for (const auto& f : rd->fields) a.columns.emplace_back(f.name);
        } else if (m.tag == 'D') {
            auto row = protocol::DataRow::decode(m.body);
            if (!row) continue;
            auto& out = a.rows.emplace_back();
            for (const auto& v : row->values) out.push_back(v ? std::optional<std::string>(*v) : std::nullopt);
        } else if (m.tag == 'E' && !a.error) {
            auto fields = protocol::ErrorFields::decode(m.body);
            if (fields) a.error = *fields;
        } else if (m.tag == 'Z' && !m.body.empty()) {
            a.status = m.body[0];
        }
    }
    return a;
}

}  // namespace sluice::testing::prepared
