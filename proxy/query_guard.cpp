#include "proxy/query_guard.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>

#include <spdlog/spdlog.h>

#include "protocol/error_fields.hpp"
#include "protocol/sql/parse_tree.hpp"
#include "protocol/sqlstate.hpp"
#include "proxy/audit_log.hpp"

namespace sluice::proxy {
namespace p = sluice::protocol;
using sql::Rule;

namespace {

// What each rule guards against, for the client's DETAIL.
std::string_view why(Rule rule) {
    switch (rule) {
    case Rule::Drop: return "it drops a database object";
    case Rule::Truncate: return "it empties a table";
    case Rule::DeleteWithoutWhere:
        return "it deletes every row: it has no WHERE that restricts it to some rows (WHERE true, 1=1, a bare "
               "parameter or a condition on no column of the table does not)";
    case Rule::UpdateWithoutWhere:
        return "it changes every row: it has no WHERE that restricts it to some rows (WHERE true, 1=1, a bare "
               "parameter or a condition on no column of the table does not)";
    case Rule::AlterDropColumn: return "it drops a column and its data";
    case Rule::AlterSystem: return "it changes the server's configuration";
    case Rule::CopyProgram: return "it runs a program on the database server";
    case Rule::CreateDropDatabase: return "it creates or drops a database";
    case Rule::OpaqueCode: return "it runs or creates code whose body sluice cannot inspect";
    case Rule::ExplainAnalyze: return "EXPLAIN ANALYZE runs the statement it explains";
    case Rule::Unparsable: return "sluice's parser cannot read it, and the guard does not let through what it cannot read";
    case Rule::Rename: return "renaming breaks running code that uses the old name";
    case Rule::AlterColumnType: return "changing a column's type rewrites the table under an exclusive lock";
    case Rule::SetNotNull: return "SET NOT NULL scans the whole table under an exclusive lock";
    case Rule::AddNotNullColumn: return "a NOT NULL column without a default fails on a table with rows";
    case Rule::IndexNotConcurrently:
        return "an index built or dropped without CONCURRENTLY blocks writes to the table meanwhile";
    case Rule::ConstraintNotValid:
        return "the constraint is checked against every row under a lock (add it NOT VALID, then VALIDATE CONSTRAINT)";
    case Rule::VacuumFull: return "VACUUM FULL rewrites the table under an exclusive lock";
    case Rule::Cluster: return "CLUSTER rewrites the table under an exclusive lock";
    case Rule::LockTable: return "an explicit table lock blocks other sessions";
    }
    return "";
}

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Whether `sql` has one of `words` (lower case) as a whole identifier, anywhere (comments and
// strings too: a false positive costs one cached parse), ignoring ASCII case.
bool mentions_any(std::string_view sql, const std::vector<std::string>& words) {
    auto ident = [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || u == '_' || u == '$' ||
               u >= 0x80;
    };
    for (std::size_t i = 0; i < sql.size();) {
        if (!ident(sql[i])) {
            ++i;
            continue;
        }
        std::size_t end = i;
        while (end < sql.size() && ident(sql[end])) ++end;
        const std::string word = lower_ascii(sql.substr(i, end - i));
        for (const auto& w : words)
            if (w == word) return true;
        i = end;
    }
    return false;
}

// Longest text remembered as needing no parse (longer ones are scanned each time).
constexpr std::size_t kRememberedTextMax = 4096;

bool has_rule(config::GuardRuleSet set, Rule rule) { return (set >> static_cast<unsigned>(rule) & 1u) != 0; }

// PostgreSQL's client encodings whose multibyte characters may contain bytes below 0x80 (a quote,
// a backslash): read byte by byte, such a text may end a string where the server does not. Names
// as PostgreSQL compares them (clean_encoding_name: lower case, letters and digits only).
bool is_ambiguous_encoding(std::string_view name) {
    std::string clean;
    for (char c : name) {
        if (c >= 'A' && c <= 'Z') clean.push_back(static_cast<char>(c - 'A' + 'a'));
        else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) clean.push_back(c);
    }
    static constexpr std::string_view kAmbiguous[] = {
        "big5",  "gb18030",  "gbk",       "johab",      "mskanji",    "shiftjis",   "shiftjis2004", "sjis", "uhc",
        "win932", "win936", "win949", "win950", "windows932", "windows936", "windows949", "windows950", "cp932",
        "cp936", "cp949", "cp950"};
    for (auto a : kAmbiguous)
        if (clean == a) return true;
    return false;
}

bool has_byte_above_ascii(std::string_view text) {
    for (char c : text)
        if (static_cast<unsigned char>(c) >= 0x80) return true;
    return false;
}

// Whether a text may change how the next ones are read (standard_conforming_strings,
// client_encoding): set by name, reset with everything else, or set in a way sluice cannot name.
bool may_change_reading(const sql::Analysis& analysis) {
    for (const auto& change : analysis.changes) {
        switch (change.effect) {
        case sql::Effect::SetGuc:
            if (change.name == "standard_conforming_strings" || change.name == "client_encoding") return true;
            break;
        case sql::Effect::ResetAll:
        case sql::Effect::DiscardAll:
        case sql::Effect::Unreplayable:
            return true;
        default:
            break;
        }
    }
    return false;
}

// JSON string contents: valid UTF-8 as it is, anything else as U+FFFD.
void append_json_string(std::string& out, std::string_view s) {
    out.push_back('"');
    for (std::size_t i = 0; i < s.size();) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (c < 0x20 || c == 0x7f) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(static_cast<char>(c));
                }
            }
            ++i;
            continue;
        }
        std::size_t len = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c <= 0xdf ? 2 : 0;
        bool valid = len > 0 && i + len <= s.size();
        for (std::size_t k = 1; valid && k < len; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xc0) == 0x80;
        if (valid) {
            out.append(s.substr(i, len));
            i += len;
        } else {
            out += "\\ufffd";
            ++i;
        }
    }
    out.push_back('"');
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
    out += ",\"";
    out += name;
    out += "\":";
    append_json_string(out, value);
}

