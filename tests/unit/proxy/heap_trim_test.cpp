// HeapTrimmer gives back what a burst or leaving clients left free, a few MiB or more, and does not
// walk the heap again until more is free: glibc's heap, fragmented as thousands of sessions leave
// it (a live block every 64 KiB).
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
// used, and still worth giving back; so is what clients that leave later free.
TEST(HeapTrimmer, ReturnsFreeRunsAmongMoreMemoryInUse) {
    HeapTrimmer trimmer;
    trimmer.maybe_trim();
    auto blocks = resident_blocks();
    const std::size_t peak = resident_bytes();
    // 24 of every 64 blocks, in runs of ~24 KiB: 24 MiB free, 40 MiB in use.
    free_blocks(blocks, [](std::size_t i) { return i % 64 < 24; });
    if constexpr (HeapTrimmer::kSupported) {
        ASSERT_TRUE(trimmer.maybe_trim());
        const std::size_t trimmed = resident_bytes();
        EXPECT_LT(trimmed, peak - (std::size_t{16} << 20));
        EXPECT_FALSE(trimmer.maybe_trim()) << "trimmed again without a new burst";
        // Then clients leave, the resident size not growing: most of the rest goes free (every
        // 64th block stays), and is given back too.
        free_blocks(blocks, [](std::size_t i) { return i % 64 >= 24 && i % 64 != 63; });
        EXPECT_TRUE(trimmer.maybe_trim()) << "what left after the trim stays resident";
        EXPECT_LT(resident_bytes(), trimmed - (std::size_t{24} << 20));
    } else {
        EXPECT_FALSE(trimmer.maybe_trim());
    }
    for (void* block : blocks) std::free(block);
}

// Frees, among blocks the trimmer saw in use, the first `run` blocks of every `period`, and
// expects one trim to give back more than `at_least` bytes. A run of n blocks (1,008 bytes each
// with the allocator's header) holds at least floor((1,008 n - 4,095) / 4,096) whole pages
// wherever it starts, less the free chunk's own header: the heap's layout at the start differs
// between runs of the test binary, and decides where the runs fall.
void expect_runs_given_back(std::size_t period, std::size_t run, std::size_t at_least) {
    HeapTrimmer trimmer;
    trimmer.maybe_trim();
    auto blocks = resident_blocks();
    trimmer.maybe_trim();  // the blocks are in use: nothing more is free
    const std::size_t before = resident_bytes();
    free_blocks(blocks, [period, run](std::size_t i) { return i % period < run; });
    if constexpr (HeapTrimmer::kSupported) {
        EXPECT_TRUE(trimmer.maybe_trim());
        EXPECT_LT(resident_bytes(), before - at_least);
    } else {
        EXPECT_FALSE(trimmer.maybe_trim());
    }
    for (void* block : blocks) std::free(block);
}

// A few MiB left free among what stays (4 MiB in runs of 16 blocks, two whole pages or more in
// each of the 256): 400 bytes per client at 10,000 is not kept resident.
TEST(HeapTrimmer, ReturnsAFewMegabytesLeftFree) { expect_runs_given_back(256, 16, std::size_t{1} << 20); }

// Under a MiB left free among what stays (756 KiB in runs of 24 blocks, four whole pages or more
// in each of the 32; 75 bytes per client at 10,000) is given back too: the step is a quarter of
// a MiB.
TEST(HeapTrimmer, ReturnsUnderAMegabyteLeftFree) { expect_runs_given_back(2048, 24, std::size_t{256} << 10); }

}  // namespace
}  // namespace sluice::proxy
