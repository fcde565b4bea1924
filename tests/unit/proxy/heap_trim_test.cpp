// HeapTrimmer gives back what a burst left free, and does not walk the heap again until the next
// burst: glibc's heap, fragmented as thousands of sessions leave it (a live block every 64 KiB).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "proxy/heap_trim.hpp"

namespace sluice::proxy {
namespace {

// 64 Ki blocks of 1000 bytes, touched: 64 MiB resident.
std::vector<void*> resident_blocks() {
    std::vector<void*> blocks(64 * 1024);
    for (void*& block : blocks) {
        block = std::malloc(1000);
        std::memset(block, 1, 1000);
    }
    return blocks;
}

// Frees the blocks whose index `pick` chooses.
template <class Pick>
void free_blocks(std::vector<void*>& blocks, Pick pick) {
    for (std::size_t i = 0; i < blocks.size(); ++i) {
        if (!pick(i)) continue;
        std::free(blocks[i]);
        blocks[i] = nullptr;
    }
}

TEST(HeapTrimmer, ReturnsWhatABurstLeftFreeOnce) {
    HeapTrimmer trimmer;
    trimmer.maybe_trim();  // whatever the test process had left free before
    auto blocks = resident_blocks();
    const std::size_t peak = resident_bytes();
    ASSERT_GT(peak, std::size_t{64} << 20);
    // All but every 64th block: the heap's top stays in use, so free() alone returns nothing.
    free_blocks(blocks, [](std::size_t i) { return i % 64 != 63; });
    if constexpr (HeapTrimmer::kSupported) {
        EXPECT_GT(resident_bytes(), peak - (std::size_t{8} << 20)) << "free() alone gave the memory back";
        EXPECT_TRUE(trimmer.maybe_trim());
        EXPECT_LT(resident_bytes(), peak - (std::size_t{32} << 20));
        EXPECT_FALSE(trimmer.maybe_trim()) << "trimmed again without a new burst";
    } else {
        EXPECT_FALSE(trimmer.maybe_trim());
    }
    for (void* block : blocks) std::free(block);
}

// Clients parked after a burst keep most of the heap in use: what is free is less than what is
// used, and still worth giving back.
TEST(HeapTrimmer, ReturnsFreeRunsAmongMoreMemoryInUse) {
    HeapTrimmer trimmer;
    trimmer.maybe_trim();
    auto blocks = resident_blocks();
    const std::size_t peak = resident_bytes();
    // 24 of every 64 blocks, in runs of ~24 KiB: 24 MiB free, 40 MiB in use.
    free_blocks(blocks, [](std::size_t i) { return i % 64 < 24; });
    if constexpr (HeapTrimmer::kSupported) {
        EXPECT_TRUE(trimmer.maybe_trim());
        EXPECT_LT(resident_bytes(), peak - (std::size_t{16} << 20));
        EXPECT_FALSE(trimmer.maybe_trim()) << "trimmed again without a new burst";
    } else {
        EXPECT_FALSE(trimmer.maybe_trim());
    }
    for (void* block : blocks) std::free(block);
}

}  // namespace
}  // namespace sluice::proxy
