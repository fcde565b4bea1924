#include "config/database_url.hpp"

#include "config/tls_files.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <charconv>

namespace sluice::config {
namespace {

// Where libpq (as Debian builds it) looks for the server's socket when no host is given.
constexpr std::string_view kDefaultSocketDirectory = "/var/run/postgresql";
constexpr std::uint16_t kDefaultPort = 5432;

// libpq connection parameters sluice does not implement. Rejecting them is kinder than sending
// them as startup parameters, which PostgreSQL would refuse at connect time.
constexpr std::array<std::string_view, 28> kUnsupportedParameters{
    "gssdelegation",   "gssencmode",        "gsslib",
    "hostaddr",        "keepalives",      "keepalives_count",  "keepalives_idle",
    "keepalives_interval", "krbsrvname",  "load_balance_hosts", "passfile",
    "replication",     "require_auth",    "requirepeer",       "requiressl",
    "service",         "ssl_max_protocol_version", "ssl_min_protocol_version", "sslcertmode",
    "sslcompression",  "sslcrl",          "sslcrldir",         "sslnegotiation",
    "sslpassword",     "target_session_attrs", "tcp_user_timeout", "sslkeylogfile",
    "scram_client_key",
};

struct Failure {
    std::string reason;
};

std::string quoted(std::string_view s) {
    std::string out = "\"";
    out.append(s);
    out += '"';
    return out;
}

int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// libpq's conninfo_uri_decode: "%XX" only, no '+' for space, and no NUL bytes. `what` names the
// part for the error; the value itself is never echoed (it may be a password).
bool percent_decode(std::string_view in, std::string_view what, std::string& out, std::string& error) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        if (in[i] != '%') {
            out += in[i];
            continue;
        }
        int hi = i + 1 < in.size() ? hex_value(in[i + 1]) : -1;
        int lo = i + 2 < in.size() ? hex_value(in[i + 2]) : -1;
        if (hi < 0 || lo < 0) {
            error = "invalid percent-encoding in " + std::string(what) + " (expected '%' and two hex digits)";
            return false;
        }
        char decoded = static_cast<char>((hi << 4) | lo);
        if (decoded == '\0') {
            error = "forbidden value %00 in " + std::string(what);
            return false;
        }
        out += decoded;
        i += 2;
    }
    return true;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
    std::vector<std::string_view> parts;
    std::size_t begin = 0;
    for (;;) {
        std::size_t end = text.find(separator, begin);
        if (end == std::string_view::npos) {
            parts.push_back(text.substr(begin));
            return parts;
        }
        parts.push_back(text.substr(begin, end - begin));
        begin = end + 1;
    }
}

bool is_ipv6_literal(const std::string& text) {
    // A zone ("fe80::1%eth0") is not part of what inet_pton accepts.
    std::string address = text.substr(0, text.find('%'));
    in6_addr parsed{};
    return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

bool is_host_name(std::string_view host) {
    return !host.empty() && std::all_of(host.begin(), host.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
               c == '_';
    });
}

// A decoded host: empty (the default socket directory), a unix socket directory, an IPv6
// literal, or a host name / IPv4 address.
std::optional<Failure> check_host(std::string& host, bool bracketed) {
    if (bracketed) {
        if (!is_ipv6_literal(host)) return Failure{"invalid IPv6 address " + quoted(host)};
        return std::nullopt;
    }
    if (host.empty()) {
        host = kDefaultSocketDirectory;
        return std::nullopt;
    }
    if (host.front() == '/') return std::nullopt;
    if (host.find(':') != std::string::npos) {
        if (is_ipv6_literal(host)) return std::nullopt;
        return Failure{"invalid host " + quoted(host) + " (write IPv6 addresses in brackets: [::1]:5432)"};
    }
    if (!is_host_name(host)) return Failure{"invalid host name " + quoted(host)};
    return std::nullopt;
}

