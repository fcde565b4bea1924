#pragma once
// Named prepared statements in transaction mode. A client's statements live on whichever server
// it gets next, so sluice keeps them itself:
//   * per client, the names the client gave (ClientStatements), each pointing at a
//     ServerStatement: the same query text and parameter types under sluice's own name, so that
//     every client preparing that query shares one statement per server;
//   * per server, the statements sluice prepared there (ServerStatements), least recently used
//     first, within pool.max_prepared_statements.
// The relay rewrites names as messages pass, prepares a statement on a server that lacks it, and
// edits the responses so that the client sees exactly what PostgreSQL would have sent it.
// No I/O here.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <list>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/frontend.hpp"

namespace sluice::proxy {

// One statement as sluice prepares it on servers.
struct ServerStatement {
    std::string name;           // "sluice_" + 32 hex digits of SHA-256(query, parameter types)
    std::string parse_message;  // the client's Parse under that name, framed, ready to send
    bool may_change_session = false;  // sql::may_change_session() of its text: each Bind looks again
    // Its text, within parse_message.
    [[nodiscard]] std::string_view query() const noexcept {
        std::string_view rest = std::string_view(parse_message).substr(5 + name.size() + 1);
        return rest.substr(0, rest.find('\0'));
    }
};
// A collision-resistant digest: a client must not be able to make its statement stand in for
// another client's query.
std::shared_ptr<const ServerStatement> make_server_statement(const protocol::Parse& parse);

// A name no server ever has (Close of it answers CloseComplete; Describe of it fails with 26000).
inline constexpr std::string_view kAbsentStatement = "sluice_absent";

struct TransparentHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// sluice's statement names end in hex digits of a digest, already as good as any hash: their last
// eight bytes serve as one, so that a lookup (one per Bind) does not hash the whole name again.
struct ServerNameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept {
        if (s.size() < sizeof(std::uint64_t)) return std::hash<std::string_view>{}(s);
        std::uint64_t tail;
        std::memcpy(&tail, s.data() + s.size() - sizeof tail, sizeof tail);
        return static_cast<std::size_t>(tail);
    }
};

// SQL that deallocates prepared statements, as sluice must know it: the server's statements are
// sluice's, under other names.
struct Deallocation {
    enum class Kind {
        None,     // the text cannot deallocate anything
        One,      // exactly "DEALLOCATE [PREPARE] name": `name` as PostgreSQL folds it
        All,      // exactly "DEALLOCATE [PREPARE] ALL" or "DISCARD ALL"
        Unknown,  // mentions DEALLOCATE or DISCARD some other way (several statements, ...)
    };
    Kind kind = Kind::None;
    std::string name;
};
Deallocation find_deallocation(std::string_view sql);

class ClientStatements {
public:
    // Memory a client may pin with its statements (PostgreSQL has no limit; a pooler needs one).
    static constexpr std::size_t kMaxStatements = 10'000;
    static constexpr std::size_t kMaxBytes = 64 * 1024 * 1024;

    [[nodiscard]] std::shared_ptr<const ServerStatement> find(std::string_view name) const noexcept {
        if (!map_) return nullptr;
        auto it = map_->find(name);
        return it == map_->end() ? nullptr : it->second;
    }
    [[nodiscard]] bool full(const ServerStatement& adding) const noexcept {
        return size() >= kMaxStatements || bytes_ + adding.parse_message.size() > kMaxBytes;
    }
    void add(std::string_view name, std::shared_ptr<const ServerStatement> statement);
    void erase(std::string_view name) noexcept;
    void clear() noexcept {
        map_.reset();
        bytes_ = 0;
    }
    [[nodiscard]] std::size_t size() const noexcept { return map_ ? map_->size() : 0; }

private:
    using Map = std::unordered_map<std::string, std::shared_ptr<const ServerStatement>, TransparentHash, std::equal_to<>>;
    // Made with the first statement: most clients never name one, and thousands sit idle.
    std::unique_ptr<Map> map_;
    std::size_t bytes_ = 0;
};

class ServerStatements {
public:
    // Whether the server has (or will have, once what was sent is answered) this statement; a
    // hit makes it the most recently used.
    bool use(std::string_view name);
    // Records a statement about to be prepared. Returns the least recently used ones that must
    // be closed first to stay within `limit`.
    std::vector<std::string> add(std::string_view name, std::size_t limit);
    void erase(std::string_view name) noexcept;
    void clear() noexcept {
        lru_.clear();
        index_.clear();
    }
    [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
    // The server may have dropped some or all of them (DEALLOCATE ALL, DISCARD ALL, ...): close
    // each before it is prepared again (Close of a missing statement succeeds).
    void forget_all() {
        for (auto& name : lru_) to_close.push_back(std::move(name));
        clear();
    }

    // Behind an upstream pooler, where a transaction ends: the names to close before it does,
    // and the server's next transaction (perhaps on another backend) starts with none.
    std::vector<std::string> take_all() {
        std::vector<std::string> names(std::make_move_iterator(lru_.begin()), std::make_move_iterator(lru_.end()));
        clear();
        return names;
    }

    // Statements the server still has but sluice no longer wants (a plan made invalid by DDL):
    // closed before the server's next use.
    std::vector<std::string> to_close;

private:
    std::list<std::string> lru_;  // most recently used first
    std::unordered_map<std::string_view, std::list<std::string>::iterator, ServerNameHash, std::equal_to<>> index_;
};

}  // namespace sluice::proxy
