// The query guard's classify() on arbitrary bytes: must never crash, must report nothing but the
// parser's message for a text that does not parse, never a Finding of rule `unparsable`, and only
// statement indexes that exist. The word scan that spares texts the parse (may_break_rule) must
// flag every text classify() finds something in; statement_facts() must not crash either.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/parse_tree.hpp"
#include "protocol/sql/statement_facts.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size > 64 * 1024) return 0;  // the parser is linear but slow on huge inputs; the proxy caps them
    const std::string_view text(reinterpret_cast<const char*>(data), size);
    const sluice::sql::ParseTree tree = sluice::sql::ParseTree::parse(text);
    const sluice::sql::GuardVerdict verdict = sluice::sql::classify(tree);
    if (verdict.parsed != tree.ok()) std::abort();
    if (!verdict.parsed && (!verdict.findings.empty() || verdict.error.empty())) std::abort();
    if (!verdict.findings.empty() && !sluice::sql::may_break_rule(tree.text())) std::abort();
    const sluice::sql::StatementFacts facts = sluice::sql::statement_facts(tree);
    if (!tree.ok() && (!facts.kinds.empty() || !facts.tables.empty() || !facts.functions.empty())) std::abort();
    for (const sluice::sql::Finding& finding : verdict.findings) {
        if (finding.rule == sluice::sql::Rule::Unparsable) std::abort();
        if (sluice::sql::to_string(finding.rule) == "?") std::abort();
        if (finding.statement_type.empty()) std::abort();
    }
    return 0;
}
