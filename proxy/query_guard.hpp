#pragma once
// The query guard of one client session: before a Query or Parse text goes to a server, whether
// [guard] lets it run (config::GuardPolicy, resolved for this client at login), and the audit line
// for what a rule blocked or, in audit mode, would have blocked.
//
// Only texts the cheap word scan flags (sql::may_break_rule) are parsed, once per distinct text
// (sql::AnalysisCache, shared with session-state detection). The server must read what the guard
// read, so the guard refuses to guess: while the client's standard_conforming_strings is off, a
// flagged text with a backslash is blocked (the parser reads strings as the server would with it
// on), and while its client_encoding is one whose characters may hold the bytes of a quote or a
// backslash (SJIS, BIG5, GBK, UHC, GB18030, JOHAB), a flagged text with a non-ASCII byte is
// blocked. From a text that may change either setting until the server has answered it (its
// ParameterStatus then tells the new value), both are assumed.
//
// Bind parameters are data and never looked at: only Query and Parse texts reach check().
#include <array>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model.hpp"
#include "protocol/sql/session_state.hpp"
#include "proxy/session_params.hpp"

namespace sluice::proxy {

class AuditLog;

// Statements blocked (enforce) and let through while logged (audit), shared: [0, 32) per sql::Rule,
// [32, 64) per [[guard.custom]] entry.
struct GuardCounters {
    static constexpr std::size_t kCustomBase = 32;
    std::array<std::atomic<std::uint64_t>, 64> blocked{};
    std::array<std::atomic<std::uint64_t>, 64> audited{};
};

// Who the client is, for audit lines.
struct GuardClient {
    std::string address;
    std::string user;
    std::string database;
    std::string application_name;
};

// "blocked: drop 3, truncate 1; audit: delete_without_where 2" (rules with a count only), or "".
std::string guard_summary(const GuardCounters& counters, const config::Guard& guard);

class QueryGuard {
public:
    // `guard`: the config's [guard], which must outlive this object (its custom rules are read
    // from there).
    QueryGuard(config::GuardPolicy policy, const config::Guard& guard, GuardClient client, sql::AnalysisCache& analyses,
               AuditLog& audit, GuardCounters& counters);

    // nullopt: `sql` may go to the server. Otherwise the ErrorResponse (42501) the client gets
    // instead, and nothing of the text may reach a server. `may_change_session`: what
    // sql::may_change_session() says of it (the caller has it already).
    std::optional<std::string> check(std::string_view sql, const ClientSettings& settings, bool may_change_session);
    // Every answer to what the client sent has arrived: its settings are what the server reported.
    void settled() noexcept { in_doubt_ = false; }

private:
    struct Block {
        std::string rule;
        std::size_t counter;  // index in GuardCounters
        std::string statement_type;
        std::string table;
        std::string detail;
        std::string hint;
    };
    // Why the text cannot be read as the server will read it, if it cannot.
    std::optional<Block> lexical_doubt(std::string_view sql, const ClientSettings& settings);
    std::optional<Block> rule_block(const sql::Analysis& analysis) const;
    std::optional<Block> custom_block(const sql::Analysis& analysis, std::string_view sql) const;
    // The text must be parsed: a built-in rule's word, or something a custom rule looks for.
    [[nodiscard]] bool must_parse(std::string_view sql) const;
    std::string error_for(const Block& block) const;
    void audit(const Block& block, std::string_view sql, bool blocked);

    config::GuardPolicy policy_;
    std::string hint_;
    std::uint32_t audit_statement_max_;
    // The [[guard.custom]] rules that apply to this client, and what their word scan looks for.
    std::vector<std::pair<std::size_t, const config::GuardCustomRule*>> custom_;  // (index in [[guard.custom]], rule)
    bool parse_every_text_ = false;          // a custom rule matches statement kinds or fingerprints
    std::vector<std::string> custom_words_;  // else: the table and function names, lower-cased
    GuardClient client_;
    sql::AnalysisCache& analyses_;
    AuditLog& audit_;
    GuardCounters& counters_;
    bool in_doubt_ = false;
    // The last text must_parse() said no to (it depends on the text alone): Parse texts repeat.
    std::string unflagged_;
    // The settings' fingerprint when scs_off_ and risky_encoding_ were read.
    std::uint64_t settings_seen_ = 0;
    bool scs_off_ = false;
    bool risky_encoding_ = false;
};

}  // namespace sluice::proxy
