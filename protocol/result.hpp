#pragma once
// Decoding results: a value, or a ProtocolError saying what was wrong with the bytes.
#include <boost/system/result.hpp>

#include <stdexcept>
#include <string>

namespace sluice::protocol {

struct ProtocolError {
    std::string message;
};

class ProtocolException : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Found by ADL when .value() is called on a failed Result.
[[noreturn]] inline void throw_exception_from_error(ProtocolError const& e, boost::source_location const&) {
    throw ProtocolException(e.message);
}

template <class T>
using Result = boost::system::result<T, ProtocolError>;

inline ProtocolError fail(std::string message) { return ProtocolError{std::move(message)}; }

}  // namespace sluice::protocol
