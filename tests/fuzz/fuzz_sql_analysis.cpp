// analyze() on arbitrary bytes: must never crash, must report nothing for a text that does not
// parse, and may_change_session() (the prefilter that lets the proxy skip the parse) must never
// say false for a text analyze() reports a session change for. Its two paths (SSE2, and AVX2 where
// the machine has it) must agree.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/sql/byte_masks.hpp"
#include "protocol/sql/session_state.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;  // the parser is linear but slow on huge inputs; the proxy caps them
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const bool may_change = sluice::sql::may_change_session(text);
    sluice::sql::bytes::set_use_avx2(false);
    const bool may_change_sse2 = sluice::sql::may_change_session(text);
    sluice::sql::bytes::set_use_avx2(true);
    if (may_change_sse2 != may_change) std::abort();
    const sluice::sql::Analysis analysis = sluice::sql::analyze(text);
    if (!analysis.parsed && (!analysis.changes.empty() || analysis.error.empty())) std::abort();
    if (!analysis.changes.empty() && !may_change) std::abort();
    return 0;
}
