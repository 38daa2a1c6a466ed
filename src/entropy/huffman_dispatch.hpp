// Run-time choice between the portable and the AVX2/BMI2 builds of the Huffman loops.
#pragma once

#include <cstddef>
#include <cstdint>

#include "entropy/huffman.hpp"

namespace tenzip::detail {

struct RepeatHits { uint32_t queries, hits8, hits16; };

struct HuffKernels {
  void (*encode4)(const uint8_t*, size_t, size_t, const HuffEncTable* const*, uint8_t* const[4], size_t[4]);
  void (*decode4)(const uint8_t* const[4], const uint8_t*, size_t, size_t, const HuffDecTable* const*, int, uint8_t*, uint64_t[4]);
  void (*histogram)(const uint8_t*, size_t, uint32_t*);  // adds counts of n bytes into 256 bins
  // Decode-table build step: E[rev | (m << len)] = symbol `sym` followed by R[m], m < count.
  void (*compose_run)(const uint64_t* R, uint32_t count, uint32_t len, uint32_t rev, uint32_t sym, uint64_t* E);
  // LZ structure: sampled aligned 8-byte words of p[0, n) that repeat an earlier one (n / 8 < 65536).
  RepeatHits (*repeat_hits)(const uint8_t* p, size_t n);
};
const HuffKernels& huff_kernels() noexcept;
const HuffKernels& huff_kernels_scalar() noexcept;
const HuffKernels* huff_kernels_avx2() noexcept;

}  // namespace tenzip::detail
