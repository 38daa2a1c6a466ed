// Huffman encoding hot loop: four LSB-first bitstreams (doc/FORMAT.md 12.3), coded two at a
// time. Pure loops: no allocation, no errors. Compiled portable and with AVX2/BMI2 (internal linkage).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__BMI__)
#include <immintrin.h>
#endif

#include "entropy/bit_io.hpp"
#include "entropy/huffman.hpp"

namespace tenzip::detail::kernels {
namespace {

inline unsigned load_u16(const uint8_t* p) noexcept { uint16_t v; std::memcpy(&v, p, 2); return v; }

// Writer of one LSB-first bitstream, filled from the top (see HuffEncEntry): the valid bits
// are the `bits` bits below bit 63 of `acc`, the first written lowest. `m`'s low byte counts
// them down, 255 - bits; entries are subtracted from m whole: their code bits sit at bit 41
// and up and the low byte cannot borrow (bits < 256), so it stays exact. Counting down makes
// the flush's shift count m itself ((255 - bits) mod 64 = 63 - bits) and its reset an OR. The
// code lengths' bytes that `put` ORs into the bottom of `acc` stay below the valid bits while
// at most 55 bits are pending.
struct BitWriter {
  uint8_t* p;
  uint64_t acc = 0;
  uint64_t m = 255;
  inline void put(uint64_t e) noexcept {
    acc = (acc >> (e & 63)) | e;
    m -= e;
    asm("" : "+r"(acc), "+r"(m));  // else GCC sums entries before subtracting: more live registers, spills
  }
  // Writes the whole bytes (bits / 8 = 31 - (m's low byte) / 8); the 8-byte store needs 8
  // bytes of slack after the stream. The partial byte is written too, and again by the next
  // store or dropped by the caller's size.
  inline void flush() noexcept {
    store_u64(p, acc >> (m & 63));
#if defined(__BMI__)
    p -= _bextr_u64(m, 3, 5);  // GCC does not fuse the shift and mask into bextr itself
#else
    p -= (m >> 3) & 31;
#endif
    asm("" : "+r"(p));  // else GCC computes 31 - x in a register that holds 31: one more
    p += 31;            // instruction and register
    m |= ~uint64_t{7};  // 255 - (bits & 7)
  }
  inline void finish() noexcept {
    const unsigned bits = 255 - static_cast<unsigned>(m & 255);
    store_u64(p, acc >> (63 - bits));  // bit 63 is 0: zero bits above the last code
    p += (bits + 7) >> 3;
    m = 255;
  }
};

// The last symbols of a block that the lockstep loop left: in pairs, then a single one.
template <bool kPairs>
inline void huff_encode_tail(BitWriter& w, const uint8_t* p, size_t len, const HuffEncEntry* t, const HuffPairEntry* pt) noexcept {
  size_t k = 0;
  if constexpr (kPairs)
    for (; k + 2 <= len; k += 2) { w.put(pt[load_u16(p + k)]); w.flush(); }
  for (; k < len; ++k) { w.put(t[p[k]]); w.flush(); }
}

// Four symbols of each of two streams (at q and q + dist), then a flush of each.
inline void huff_put4(BitWriter& w0, BitWriter& w1, const HuffEncEntry* t0, const HuffEncEntry* t1, const uint8_t* q,
                      size_t dist) noexcept {
  w0.put(t0[q[0]]); w1.put(t1[q[dist]]);
  w0.put(t0[q[1]]); w1.put(t1[q[dist + 1]]);
  w0.put(t0[q[2]]); w1.put(t1[q[dist + 2]]);
  w0.put(t0[q[3]]); w1.put(t1[q[dist + 3]]);
  w0.flush(); w1.flush();
}
// The same with pair tables (HuffPairEntry = HuffEncEntry, so a tag type tells them apart).
struct PairTag {};
inline void huff_put4(BitWriter& w0, BitWriter& w1, const HuffPairEntry* t0, const HuffPairEntry* t1, const uint8_t* q,
                      size_t dist, PairTag) noexcept {
  w0.put(t0[load_u16(q)]); w1.put(t1[load_u16(q + dist)]);
  w0.put(t0[load_u16(q + 2)]); w1.put(t1[load_u16(q + dist + 2)]);
  w0.flush(); w1.flush();
}

// Stream s codes the contiguous blocks [s * per, min(n_blocks, (s + 1) * per)), per =
// ceil(n_blocks / 4): four independent bitstreams. They are coded two at a time, streams s0
// and s0 + 1 in lockstep, so the two dependency chains overlap and all state stays in
// registers (not inlined: next to the caller's state it would spill). A symbol of stream s0
// and its partner in s0 + 1 lie `dist` bytes apart. Four codes go between flushes: 7 pending
// bits + 4 x 11 <= 55. With kPairs, one lookup in a pair table codes two symbols (two bytes
// loaded at once as its index): half the loads, shifts and adds per symbol.
// out[s] must hold (its symbols) * kHuffMaxBits / 8 + 16 bytes.
template <bool kPairs>
__attribute__((noinline)) void huff_encode_pair(const uint8_t* __restrict syms, size_t n, size_t block_size, size_t per,
                                                size_t n_blocks, const HuffEncEntry* const* tables,
                                                const HuffPairEntry* const* pair_tables, size_t s0, BitWriter& out0,
                                                BitWriter& out1) noexcept {
  BitWriter w0 = out0, w1 = out1;  // locals: the byte stores cannot alias them, so they stay in registers
  const size_t dist = per * block_size;
  for (size_t b0 = s0 * per; b0 < std::min(n_blocks, (s0 + 1) * per); ++b0) {
    const size_t b1 = b0 + per, start = b0 * block_size;
    const size_t l0 = std::min(block_size, n - start);
    const size_t l1 = b1 < n_blocks ? std::min(block_size, n - start - dist) : 0;
    const uint8_t* const p = syms + start;
    const size_t common = std::min(l0, l1) & ~size_t{3};
    const HuffEncEntry* const t0 = tables[b0];
    const HuffEncEntry* const t1 = tables[b1 < n_blocks ? b1 : b0];
    const HuffPairEntry* const pt0 = kPairs ? pair_tables[b0] : nullptr;
    const HuffPairEntry* const pt1 = kPairs ? pair_tables[b1 < n_blocks ? b1 : b0] : nullptr;
    for (const uint8_t* q = p; q != p + common; q += 4) {
      if constexpr (kPairs) huff_put4(w0, w1, pt0, pt1, q, dist, PairTag{});
      else huff_put4(w0, w1, t0, t1, q, dist);
    }
    huff_encode_tail<kPairs>(w0, p + common, l0 - common, t0, pt0);
    if (l1 > common) huff_encode_tail<kPairs>(w1, p + dist + common, l1 - common, t1, pt1);
  }
  out0 = w0;
  out1 = w1;
}

// tables[b]: the code of block b. pair_tables: null, or for each block the pair table of the
// same code (huff_build_pair_encoder).
inline void huff_encode4(const uint8_t* __restrict syms, size_t n, size_t block_size, const HuffEncEntry* const* tables,
                         const HuffPairEntry* const* pair_tables, uint8_t* const out[4], size_t sizes[4]) noexcept {
  BitWriter w[4] = {{out[0]}, {out[1]}, {out[2]}, {out[3]}};
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  for (size_t s0 = 0; s0 < 4; s0 += 2) {
    if (pair_tables) huff_encode_pair<true>(syms, n, block_size, per, n_blocks, tables, pair_tables, s0, w[s0], w[s0 + 1]);
    else huff_encode_pair<false>(syms, n, block_size, per, n_blocks, tables, pair_tables, s0, w[s0], w[s0 + 1]);
  }
  for (int s = 0; s < 4; ++s) { w[s].finish(); sizes[s] = static_cast<size_t>(w[s].p - out[s]); }
}

}  // namespace
}  // namespace tenzip::detail::kernels