std::string utc_now() {
    auto now = std::chrono::system_clock::now();
    auto seconds = std::chrono::system_clock::to_time_t(now);
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                  tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
    return buf;
}

}  // namespace

std::string guard_summary(const GuardCounters& counters, const config::Guard& guard) {
    auto name_of = [&](std::size_t i) -> std::string {
        if (i < GuardCounters::kCustomBase) return std::string(sql::to_string(static_cast<Rule>(i)));
        std::size_t custom = i - GuardCounters::kCustomBase;
        return custom < guard.custom.size() ? guard.custom[custom].name : "?";
    };
    std::string out;
    for (const auto& [label, counts] : {std::pair{"blocked", &counters.blocked}, std::pair{"audit", &counters.audited}}) {
        std::string part;
        for (std::size_t i = 0; i < counts->size(); ++i) {
            auto n = (*counts)[i].load(std::memory_order_relaxed);
            if (n == 0) continue;
            part += (part.empty() ? "" : ", ") + name_of(i) + " " + std::to_string(n);
        }
        if (!part.empty()) out += (out.empty() ? "" : "; ") + std::string(label) + ": " + part;
    }
    return out;
}

QueryGuard::QueryGuard(config::GuardPolicy policy, const config::Guard& guard, GuardClient client,
                       sql::AnalysisCache& analyses, AuditLog& audit, GuardCounters& counters)
    : policy_(policy),
      hint_(guard.hint),
      audit_statement_max_(guard.audit_statement_max),
      client_(std::move(client)),
      analyses_(analyses),
      audit_(audit),
      counters_(counters) {
    for (std::size_t i = 0; i < guard.custom.size(); ++i) {
        if ((policy_.custom >> i & 1u) == 0) continue;
        const config::GuardCustomRule& rule = guard.custom[i];
        custom_.emplace_back(i, &rule);
        parse_every_text_ |= !rule.statements.empty() || !rule.fingerprints.empty();
        for (const auto* names : {&rule.tables, &rule.functions})
            for (const auto& name : *names) custom_words_.push_back(lower_ascii(name.name));
    }
}

bool QueryGuard::must_parse(std::string_view sql) const {
    if (sql::may_break_rule(sql)) return true;
    if (custom_.empty()) return false;
    if (parse_every_text_) return sql.find_first_not_of(" \t\r\n;") != std::string_view::npos;
    return mentions_any(sql, custom_words_);
}

