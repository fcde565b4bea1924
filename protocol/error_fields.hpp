#pragma once
// The fields of ErrorResponse and NoticeResponse, and the one builder for every error sluice raises.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/result.hpp"

namespace sluice::protocol {

// Field type bytes, as in the protocol docs ("Error and Notice Message Fields").
enum class ErrorField : char {
    Severity = 'S',
    SeverityNonLocalized = 'V',
    Code = 'C',
    Message = 'M',
    Detail = 'D',
    Hint = 'H',
    Position = 'P',
    InternalPosition = 'p',
    InternalQuery = 'q',
    Where = 'W',
    SchemaName = 's',
    TableName = 't',
    ColumnName = 'c',
    DataTypeName = 'd',
    ConstraintName = 'n',
    File = 'F',
    Line = 'L',
    Routine = 'R',
};

enum class Severity { Error, Fatal, Panic, Warning, Notice, Debug, Info, Log };
std::string_view to_string(Severity s) noexcept;

struct ErrorFields {
    // In wire order; unknown field types are kept (the protocol says to ignore, not reject them).
    std::vector<std::pair<char, std::string>> fields;

    [[nodiscard]] std::optional<std::string_view> get(ErrorField f) const noexcept;
    void set(ErrorField f, std::string_view value);
    [[nodiscard]] std::string_view severity() const noexcept;  // 'V' if present, else 'S'
    [[nodiscard]] std::string_view code() const noexcept;
    [[nodiscard]] std::string_view message() const noexcept;

    // What sluice sends: S and V severity, C, M, and D/H when given.
    static ErrorFields make(Severity severity, std::string_view sqlstate, std::string_view message,
                            std::string_view detail = {}, std::string_view hint = {});

    static Result<ErrorFields> decode(std::string_view body);
    void encode_body(std::string& out) const;
    friend bool operator==(const ErrorFields&, const ErrorFields&) = default;
};

struct ErrorResponse {
    static constexpr char tag = 'E';
    ErrorFields fields;
    static Result<ErrorResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const ErrorResponse&, const ErrorResponse&) = default;
};

struct NoticeResponse {
    static constexpr char tag = 'N';
    ErrorFields fields;
    static Result<NoticeResponse> decode(std::string_view body);
    void encode(std::string& out) const;
    friend bool operator==(const NoticeResponse&, const NoticeResponse&) = default;
};

// Appends an ErrorResponse built with ErrorFields::make().
void append_error(std::string& out, Severity severity, std::string_view sqlstate, std::string_view message,
                  std::string_view detail = {}, std::string_view hint = {});

}  // namespace sluice::protocol