std::optional<Failure> parse_port(std::string_view text, std::uint16_t& port) {
    if (text.empty()) {
        port = kDefaultPort;
        return std::nullopt;
    }
    unsigned value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    bool digits_only = std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits_only || ec != std::errc{} || end != text.data() + text.size() || value < 1 || value > 65535) {
        return Failure{"invalid port " + quoted(text) + " (expected a number from 1 to 65535)"};
    }
    port = static_cast<std::uint16_t>(value);
    return std::nullopt;
}

std::optional<SslMode> parse_sslmode(std::string_view text) {
    if (text == "disable") return SslMode::Disable;
    if (text == "allow") return SslMode::Allow;
    if (text == "prefer") return SslMode::Prefer;
    if (text == "require") return SslMode::Require;
    if (text == "verify-ca") return SslMode::VerifyCa;
    if (text == "verify-full") return SslMode::VerifyFull;
    return std::nullopt;
}

// libpq semantics: whole seconds; zero or negative waits forever; 1 is raised to 2 (the
// minimum libpq allows, since it rounds to whole seconds).
std::optional<Failure> parse_connect_timeout(std::string_view text, std::optional<Duration>& out) {
    std::string_view trimmed = text;
    while (!trimmed.empty() && trimmed.front() == ' ') trimmed.remove_prefix(1);
    while (!trimmed.empty() && trimmed.back() == ' ') trimmed.remove_suffix(1);
    if (!trimmed.empty() && trimmed.front() == '+') trimmed.remove_prefix(1);
    long long seconds = 0;
    auto [end, ec] = std::from_chars(trimmed.data(), trimmed.data() + trimmed.size(), seconds);
    if (trimmed.empty() || ec != std::errc{} || end != trimmed.data() + trimmed.size() ||
        seconds > 315'360'000 /* 3650 days */) {
        return Failure{"invalid connect_timeout " + quoted(text) + " (expected whole seconds)"};
    }
    if (seconds <= 0) {
        out.reset();
    } else {
        out = std::chrono::seconds(std::max(seconds, 2LL));
    }
    return std::nullopt;
}

bool is_parameter_name(std::string_view name) {
    return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    });
}

void set_parameter(UpstreamUrl& url, std::string name, std::string value) {
    for (auto& [existing, existing_value] : url.parameters) {
        if (existing == name) {
            existing_value = std::move(value);
            return;
        }
    }
    url.parameters.emplace_back(std::move(name), std::move(value));
}

struct RawHost {
    std::string_view text;  // still percent-encoded
    bool bracketed = false;
};

class UrlParser {
public:
    explicit UrlParser(std::string_view url) : url_(url) {}

    std::variant<UpstreamUrl, std::string> run() {
        if (auto failure = parse()) return std::move(failure->reason);
        return std::move(result_);
    }

private:
    std::optional<Failure> parse() {
        std::string_view rest;
        if (url_.starts_with("postgresql://")) {
            rest = url_.substr(13);
        } else if (url_.starts_with("postgres://")) {
            rest = url_.substr(11);
        } else {
            return scheme_failure();
        }

        // libpq: credentials end at the first '@' before any '/'. A password may hold ':' but
        // '@' and '/' only percent-encoded.
        std::size_t designator = rest.find_first_of("@/");
        if (designator != std::string_view::npos && rest[designator] == '@') {
            std::string_view userinfo = rest.substr(0, designator);
            std::size_t colon = userinfo.find(':');
            std::string_view user = userinfo.substr(0, colon);
            if (!user.empty()) {
                if (auto f = decode_into(user, "user name", result_.user.emplace())) return f;
            }
            if (colon != std::string_view::npos && colon + 1 < userinfo.size()) {
                if (auto f = decode_into(userinfo.substr(colon + 1), "password", result_.password.emplace()))
                    return f;
            }
            rest.remove_prefix(designator + 1);
        }
        // An '@' left before the query means a raw '@' or '/' in the credentials. Host and port
        // errors would then quote part of a password, so they are replaced by this hint.
        credentials_suspect_ = rest.substr(0, rest.find('?')).find('@') != std::string_view::npos;

        if (auto f = parse_netloc(rest)) return f;

        if (!rest.empty() && rest.front() == '/') {
            rest.remove_prefix(1);
            std::size_t query = rest.find('?');
            std::string_view dbname = rest.substr(0, query);
            if (!dbname.empty()) {
                if (auto f = decode_into(dbname, "database name", result_.database.emplace())) return f;
            }
            rest = query == std::string_view::npos ? std::string_view{} : rest.substr(query);
        }
        if (!rest.empty() && rest.front() == '?') {
            if (auto f = parse_query(rest.substr(1))) return f;
        }
        return finish_hosts();
    }

