#include "proxy/heap_trim.hpp"

#include <unistd.h>

#include <cstdio>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace sluice::proxy {

std::size_t resident_bytes() noexcept {
    std::FILE* statm = std::fopen("/proc/self/statm", "r");
    if (!statm) return 0;
    unsigned long size = 0, resident = 0;
    const int read = std::fscanf(statm, "%lu %lu", &size, &resident);
    std::fclose(statm);
    if (read != 2) return 0;
    return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

bool HeapTrimmer::maybe_trim() noexcept {
    if constexpr (!kSupported) return false;
#if defined(__GLIBC__)
    const struct mallinfo2 heap = ::mallinfo2();
    const std::size_t in_use = heap.uordblks + heap.hblkhd;
    auto slack = [in_use](std::size_t rss) { return rss > in_use ? rss - in_use : 0; };
    if (heap.fordblks < kStep || slack(resident_bytes()) < slack_after_last_trim_ + kStep) return false;
    ::malloc_trim(0);
    slack_after_last_trim_ = slack(resident_bytes());
    return true;
#else
    return false;
#endif
}

}  // namespace sluice::proxy
