#pragma once
// What a client's SQL does to its *session* on the server: the state (settings, LISTEN, advisory
// locks, temp objects, held cursors, SQL-level prepared statements, loaded libraries) that must not
// follow a server connection to the next client in transaction pooling. Pure and I/O-free: it
// reads a ParseTree (parse_tree.hpp) and reports effects; the proxy decides what to do with them
// (replay, pin, reject: config::SessionStatePolicy).
//
// Usage, for every simple-Query text and every Parse text:
//     if (sql::may_change_session(text)) { auto a = cache.get(text); for (auto& c : a->changes) ... }
//
// What is not analysed:
//   - function and procedure bodies (CREATE FUNCTION ... AS $$...$$ or BEGIN ATOMIC ... END), DO
//     blocks and CALL: opaque, nothing is reported for what they do when run;
//   - dynamic SQL (EXECUTE of a string) and SQL-level EXECUTE of a prepared statement (the PREPARE
//     itself is reported);
//   - persistent changes (ALTER ROLE/DATABASE/SYSTEM ... SET): not session state.
// Function calls (set_config, pg_advisory_lock...) are found anywhere in a statement, except inside
// function bodies; in deferred contexts (CREATE VIEW, PREPARE, EXPLAIN without ANALYZE) they are
// reported although they do not run now (conservative: at worst a pin that was not needed).
#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocol/sql/guard.hpp"
#include "protocol/sql/statement_facts.hpp"

namespace sluice::sql {

// One thing a statement does to the session, in statement order.
enum class Effect : std::uint8_t {
    // A session-level setting changes. name = the GUC, lower-cased. From SET name = / TO ...,
    // SET name TO DEFAULT, RESET name (not LOCAL), set_config('name', v, false) with constant
    // arguments, SET TIME ZONE ("timezone"), SET SCHEMA ("search_path"), SET NAMES
    // ("client_encoding"), SET ROLE ("role"), SET SESSION AUTHORIZATION ("session_authorization"),
    // SET SESSION CHARACTERISTICS AS TRANSACTION ... (one change per "default_transaction_isolation",
    // "default_transaction_read_only", "default_transaction_deferrable" given).
    SetGuc,
    ResetAll,           // RESET ALL
    Listen,             // LISTEN name
    Unlisten,           // UNLISTEN name; name empty for UNLISTEN *
    AdvisoryLock,       // pg_advisory_lock[_shared], pg_try_advisory_lock[_shared] (session level); name = the function
    AdvisoryUnlockAll,  // pg_advisory_unlock_all()
    // CREATE TEMP/TEMPORARY TABLE/VIEW/SEQUENCE, CREATE TEMP TABLE AS, SELECT ... INTO TEMP, or a
    // table/view/sequence created in pg_temp. name = the object's name.
    TempObject,
    HoldCursor,         // DECLARE name ... WITH HOLD
    CloseCursor,        // CLOSE name; name empty for CLOSE ALL
    Prepare,            // SQL PREPARE name
    Deallocate,         // DEALLOCATE [PREPARE] name
    DeallocateAll,      // DEALLOCATE [PREPARE] ALL
    DiscardAll,         // DISCARD ALL: also does everything ResetAll, DeallocateAll, DiscardTemp... do
    DiscardTemp,        // DISCARD TEMP
    DiscardPlans,       // DISCARD PLANS
    DiscardSequences,   // DISCARD SEQUENCES
    LoadLibrary,        // LOAD 'file'; name = the file
    // A change whose effect cannot be named, so cannot be replayed: set_config with a non-constant
    // name or is_local, SET SESSION CHARACTERISTICS with an unknown item. name = what is known.
    Unreplayable,
};

std::string_view to_string(Effect effect) noexcept;  // "SetGuc", ... for logs and tests

struct SessionChange {
    Effect effect;
    // The GUC (lower-cased: "timezone", "search_path", "client_encoding", "role",
    // "session_authorization", "app.tenant"), or the statement/cursor/channel/object/file name;
    // empty when not applicable.
    std::string name;
    std::string statement;  // the statement's own text (for log messages), trimmed
};

struct Analysis {
    bool parsed = false;  // false: a syntax error (the server rejects the text too); `error` says why
    std::string error;
    std::size_t statements = 0;
    bool transaction_control = false;  // BEGIN/START TRANSACTION/COMMIT/ROLLBACK/SAVEPOINT... seen
    std::vector<SessionChange> changes;  // empty when !parsed
    GuardVerdict guard;                  // the query guard's findings, from the same parse (guard.hpp)
    StatementFacts facts;                // for the guard's custom rules (statement_facts.hpp)
};

// Cheap, conservative test to run on every client SQL string before any parse: false means the
// text certainly changes no session state, so analyze() would report nothing. One pass, no
// allocation: it looks for the keywords and names the effects need (set, reset, listen, unlisten,
// advisory, temp/temporary/pg_temp, hold, close, prepare, deallocate, discard, load,
// set_config) as whole words, skipping `SET` where it follows a name (UPDATE t SET, ALTER ... SET:
// a session SET starts its statement), and says true for any U& (Unicode-escaped) identifier.
// A false positive costs one (cached) parse.
bool may_change_session(std::string_view sql) noexcept;

// Parses (uncached) and classifies every statement. Never throws for any input except
// std::bad_alloc.
Analysis analyze(std::string_view sql);

// analyze() behind a bounded LRU (shared by session-state detection and the query guard: one parse
// per distinct text) keyed by the exact text: at most `max_entries` entries and
// `max_bytes` of key text (an entry larger than max_bytes alone is analysed but not kept).
// Thread-safe (one mutex: it is only reached when may_change_session() says yes). The parse runs
// outside the lock; two threads missing on the same text both parse and the first insert wins.
class AnalysisCache {
public:
    AnalysisCache(std::size_t max_entries, std::size_t max_bytes);

    // The same pointer for the same text while it stays cached.
    std::shared_ptr<const Analysis> get(std::string_view sql);

    [[nodiscard]] std::size_t size() const;
    [[nodiscard]] std::size_t bytes() const;  // key text held

private:
    struct Entry {
        std::string text;
        std::shared_ptr<const Analysis> analysis;
    };
    using Order = std::list<Entry>;  // most recently used first
    void evict_locked();

    const std::size_t max_entries_;
    const std::size_t max_bytes_;
    mutable std::mutex mutex_;
    Order order_;
    std::unordered_map<std::string_view, Order::iterator> index_;  // views into order_'s texts
    std::size_t bytes_ = 0;
};

}  // namespace sluice::sql
