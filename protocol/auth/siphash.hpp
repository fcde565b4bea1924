#pragma once
// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed
// pseudorandom function of short inputs. Its output is unpredictable without the 128-bit key,
// which is what deriving secrets from a counter needs (cancel keys: cancel_registry.hpp).
#include <array>
#include <cstdint>
#include <string_view>

namespace sluice::protocol::auth {

using SipKey = std::array<std::uint8_t, 16>;

[[nodiscard]] std::uint64_t siphash24(const SipKey& key, std::string_view message) noexcept;

}  // namespace sluice::protocol::auth
