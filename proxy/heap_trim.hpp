#pragma once
// Gives back to the system the memory a burst of activity left free. glibc's allocator keeps the
// freed pages of its heaps resident: after thousands of clients ran a query at once and went back
// to idle, most of the heap they used is free yet still counted in the proxy's RSS.
#include <cstddef>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SLUICE_SANITIZER_ALLOCATOR 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SLUICE_SANITIZER_ALLOCATOR 1
#endif
#endif

namespace sluice::proxy {

class HeapTrimmer {
public:
    // glibc's allocator; a sanitizer's (or another libc's) returns memory on its own terms, and
    // maybe_trim() then never trims.
#if defined(__GLIBC__) && !defined(SLUICE_SANITIZER_ALLOCATOR)
    static constexpr bool kSupported = true;
#else
    static constexpr bool kSupported = false;
#endif

    // Trims when the free heap that is still resident grew by `kStep` since the last trim: the
    // resident size less the heap in use, which holds code, stacks and what free() kept. It grows
    // when a burst of clients leaves memory free among those that stay (10,000 parked after a
    // query burst: ~13 MiB in use among ~10 MiB free) and when clients leave, the resident size
    // then unchanged. Checked once a second; it reads the allocator's totals (a walk of its free
    // lists), and a trim takes about a millisecond per 50 MiB. True when it trimmed.
    bool maybe_trim() noexcept;

    // 25 bytes per client at 10,000 idle ones: what an idle proxy may keep resident beyond its use
    // (with 1 MiB, the 10,000 idle clients of bench/ held 0.84-0.86 KiB each, with this 0.81-0.82).
    static constexpr std::size_t kStep = 256u << 10;

private:
    std::size_t slack_after_last_trim_ = 0;
};

// The process's resident set in bytes (0 where it cannot be read).
std::size_t resident_bytes() noexcept;

}  // namespace sluice::proxy
