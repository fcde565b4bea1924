#include "protocol/sql/parse_tree.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

namespace sluice::sql {
namespace {

// pg_query_parse_protobuf's result, freed on every path.
struct ProtobufResult {
    PgQueryProtobufParseResult value;
    explicit ProtobufResult(const char* text) : value(pg_query_parse_protobuf(text)) {}
    ~ProtobufResult() { pg_query_free_protobuf_parse_result(value); }
    ProtobufResult(const ProtobufResult&) = delete;
    ProtobufResult& operator=(const ProtobufResult&) = delete;
};

}  // namespace

void ParseTree::Free::operator()(PgQuery__ParseResult* result) const noexcept {
    pg_query__parse_result__free_unpacked(result, nullptr);
}

ParseTree ParseTree::parse(std::string_view sql) {
    ParseTree tree;
    // libpg_query takes a C string; the protocol's Query and Parse texts end at a NUL anyway.
    tree.text_ = std::string(sql.substr(0, sql.find('\0')));
    ProtobufResult parsed(tree.text_.c_str());
    if (parsed.value.error != nullptr) {
        tree.error_ = parsed.value.error->message != nullptr ? parsed.value.error->message : "syntax error";
        return tree;
    }
    tree.result_.reset(pg_query__parse_result__unpack(
        nullptr, parsed.value.parse_tree.len, reinterpret_cast<const std::uint8_t*>(parsed.value.parse_tree.data)));
    if (!tree.result_) tree.error_ = "libpg_query returned a parse tree that does not unpack";
    return tree;
}

std::optional<std::string> normalized_text(std::string_view sql) {
    const std::string text(sql.substr(0, sql.find('\0')));
    PgQueryNormalizeResult result = pg_query_normalize(text.c_str());
    std::optional<std::string> out;
    if (result.error == nullptr && result.normalized_query != nullptr) out.emplace(result.normalized_query);
    pg_query_free_normalize_result(result);
    return out;
}

std::optional<std::string> fingerprint(std::string_view sql) {
    const std::string text(sql.substr(0, sql.find('\0')));
    PgQueryFingerprintResult result = pg_query_fingerprint(text.c_str());
    std::optional<std::string> out;
    if (result.error == nullptr && result.fingerprint_str != nullptr) out.emplace(result.fingerprint_str);
    pg_query_free_fingerprint_result(result);
    return out;
}

}  // namespace sluice::sql
