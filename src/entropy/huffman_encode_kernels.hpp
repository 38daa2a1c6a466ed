// Huffman encoding hot loop: four LSB-first bitstreams (doc/FORMAT.md 12.3), coded two at a
// time. Pure loops: no allocation, no errors. Compiled portable and with AVX2/BMI2 (internal linkage).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "entropy/bit_io.hpp"
#include "entropy/huffman.hpp"

namespace tenzip::detail::kernels {
namespace {

// Writer of one LSB-first bitstream, filled from the top (see HuffEncEntry): the valid bits
// are the top `nb & 255` bits of `acc`, the first written lowest. Entries are added to `nb`
// whole: their code bits sit at bit 53 and up, so the low byte stays the exact count as long
// as it stays < 256. The code lengths' bytes that `put` ORs into the bottom of `acc` stay
// below the valid bits while at most 56 bits are pending.
struct BitWriter {
  uint8_t* p;
  uint64_t acc = 0;
  uint64_t nb = 0;
  inline void put(HuffEncEntry e) noexcept { acc = (acc >> (e & 63)) | e; nb += e; }
  // Writes the whole bytes; the 8-byte store needs 8 bytes of slack after the stream. With no
  // bit pending the store writes junk that the next store or the caller's size discards.
  inline void flush() noexcept {
    const unsigned bits = static_cast<unsigned>(nb & 255);
    store_u64(p, acc >> ((64 - bits) & 63));
    p += bits >> 3;
    nb = bits & 7;
  }
  inline void finish() noexcept {
    const unsigned bits = static_cast<unsigned>(nb & 255);
    if (bits) store_u64(p, acc >> (64 - bits));  // zero bits above the last code
    p += (bits + 7) >> 3;
    nb = 0;
  }
};

// Stream s codes the contiguous blocks [s * per, min(n_blocks, (s + 1) * per)), per =
// ceil(n_blocks / 4): four independent bitstreams. They are coded two at a time, in lockstep,
// so the two dependency chains overlap and all state stays in registers (not inlined: next to
// the caller's state it would spill). Four codes go between flushes: 7 pending bits + 4 x 11
// <= 56. out[s] must hold (its symbols) * kHuffMaxBits / 8 + 16 bytes.
__attribute__((noinline)) void huff_encode_pair(const uint8_t* __restrict syms, size_t n, size_t block_size, size_t per, size_t n_blocks,
                             const HuffEncTable* const* block_tables, int s0, BitWriter& out0, BitWriter& out1) noexcept {
  BitWriter w0 = out0, w1 = out1;  // locals: the byte stores cannot alias them, so they stay in registers
  for (size_t j = 0; j < per; ++j) {
    const size_t b0 = s0 * per + j, b1 = b0 + per;
    auto span_of = [&](size_t b, const uint8_t*& src, size_t& len, const HuffEncEntry*& t) {
      const size_t start = b * block_size;
      len = b < n_blocks ? (start + block_size < n ? block_size : n - start) : 0;
      src = syms + (b < n_blocks ? start : 0);
      t = block_tables[b < n_blocks ? b : 0]->data();
    };
    const uint8_t *p0, *p1;
    size_t l0, l1;
    const HuffEncEntry *t0, *t1;
    span_of(b0, p0, l0, t0);
    span_of(b1, p1, l1, t1);
    const size_t common = l0 < l1 ? l0 : l1;
    size_t k = 0;
    for (; k + 4 <= common; k += 4) {
      w0.put(t0[p0[k]]); w1.put(t1[p1[k]]);
      w0.put(t0[p0[k + 1]]); w1.put(t1[p1[k + 1]]);
      w0.put(t0[p0[k + 2]]); w1.put(t1[p1[k + 2]]);
      w0.put(t0[p0[k + 3]]); w1.put(t1[p1[k + 3]]);
      w0.flush(); w1.flush();
    }
    for (size_t m = k; m < l0; ++m) { w0.put(t0[p0[m]]); w0.flush(); }
    for (size_t m = k; m < l1; ++m) { w1.put(t1[p1[m]]); w1.flush(); }
  }
  out0 = w0;
  out1 = w1;
}

inline void huff_encode4(const uint8_t* __restrict syms, size_t n, size_t block_size,
                         const HuffEncTable* const* block_tables, uint8_t* const out[4], size_t sizes[4]) noexcept {
  BitWriter w[4] = {{out[0]}, {out[1]}, {out[2]}, {out[3]}};
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  for (int s0 = 0; s0 < 4; s0 += 2) {
    huff_encode_pair(syms, n, block_size, per, n_blocks, block_tables, s0, w[s0], w[s0 + 1]);
  }
  for (int s = 0; s < 4; ++s) { w[s].finish(); sizes[s] = static_cast<size_t>(w[s].p - out[s]); }
}

}  // namespace
}  // namespace tenzip::detail::kernels