std::optional<std::string> QueryGuard::check(std::string_view sql, const ClientSettings& settings,
                                             bool may_change_session) {
    if (policy_.mode == config::GuardMode::Off) return std::nullopt;
    sql = sql.substr(0, sql.find('\0'));  // as the server reads it
    std::shared_ptr<const sql::Analysis> analysis;
    std::optional<Block> block;
    bool parse = false;
    if (sql != unflagged_) {
        parse = must_parse(sql);
        if (!parse && sql.size() <= kRememberedTextMax) unflagged_.assign(sql);
    }
    if (parse) {
        block = lexical_doubt(sql, settings);
        if (!block) {
            analysis = analyses_.get(sql);
            block = rule_block(*analysis);
            if (!block && !custom_.empty()) block = custom_block(*analysis, sql);
        }
    }
    // This text is read with the settings in force now; the ones after it may not be.
    if (!in_doubt_ && may_change_session) {
        if (!analysis) analysis = analyses_.get(sql);
        in_doubt_ = may_change_reading(*analysis);
    }
    if (!block) return std::nullopt;
    const bool enforce = policy_.mode == config::GuardMode::Enforce;
    audit(*block, sql, enforce);
    if (!enforce) return std::nullopt;
    return error_for(*block);
}

std::optional<QueryGuard::Block> QueryGuard::lexical_doubt(std::string_view sql, const ClientSettings& settings) {
    if (settings.fingerprint != settings_seen_) {
        settings_seen_ = settings.fingerprint;
        auto scs = settings.params().find("standard_conforming_strings");
        scs_off_ = scs != settings.params().end() && scs->second != "on";
        auto encoding = settings.params().find("client_encoding");
        risky_encoding_ = encoding != settings.params().end() && is_ambiguous_encoding(encoding->second);
    }
    if ((scs_off_ || in_doubt_) && sql.find('\\') != std::string_view::npos)
        return Block{std::string(sql::to_string(Rule::Unparsable)), static_cast<std::size_t>(Rule::Unparsable), "", "",
                     in_doubt_ ? "The statement has a backslash and follows one that may change "
                                 "standard_conforming_strings before the server has answered it, so sluice cannot be "
                                 "sure it reads the statement as the server will."
                               : "The statement has a backslash and standard_conforming_strings is off for this "
                                 "connection, so sluice cannot be sure it reads the statement as the server will.",
                     "Keep standard_conforming_strings = on (PostgreSQL's default), and wait for the answer to a "
                     "statement that changes it before sending more."};
    if ((risky_encoding_ || in_doubt_) && has_byte_above_ascii(sql))
        return Block{std::string(sql::to_string(Rule::Unparsable)), static_cast<std::size_t>(Rule::Unparsable), "", "",
                     "The statement has non-ASCII bytes and the connection's client_encoding (or one a previous "
                     "statement may have set) is one whose characters may contain the bytes of quotes and "
                     "backslashes, so sluice cannot be sure it reads the statement as the server will.",
                     "Use client_encoding UTF8 for this connection."};
    return std::nullopt;
}

std::optional<QueryGuard::Block> QueryGuard::rule_block(const sql::Analysis& analysis) const {
    const sql::GuardVerdict& verdict = analysis.guard;
    if (!verdict.parsed) {
        if (policy_.unparsable == config::GuardUnparsable::Allow) return std::nullopt;
        return Block{std::string(sql::to_string(Rule::Unparsable)), static_cast<std::size_t>(Rule::Unparsable), "", "",
                     "sluice's parser (PostgreSQL 15's grammar) cannot read it: " + verdict.error,
                     "Check the statement's syntax."};
    }
    for (const auto& finding : verdict.findings) {
        if (!has_rule(policy_.rules, finding.rule)) continue;
        std::string detail = finding.statement_type;
        if (!finding.table.empty()) detail += " of \"" + finding.table + "\"";
        if (verdict.findings.back().statement_index > 0)
            detail += " (statement " + std::to_string(finding.statement_index + 1) + " of the query string)";
        detail += ": ";
        detail += why(finding.rule);
        detail += '.';
        return Block{std::string(sql::to_string(finding.rule)), static_cast<std::size_t>(finding.rule),
                     finding.statement_type, finding.table, std::move(detail), {}};
    }
    return std::nullopt;
}

