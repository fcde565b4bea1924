#pragma once
// The completion handler for co_spawn'd coroutines: an escaping exception is logged instead of
// vanishing (or terminating the process).
#include <spdlog/spdlog.h>

#include <exception>
#include <string>

namespace sluice::proxy {

inline auto log_exception(std::string what) {
    return [what = std::move(what)](std::exception_ptr e) {
        if (!e) return;
        try {
            std::rethrow_exception(e);
        } catch (const std::exception& ex) {
            spdlog::error("{} failed: {}", what, ex.what());
        }
    };
}

}  // namespace sluice::proxy