    std::optional<Failure> scheme_failure() const {
        std::size_t separator = url_.find("://");
        if (separator == std::string_view::npos || separator == 0 || separator > 32) {
            return Failure{"not a postgres:// URL (expected postgres://user:password@host:port/database)"};
        }
        std::string_view scheme = url_.substr(0, separator);
        bool printable = std::all_of(scheme.begin(), scheme.end(), [](char c) {
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
                   c == '-' || c == '.';
        });
        if (!printable) return Failure{"not a postgres:// URL (expected postgres://user:password@host:port/database)"};
        return Failure{"unsupported scheme " + quoted(scheme) + " (expected postgres:// or postgresql://)"};
    }

    // host[:port][,host[:port]...], stopping at '/', '?' or the end. Leaves `rest` after it.
    std::optional<Failure> parse_netloc(std::string_view& rest) {
        for (;;) {
            RawHost host;
            std::string_view port;
            std::size_t pos = 0;
            if (!rest.empty() && rest.front() == '[') {
                std::size_t close = rest.find(']');
                if (close == std::string_view::npos) {
                    return Failure{"missing \"]\" after the IPv6 address in the URL"};
                }
                if (close == 1) return Failure{"empty IPv6 address \"[]\" in the URL"};
                host = {rest.substr(1, close - 1), true};
                pos = close + 1;
                if (pos < rest.size() && std::string_view(":/?,").find(rest[pos]) == std::string_view::npos) {
                    return Failure{"unexpected character " + quoted(rest.substr(pos, 1)) +
                                   " after the IPv6 address (expected ':', '/', '?' or ',')"};
                }
            } else {
                pos = std::min(rest.find_first_of(":/?,"), rest.size());
                host = {rest.substr(0, pos), false};
            }
            if (pos < rest.size() && rest[pos] == ':') {
                std::size_t port_begin = pos + 1;
                pos = std::min(rest.find_first_of("/?,", port_begin), rest.size());
                port = rest.substr(port_begin, pos - port_begin);
            }
            hosts_.push_back(host);
            ports_.push_back(port);
            if (pos < rest.size() && rest[pos] == ',') {
                rest.remove_prefix(pos + 1);
                continue;
            }
            rest.remove_prefix(pos);
            return std::nullopt;
        }
    }

    std::optional<Failure> parse_query(std::string_view query) {
        for (std::string_view pair : split(query, '&')) {
            if (pair.empty()) continue;  // "?a=1&" or "&&"
            std::size_t equals = pair.find('=');
            if (equals == std::string_view::npos) {
                return Failure{"URL parameter without a value (expected name=value)"};
            }
            std::string name;
            if (auto f = decode_into(pair.substr(0, equals), "URL parameter name", name)) return f;
            std::string value;
            if (auto f = decode_into(pair.substr(equals + 1), "URL parameter " + quoted(name), value)) return f;
            if (auto f = apply_parameter(name, std::move(value))) return f;
        }
        return std::nullopt;
    }