std::optional<QueryGuard::Block> QueryGuard::custom_block(const sql::Analysis& analysis, std::string_view sql) const {
    if (!analysis.guard.parsed) return std::nullopt;  // rule_block() applied `unparsable`
    const sql::StatementFacts& facts = analysis.facts;
    std::optional<std::string> fingerprint;
    auto any_name = [](const std::vector<sql::QualifiedName>& wanted, const std::vector<sql::QualifiedName>& actual,
                       std::string& found) {
        for (const auto& w : wanted)
            for (const auto& a : actual)
                if (sql::names_match(w, a)) {
                    found = a.schema.empty() ? a.name : a.schema + "." + a.name;
                    return true;
                }
        return false;
    };
    for (const auto& [index, custom] : custom_) {
        const config::GuardCustomRule& rule = *custom;
        std::string kind, table, function;
        if (!rule.statements.empty()) {
            auto hit = std::find_first_of(facts.kinds.begin(), facts.kinds.end(), rule.statements.begin(), rule.statements.end());
            if (hit == facts.kinds.end()) continue;
            kind = *hit;
        }
        if (!rule.tables.empty() && !any_name(rule.tables, facts.tables, table)) continue;
        if (!rule.functions.empty() && !any_name(rule.functions, facts.functions, function)) continue;
        if (!rule.fingerprints.empty()) {
            if (!fingerprint) fingerprint = sql::fingerprint(sql).value_or("");
            if (std::find(rule.fingerprints.begin(), rule.fingerprints.end(), *fingerprint) == rule.fingerprints.end())
                continue;
        }
        std::string detail = "The statement matches custom rule \"" + rule.name + "\"";
        if (!kind.empty()) detail += ": a " + kind + " statement";
        if (!table.empty()) detail += (kind.empty() ? ": " : ", ") + std::string("table \"") + table + "\"";
        if (!function.empty())
            detail += (kind.empty() && table.empty() ? ": " : ", ") + std::string("function ") + function + "()";
        detail += '.';
        return Block{rule.name, GuardCounters::kCustomBase + index, kind, table, std::move(detail), {}};
    }
    return std::nullopt;
}

std::string QueryGuard::error_for(const Block& block) const {
    std::string error;
    std::string hint = block.hint.empty() ? hint_ : block.hint + " " + hint_;
    p::append_error(error, p::Severity::Error, p::sqlstate::kInsufficientPrivilege,
                    "statement blocked by sluice rule \"" + block.rule + "\"", block.detail, hint);
    return error;
}

void QueryGuard::audit(const Block& block, std::string_view sql, bool blocked) {
    (blocked ? counters_.blocked : counters_.audited)[block.counter].fetch_add(1, std::memory_order_relaxed);
    if (!audit_.on()) return;
    // Literals never reach the log: a text sluice could not read (the parser's or the server's way)
    // is logged by its length only.
    const bool unreadable = block.rule == sql::to_string(Rule::Unparsable);
    auto normalized = unreadable ? std::nullopt : sql::normalized_text(sql);
    std::string statement = normalized ? *normalized : "(" + std::to_string(sql.size()) + " bytes that do not parse)";
    if (statement.size() > audit_statement_max_) {
        std::size_t cut = audit_statement_max_;
        while (cut > 0 && (static_cast<unsigned char>(statement[cut]) & 0xc0) == 0x80) --cut;  // whole characters
        statement.resize(cut);
        statement += "...";
    }
    std::string line = "{\"time\":";
    append_json_string(line, utc_now());
    append_field(line, "client", client_.address);
    append_field(line, "user", client_.user);
    append_field(line, "database", client_.database);
    append_field(line, "application_name", client_.application_name);
    append_field(line, "rule", block.rule);
    append_field(line, "verdict", blocked ? "blocked" : "audit");
    append_field(line, "statement_type", block.statement_type);
    append_field(line, "table", block.table);
    append_field(line, "fingerprint", normalized ? sql::fingerprint(sql).value_or("") : "");
    append_field(line, "statement", statement);
    line += '}';
    audit_.write(line);
}

}  // namespace sluice::proxy
