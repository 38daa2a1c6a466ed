// Run-time choice between the portable and the AVX2/BMI2 builds of the Huffman loops.
#pragma once

#include <cstddef>
#include <cstdint>

#include "entropy/huffman.hpp"
#include "util/prefetch.hpp"

namespace tenzip::detail {

struct RepeatHits { uint32_t queries, hits8, hits16; };

struct HuffKernels {
  // Codes n symbols in blocks of block_size into four bitstreams: block b with tables[b], or,
  // if pair_tables is not null, pair_tables[b] (the same code, two symbols per lookup).
  void (*encode4)(const uint8_t* syms, size_t n, size_t block_size, const HuffEncEntry* const* tables,
                  const HuffPairEntry* const* pair_tables, uint8_t* const out[4], size_t sizes[4]);
  void (*decode4)(const uint8_t* const[4], const uint8_t*, size_t, size_t, const HuffDecTable* const*, int, uint8_t*, uint64_t[4],
                  Prefetcher&);
  // The same for flat codes of L bits: block b's symbols through block_maps[b] (code -> symbol).
  void (*decode_flat4)(const uint8_t* const[4], const uint8_t*, size_t, size_t, const uint8_t* const*, int, uint8_t*, uint64_t[4]);
  void (*histogram)(const uint8_t*, size_t, uint32_t*);  // adds counts of n bytes into 256 bins
  // Per-block histograms of n bytes in blocks of block_size: out[b][256] (overwritten); the
  // counts are also added to total[256].
  void (*histogram_blocks)(const uint8_t*, size_t n, size_t block_size, uint32_t (*out)[256], uint32_t* total);
  // The multi-symbol decode table (HuffDecTable::multi) of a complete code of <= 9-bit codes.
  void (*build_multi)(const HuffCode* codes, int n_codes, uint64_t* multi);
  // LZ structure: sampled aligned 8-byte words of p[0, n) that repeat an earlier one (n / 8 < 65536).
  RepeatHits (*repeat_hits)(const uint8_t* p, size_t n);
};
const HuffKernels& huff_kernels() noexcept;
const HuffKernels& huff_kernels_scalar() noexcept;
const HuffKernels* huff_kernels_avx2() noexcept;

}  // namespace tenzip::detail
