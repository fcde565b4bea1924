#include "proxy/prepared_statements.hpp"

#include <optional>

#include "protocol/auth/crypto.hpp"
#include "protocol/sql/session_state.hpp"

namespace sluice::proxy {

std::shared_ptr<const ServerStatement> make_server_statement(const protocol::Parse& parse) {
    // Types first, with their count, so that no (query, types) pair reads like another.
    std::string key;
    key.reserve(parse.query.size() + 4 * parse.parameter_types.size() + 8);
    key += std::to_string(parse.parameter_types.size());
    key += ':';
    for (auto t : parse.parameter_types) {
        key += std::to_string(t);
        key += ',';
    }
    key += parse.query;
    std::string digest = protocol::auth::sha256(key);
    static constexpr char kHex[] = "0123456789abcdef";
    auto st = std::make_shared<ServerStatement>();
    st->name = "sluice_";
    for (std::size_t i = 0; i < 16; ++i) {
        auto b = static_cast<unsigned char>(digest[i]);
        st->name += kHex[b >> 4];
        st->name += kHex[b & 15];
    }
    protocol::Parse renamed = parse;
    renamed.statement = st->name;
    renamed.encode(st->parse_message);
    st->may_change_session = sql::may_change_session(parse.query);
    return st;
}

namespace {

char lower(char c) noexcept { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool contains_word(std::string_view sql, std::string_view lowercase_word) noexcept {
    if (sql.size() < lowercase_word.size()) return false;
    for (std::size_t i = 0; i + lowercase_word.size() <= sql.size(); ++i) {
        std::size_t k = 0;
        while (k < lowercase_word.size() && lower(sql[i + k]) == lowercase_word[k]) ++k;
        if (k == lowercase_word.size()) return true;
    }
    return false;
}

// A tiny reader of the one statement shape that matters here; anything unexpected gives up.
class Words {
public:
    explicit Words(std::string_view sql) : sql_(sql) {}
    // Skips blanks and comments.
    void skip() noexcept {
        for (;;) {
            while (pos_ < sql_.size() && (sql_[pos_] == ' ' || sql_[pos_] == '\t' || sql_[pos_] == '\n' ||
                                          sql_[pos_] == '\r' || sql_[pos_] == '\f'))
                ++pos_;
            if (sql_.substr(pos_, 2) == "--") {
                while (pos_ < sql_.size() && sql_[pos_] != '\n') ++pos_;
            } else if (sql_.substr(pos_, 2) == "/*") {
                auto end = sql_.find("*/", pos_ + 2);  // nested comments: not worth it, gives up below
                if (end == std::string_view::npos || sql_.substr(pos_ + 2, end - pos_ - 2).find("/*") != std::string_view::npos) {
                    broken_ = true;
                    return;
                }
                pos_ = end + 2;
            } else {
                return;
            }
        }
    }
    // The next identifier or keyword as PostgreSQL reads it (unquoted: folded to lower case).
    std::optional<std::string> word() {
        skip();
        if (broken_ || pos_ >= sql_.size()) return std::nullopt;
        std::string out;
        if (sql_[pos_] == '"') {
            for (++pos_; pos_ < sql_.size(); ++pos_) {
                if (sql_[pos_] == '"') {
                    if (pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '"') {
                        out += '"';
                        ++pos_;
                        continue;
                    }
                    ++pos_;
                    return out.empty() ? std::nullopt : std::optional(out);
                }
                out += sql_[pos_];
            }
            return std::nullopt;
        }
        auto ident = [](char c, bool first) {
            auto u = static_cast<unsigned char>(c);
            return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || u >= 0x80 ||
                   (!first && ((c >= '0' && c <= '9') || c == '$'));
        };
        if (!ident(sql_[pos_], true)) return std::nullopt;
        while (pos_ < sql_.size() && ident(sql_[pos_], out.empty())) out += lower(sql_[pos_++]);
        return out;
    }
    // Only a semicolon, blanks and comments are left.
    bool at_end() noexcept {
        skip();
        if (!broken_ && pos_ < sql_.size() && sql_[pos_] == ';') {
            ++pos_;
            skip();
        }
        return !broken_ && pos_ == sql_.size();
    }

private:
    std::string_view sql_;
    std::size_t pos_ = 0;
    bool broken_ = false;
};

}  // namespace

Deallocation find_deallocation(std::string_view sql) {
    if (!contains_word(sql, "dealloc") && !contains_word(sql, "discard")) return {};
    Deallocation unknown{Deallocation::Kind::Unknown, {}};
    Words words(sql);
    auto first = words.word();
    if (!first) return unknown;
    if (*first == "discard") {
        auto what = words.word();
        if (what == "all" && words.at_end()) return {Deallocation::Kind::All, {}};
        return unknown;
    }
    if (*first != "deallocate") return unknown;
    auto name = words.word();
    if (name == "prepare") name = words.word();
    if (!name || !words.at_end()) return unknown;
    // "DEALLOCATE ALL" (unquoted ALL is the keyword; a quoted "all" is a name, but that is rare
    // enough to read as the keyword too: the effect on sluice is only a re-Parse).
    if (*name == "all") return {Deallocation::Kind::All, {}};
    return {Deallocation::Kind::One, std::move(*name)};
}

void ClientStatements::add(std::string_view name, std::shared_ptr<const ServerStatement> statement) {
    if (!map_) map_ = std::make_unique<Map>();
    bytes_ += statement->parse_message.size() + name.size();
    map_->insert_or_assign(std::string(name), std::move(statement));
}

void ClientStatements::erase(std::string_view name) noexcept {
    if (!map_) return;
    auto it = map_->find(name);
    if (it == map_->end()) return;
    bytes_ -= it->second->parse_message.size() + it->first.size();
    map_->erase(it);
}

bool ServerStatements::use(std::string_view name) {
    auto it = index_.find(name);
    if (it == index_.end()) return false;
    lru_.splice(lru_.begin(), lru_, it->second);
    return true;
}

std::vector<std::string> ServerStatements::add(std::string_view name, std::size_t limit) {
    std::vector<std::string> evicted;
    while (!lru_.empty() && index_.size() >= limit) {
        index_.erase(lru_.back());
        evicted.push_back(std::move(lru_.back()));
        lru_.pop_back();
    }
    lru_.emplace_front(name);
    index_.emplace(lru_.front(), lru_.begin());
    return evicted;
}

void ServerStatements::erase(std::string_view name) noexcept {
    auto it = index_.find(name);
    if (it == index_.end()) return;
    auto node = it->second;
    index_.erase(it);
    lru_.erase(node);
}

}  // namespace sluice::proxy
