#include "protocol/error_fields.hpp"

#include "protocol/byte_reader.hpp"
#include "protocol/message_writer.hpp"

namespace sluice::protocol {

std::string_view to_string(Severity s) noexcept {
    switch (s) {
    case Severity::Error: return "ERROR";
    case Severity::Fatal: return "FATAL";
    case Severity::Panic: return "PANIC";
    case Severity::Warning: return "WARNING";
    case Severity::Notice: return "NOTICE";
    case Severity::Debug: return "DEBUG";
    case Severity::Info: return "INFO";
    case Severity::Log: return "LOG";
    }
    return "ERROR";
}

std::optional<std::string_view> ErrorFields::get(ErrorField f) const noexcept {
    for (const auto& [type, value] : fields)
        if (type == static_cast<char>(f)) return std::string_view(value);
    return std::nullopt;
}

void ErrorFields::set(ErrorField f, std::string_view value) {
    for (auto& [type, v] : fields)
        if (type == static_cast<char>(f)) {
            v = value;
            return;
        }
    fields.emplace_back(static_cast<char>(f), std::string(value));
}

std::string_view ErrorFields::severity() const noexcept {
    if (auto v = get(ErrorField::SeverityNonLocalized)) return *v;
    return get(ErrorField::Severity).value_or(std::string_view{});
}
std::string_view ErrorFields::code() const noexcept { return get(ErrorField::Code).value_or(std::string_view{}); }
std::string_view ErrorFields::message() const noexcept {
    return get(ErrorField::Message).value_or(std::string_view{});
}

ErrorFields ErrorFields::make(Severity severity, std::string_view sqlstate, std::string_view message,
                              std::string_view detail, std::string_view hint) {
    ErrorFields e;
    e.fields.reserve(6);
    e.fields.emplace_back(static_cast<char>(ErrorField::Severity), std::string(to_string(severity)));
    e.fields.emplace_back(static_cast<char>(ErrorField::SeverityNonLocalized), std::string(to_string(severity)));
    e.fields.emplace_back(static_cast<char>(ErrorField::Code), std::string(sqlstate));
    e.fields.emplace_back(static_cast<char>(ErrorField::Message), std::string(message));
    if (!detail.empty()) e.fields.emplace_back(static_cast<char>(ErrorField::Detail), std::string(detail));
    if (!hint.empty()) e.fields.emplace_back(static_cast<char>(ErrorField::Hint), std::string(hint));
    return e;
}

Result<ErrorFields> ErrorFields::decode(std::string_view body) {
    ByteReader r(body);
    ErrorFields e;
    for (;;) {
        auto type = r.u8();
        if (!r.ok()) return fail("error fields are not terminated");
        if (type == 0) break;
        auto value = r.cstring();
        if (!r.ok()) return fail("error field '" + std::string(1, static_cast<char>(type)) + "' is not terminated");
        e.fields.emplace_back(static_cast<char>(type), std::string(value));
    }
    if (!r.done()) return fail("error fields have data after their terminator");
    return e;
}

void ErrorFields::encode_body(std::string& out) const {
    MessageWriter w(out);
    for (const auto& [type, value] : fields) {
        // A zero type byte would end the list early; such a field cannot be sent.
        if (type == '\0') continue;
        w.u8(static_cast<std::uint8_t>(type));
        w.cstring(value);
    }
    w.u8(0);
}

Result<ErrorResponse> ErrorResponse::decode(std::string_view body) {
    auto f = ErrorFields::decode(body);
    if (!f) return fail("malformed ErrorResponse: " + f.error().message);
    return ErrorResponse{std::move(*f)};
}
void ErrorResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(BackendTag::ErrorResponse);
    fields.encode_body(out);
    w.end();
}

Result<NoticeResponse> NoticeResponse::decode(std::string_view body) {
    auto f = ErrorFields::decode(body);
    if (!f) return fail("malformed NoticeResponse: " + f.error().message);
    return NoticeResponse{std::move(*f)};
}
void NoticeResponse::encode(std::string& out) const {
    MessageWriter w(out);
    w.begin(BackendTag::NoticeResponse);
    fields.encode_body(out);
    w.end();
}

void append_error(std::string& out, Severity severity, std::string_view sqlstate, std::string_view message,
                  std::string_view detail, std::string_view hint) {
    ErrorResponse{ErrorFields::make(severity, sqlstate, message, detail, hint)}.encode(out);
}

}  // namespace sluice::protocol
