// The query guard's classify() on arbitrary bytes: must never crash, must report nothing but the
// parser's message for a text that does not parse, never a Finding of rule `unparsable`, and only
// statement indexes that exist.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/parse_tree.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;  // the parser is linear but slow on huge inputs; the proxy caps them
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const sluice::sql::ParseTree tree = sluice::sql::ParseTree::parse(text);
    const sluice::sql::GuardVerdict verdict = sluice::sql::classify(tree);
    if (verdict.parsed != tree.ok()) std::abort();
    if (!verdict.parsed && (!verdict.findings.empty() || verdict.error.empty())) std::abort();
    for (const sluice::sql::Finding& finding : verdict.findings) {
        if (finding.rule == sluice::sql::Rule::Unparsable) std::abort();
        if (sluice::sql::to_string(finding.rule) == "?") std::abort();
        if (finding.statement_type.empty()) std::abort();
    }
    return 0;
}
