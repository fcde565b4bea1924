#include "proxy/prepared_statements.hpp"

#include "protocol/auth/crypto.hpp"

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
    return st;
}

void ClientStatements::add(std::string_view name, std::shared_ptr<const ServerStatement> statement) {
    bytes_ += statement->parse_message.size() + name.size();
    map_.insert_or_assign(std::string(name), std::move(statement));
}

void ClientStatements::erase(std::string_view name) noexcept {
    auto it = map_.find(name);
    if (it == map_.end()) return;
    bytes_ -= it->second->parse_message.size() + it->first.size();
    map_.erase(it);
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
