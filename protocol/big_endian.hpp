#pragma once
// The wire's integers are big-endian. One unaligned load and a byte swap: the compiler does not
// always merge four shifted byte loads into that (in the scanners' loops it did not, ~10
// instructions a message header).
#include <bit>
#include <cstdint>
#include <cstring>

namespace sluice::protocol {

[[nodiscard]] inline std::uint32_t load_be32(const void* p) noexcept {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    if constexpr (std::endian::native == std::endian::little) v = __builtin_bswap32(v);
    return v;
}

}  // namespace sluice::protocol
