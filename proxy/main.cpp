// sluice: a PostgreSQL transaction pooler.
//   sluice --config sluice.toml        serve the configured databases
//   sluice postgres://user:pw@host/db  quick start: listen on 6432 in front of one upstream
//   sluice                             same, with the URL from DATABASE_URL
//   sluice --check --config FILE       validate the configuration and exit
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <sys/resource.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>
#include <string_view>

#include "config/database_url.hpp"
#include "config/duration.hpp"
#include "config/load.hpp"
#include "protocol/auth/crypto.hpp"
#include "proxy/server.hpp"

namespace {

constexpr std::string_view kUsage = R"(usage: sluice [options] [postgres://user:password@host:port/dbname]

  -c, --config FILE     configuration file (TOML)
      --check           validate the configuration and exit
  -p, --port PORT       override listen.port
      --listen ADDRESS  override listen.address
  -w, --workers N       override listen.workers (0 = one per core)
  -h, --help            this help
      --version         print the version

Without --config, the upstream comes from the URL argument or DATABASE_URL.
)";

void log_summary(const sluice::config::Config& c) {
    spdlog::info("config from {}: listen {}:{}, auth {}, pool mode {} size {}, query_wait {}, statement {}, "
                 "transaction {}, idle_in_transaction {}, client_idle {}, {} timeout overrides",
                 c.source,
                 c.listen.address, c.listen.port,
                 c.auth.method == sluice::config::AuthMethod::Trust ? "trust"
                 : c.auth.method == sluice::config::AuthMethod::Md5 ? "md5"
                                                                    : "scram-sha-256",
                 c.pool.mode == sluice::config::PoolMode::Transaction ? "transaction" : "session", c.pool.size,
                 sluice::config::format_duration(c.timeouts.query_wait),
                 sluice::config::format_duration(c.timeouts.statement),
                 sluice::config::format_duration(c.timeouts.transaction),
                 sluice::config::format_duration(c.timeouts.idle_in_transaction),
                 sluice::config::format_duration(c.timeouts.client_idle), c.timeouts.overrides.size());
    for (const auto& d : c.databases) {
        std::string hosts;
        for (const auto& h : d.upstream.hosts) hosts += (hosts.empty() ? "" : ",") + h.host + ":" + std::to_string(h.port);
        spdlog::info("database \"{}\" -> {} (pool size {}, min {}, {} users configured)", d.name, hosts, d.pool.size,
                     d.pool.min_size, c.auth.users.size());
    }
}

// Each client and server connection is a descriptor: the default soft limit (often 1024) would
// cap max_client_connections silently.
void raise_file_limit(std::uint32_t max_clients) {
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return;
    if (limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < rlim_t{max_clients} + 100)
        spdlog::warn("open file limit {} is below max_client_connections ({}) + server connections", limit.rlim_cur,
                     max_clients);
}

// listen.nice, before any thread starts (a Linux nice value is per thread; new threads inherit it).
// An error message when the system refuses it: asked-for priority that silently is not there would
// leave an operator tuning the wrong thing.
std::string apply_nice(const sluice::config::Config& config) {
    if (!config.listen.nice) return {};
    const int nice = *config.listen.nice;
    if (setpriority(PRIO_PROCESS, 0, nice) == 0) {
        spdlog::info("scheduling priority: nice {}", nice);
        return {};
    }
    const int err = errno;
    std::string message = config.source + ": listen.nice = " + std::to_string(nice) + ": " + std::strerror(err);
    if (err == EACCES || err == EPERM) {
        const std::string rlimit = std::to_string(20 - nice);  // RLIMIT_NICE allows down to 20 - rlimit
        message += ": a priority above the current one needs CAP_SYS_NICE or an RLIMIT_NICE of at least " + rlimit +
                   " (systemd LimitNICE=, docker run --ulimit nice=" + rlimit +
                   "); or remove the key to run at the current priority";
    }
    return message;
}

}  // namespace

int main(int argc, char** argv) {
    std::string config_path;
    std::string url;
    bool check_only = false;
    std::optional<int> port;
    std::optional<std::string> listen_address;
    std::optional<unsigned> workers;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::cerr << "sluice: " << a << " needs a value\n" << kUsage;
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "-h" || a == "--help") {
            std::cout << kUsage;
            return 0;
        } else if (a == "--version") {
            std::cout << "sluice 0.1.0\n";
            return 0;
        } else if (a == "-c" || a == "--config") {
            config_path = value();
        } else if (a == "--check") {
            check_only = true;
        } else if (a == "-p" || a == "--port") {
            port = std::atoi(value().c_str());
        } else if (a == "--listen") {
            listen_address = value();
        } else if (a == "-w" || a == "--workers") {
            workers = static_cast<unsigned>(std::atoi(value().c_str()));
        } else if (a.starts_with("postgres://") || a.starts_with("postgresql://")) {
            url = std::string(a);
        } else {
            std::cerr << "sluice: unknown argument \"" << a << "\"\n" << kUsage;
            return 2;
        }
    }

    sluice::config::LoadResult loaded;
    if (!config_path.empty()) {
        loaded = sluice::config::load_file(config_path);
    } else {
        if (url.empty())
            if (const char* env = std::getenv("DATABASE_URL")) url = env;
        if (url.empty()) {
            std::cerr << "sluice: no configuration: pass --config FILE, a postgres:// URL, or set DATABASE_URL\n"
                      << kUsage;
            return 2;
        }
        loaded = sluice::config::from_database_url(url, url.starts_with("postgres") && !std::getenv("DATABASE_URL")
                                                            ? "command line"
                                                            : "DATABASE_URL");
    }
    if (auto* errors = std::get_if<std::vector<sluice::config::ConfigError>>(&loaded)) {
        for (const auto& e : *errors) std::cerr << "sluice: " << e.to_string() << "\n";
        std::cerr << "sluice: configuration is invalid (" << errors->size() << " error"
                  << (errors->size() == 1 ? "" : "s") << ")\n";
        return 1;
    }
    auto config = std::get<sluice::config::Config>(std::move(loaded));
    if (port) {
        if (*port < 1 || *port > 65535) {
            std::cerr << "sluice: --port must be 1..65535\n";
            return 2;
        }
        config.listen.port = static_cast<std::uint16_t>(*port);
    }
    if (listen_address) config.listen.address = *listen_address;
    if (workers) config.listen.workers = *workers;

    auto logger = spdlog::stderr_color_mt("sluice");
    spdlog::set_default_logger(logger);
    spdlog::set_pattern("%Y-%m-%d %H:%M:%S.%e %^%l%$ %v");
    spdlog::set_level(spdlog::level::from_str(config.logging.level));
    if (check_only) {
        log_summary(config);
        std::cout << "configuration is valid\n";
        return 0;
    }
    log_summary(config);
    if (auto missing = sluice::protocol::auth::prepare_crypto(); !missing.empty()) {
        std::cerr << "sluice: OpenSSL cannot do what client and server logins need: " << missing << "\n";
        return 1;
    }
    if (!sluice::protocol::auth::md5_available())
        spdlog::warn("OpenSSL has no MD5 (a FIPS provider?): md5 logins, of clients and to servers, will fail");
    raise_file_limit(config.listen.max_client_connections);
    if (auto refused = apply_nice(config); !refused.empty()) {
        std::cerr << "sluice: " << refused << "\n";
        return 1;
    }
    sluice::proxy::Server server(std::make_shared<const sluice::config::Config>(std::move(config)));
    return server.run();
}
