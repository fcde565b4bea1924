// parse_database_url and redact_database_url on arbitrary bytes: must never crash, and a parsed
// URL must be internally consistent.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/database_url.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto parsed = sluice::config::parse_database_url(text);
    if (auto* url = std::get_if<sluice::config::UpstreamUrl>(&parsed)) {
        if (url->hosts.empty()) std::abort();
        for (const auto& host : url->hosts) {
            if (host.port == 0 || host.host.empty()) std::abort();
        }
    }
    std::string redacted = sluice::config::redact_database_url(text);
    if (redacted.empty() && !text.empty()) std::abort();
    return 0;
}