    std::optional<Failure> apply_parameter(const std::string& name, std::string value) {
        if (name == "host") {
            host_override_ = std::move(value);
        } else if (name == "port") {
            port_override_ = std::move(value);
        } else if (name == "dbname") {
            if (value.empty()) {
                result_.database.reset();
            } else {
                result_.database = std::move(value);
            }
        } else if (name == "user") {
            if (value.empty()) {
                result_.user.reset();
            } else {
                result_.user = std::move(value);
            }
        } else if (name == "password") {
            if (value.empty()) {
                result_.password.reset();
            } else {
                result_.password = std::move(value);
            }
        } else if (name == "sslmode") {
            auto mode = parse_sslmode(value);
            if (!mode) {
                return Failure{"invalid sslmode " + quoted(value) +
                               " (expected disable, allow, prefer, require, verify-ca or verify-full)"};
            }
            result_.sslmode = *mode;
        } else if (name == "ssl") {
            // JDBC-style "ssl=true", which libpq also accepts.
            if (value != "true") return Failure{"invalid ssl " + quoted(value) + " (only \"ssl=true\" is accepted)"};
            result_.sslmode = SslMode::Require;
        } else if (name == "sslrootcert") {
            result_.sslrootcert = std::move(value);
        } else if (name == "sslcert") {
            result_.sslcert = std::move(value);
        } else if (name == "sslkey") {
            result_.sslkey = std::move(value);
        } else if (name == "sslsni") {
            if (value != "0" && value != "1") return Failure{"invalid sslsni " + quoted(value) + " (expected 0 or 1)"};
            result_.sslsni = value == "1";
        } else if (name == "channel_binding") {
            if (value == "disable") result_.channel_binding = ChannelBinding::Disable;
            else if (value == "prefer") result_.channel_binding = ChannelBinding::Prefer;
            else if (value == "require") result_.channel_binding = ChannelBinding::Require;
            else return Failure{"invalid channel_binding " + quoted(value) + " (expected disable, prefer or require)"};
        } else if (name == "connect_timeout") {
            return parse_connect_timeout(value, result_.connect_timeout);
        } else if (name == "options") {
            result_.options = std::move(value);
        } else if (name == "fallback_application_name") {
            fallback_application_name_ = std::move(value);
        } else if (std::find(kUnsupportedParameters.begin(), kUnsupportedParameters.end(), name) !=
                   kUnsupportedParameters.end()) {
            return Failure{"URL parameter " + quoted(name) + " is not supported by sluice"};
        } else if (name.starts_with("ssl")) {
            return Failure{"unknown URL parameter " + quoted(name) +
                           " (TLS parameters are sslmode, sslrootcert, sslcert, sslkey, sslsni and channel_binding)"};
        } else if (!is_parameter_name(name)) {
            return Failure{"invalid URL parameter name " + quoted(name)};
        } else {
            // application_name, client_encoding, search_path...: sent to the server at startup.
            set_parameter(result_, name, std::move(value));
        }
        return std::nullopt;
    }

    std::optional<Failure> finish_hosts() {
        auto failure = check_hosts();
        if (failure && credentials_suspect_) {
            return Failure{"cannot parse the host part; '@' or '/' in a user name or password must be "
                           "percent-encoded (%40, %2F)"};
        }
        return failure;
    }

