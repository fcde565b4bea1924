#pragma once
// Helpers for the auth integration tests (issue 7): login outcomes as values, log counting, RSS.
#include <fstream>
#include <string>
#include <string_view>

#include "tests/integration/proxy/proxy_test_support.hpp"

namespace sluice::testing::auth {

using namespace std::chrono_literals;

// How a login ended, as a client sees it.
struct LoginOutcome {
    bool logged_in = false;
    std::string sqlstate;  // of the ErrorResponse, when there was one
    std::string message;
    std::vector<std::int32_t> auth_codes;  // authentication requests seen, in order
    std::string client_error;              // I/O failure instead of an ErrorResponse
};

inline LoginOutcome try_login(ConnectOptions o) {
    LoginOutcome out;
    try {
        auto client = BlockingClient::connect_tcp(o.host, o.port, o.timeout);
        try {
            client.startup(o);
            out.logged_in = true;
        } catch (const ServerError& e) {
            out.sqlstate = std::string(e.sqlstate());
            out.message = std::string(e.fields().message());
        } catch (const ClientError& e) {
            out.client_error = e.what();
        }
        out.auth_codes = client.auth_codes();
    } catch (const ClientError& e) {
        out.client_error = e.what();
    }
    return out;
}

inline std::size_t count_occurrences(std::string_view text, std::string_view needle) {
    std::size_t n = 0;
    for (auto pos = text.find(needle); pos != std::string_view::npos; pos = text.find(needle, pos + needle.size())) ++n;
    return n;
}

// VmRSS of a process in kB (0 if unreadable).
inline long rss_kb(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(in, line))
        if (line.starts_with("VmRSS:")) return std::stol(line.substr(6));
    return 0;
}

inline std::string replace_all(std::string s, std::string_view from, std::string_view to) {
    for (auto pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size()))
        s.replace(pos, from.size(), to);
    return s;
}

}  // namespace sluice::testing::auth