    std::optional<Failure> check_hosts() {
        if (fallback_application_name_) {
            bool has_application_name = std::any_of(result_.parameters.begin(), result_.parameters.end(),
                                                    [](const auto& p) { return p.first == "application_name"; });
            if (!has_application_name) set_parameter(result_, "application_name", *fallback_application_name_);
        }

        // Decoded host and port lists; the query's host=/port= replace the netloc's.
        std::vector<std::pair<std::string, bool>> hosts;
        std::vector<std::string> ports;
        if (host_override_) {
            for (std::string_view h : split(*host_override_, ',')) hosts.emplace_back(std::string(h), false);
        } else {
            for (const RawHost& h : hosts_) {
                std::string decoded;
                if (auto f = decode_into(h.text, "host", decoded)) return f;
                hosts.emplace_back(std::move(decoded), h.bracketed);
            }
        }
        if (port_override_) {
            for (std::string_view p : split(*port_override_, ',')) ports.emplace_back(p);
        } else {
            for (std::string_view p : ports_) {
                std::string decoded;
                if (auto f = decode_into(p, "port", decoded)) return f;
                ports.push_back(std::move(decoded));
            }
        }
        if (ports.size() != 1 && ports.size() != hosts.size()) {
            return Failure{"could not match " + std::to_string(ports.size()) + " port numbers to " +
                           std::to_string(hosts.size()) + " hosts"};
        }
        for (std::size_t i = 0; i < hosts.size(); ++i) {
            HostPort hp;
            hp.host = std::move(hosts[i].first);
            if (auto f = check_host(hp.host, hosts[i].second)) return f;
            if (auto f = parse_port(ports.size() == 1 ? ports[0] : ports[i], hp.port)) return f;
            result_.hosts.push_back(std::move(hp));
        }
        return std::nullopt;
    }

    static std::optional<Failure> decode_into(std::string_view in, std::string_view what, std::string& out) {
        std::string error;
        if (!percent_decode(in, what, out, error)) return Failure{std::move(error)};
        return std::nullopt;
    }

    std::string_view url_;
    UpstreamUrl result_;
    std::vector<RawHost> hosts_;
    std::vector<std::string_view> ports_;
    std::optional<std::string> host_override_;
    std::optional<std::string> port_override_;
    std::optional<std::string> fallback_application_name_;
    bool credentials_suspect_ = false;
};

}  // namespace

std::variant<UpstreamUrl, std::string> parse_database_url(std::string_view url) { return UrlParser(url).run(); }

std::string redact_database_url(std::string_view url) {
    std::string out(url);
    std::size_t scheme_end = out.find("://");
    if (scheme_end == std::string::npos) return out;
    std::size_t authority = scheme_end + 3;
    // Same rule as the parser: credentials end at the first '@' before any '/'.
    std::size_t designator = out.find_first_of("@/", authority);
    if (designator != std::string::npos && out[designator] == '@') {
        std::size_t colon = out.find(':', authority);
        if (colon != std::string::npos && colon < designator) {
            out.replace(colon + 1, designator - colon - 1, "****");
        }
    }
    std::size_t query = out.find('?', authority);
    while (query != std::string::npos) {
        std::size_t name_begin = query + 1;
        std::size_t value_end = std::min(out.find('&', name_begin), out.size());
        std::string_view pair = std::string_view(out).substr(name_begin, value_end - name_begin);
        if (pair.starts_with("password=")) {
            std::size_t value_begin = name_begin + 9;
            out.replace(value_begin, value_end - value_begin, "****");
            value_end = value_begin + 4;
        }
        query = value_end < out.size() ? value_end : std::string::npos;
    }
    return out;
}

std::optional<std::string> upstream_tls_problem(const UpstreamUrl& url) {
    if (url.channel_binding == ChannelBinding::Require && url.sslmode == SslMode::Disable)
        return std::string("channel_binding=require needs TLS (sslmode=disable turns it off)");
    bool verifies = url.verifies_server();
    if (verifies && !url.sslrootcert.empty() && url.sslrootcert != "system")
        if (auto why = certificate_file_problem(url.sslrootcert)) return "sslrootcert: " + *why;
    if (!url.sslcert.empty()) {
        if (auto why = certificate_file_problem(url.sslcert)) return "sslcert: " + *why;
        if (url.sslkey.empty()) return std::string("sslcert needs sslkey");
        if (auto why = key_file_problem(url.sslkey, url.sslcert)) return "sslkey: " + *why;
    } else if (!url.sslkey.empty()) {
        return std::string("sslkey needs sslcert");
    }
    return std::nullopt;
}

}  // namespace sluice::config
