// Huffman hot loops: 4 interleaved LSB-first bitstreams, symbol j in stream j % 4, so the
// four table lookups of one step are independent and overlap in the CPU. The table may change
// every `block_size` symbols (a multiple of 4): all four streams switch together.
// Pure loops: no allocation, no errors. Compiled portable and with AVX2/BMI2 (internal linkage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "entropy/huffman.hpp"

namespace tenzip::detail::kernels {
namespace {

inline uint64_t load_u64(const uint8_t* p) noexcept { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline void store_u64(uint8_t* p, uint64_t v) noexcept { std::memcpy(p, &v, 8); }

struct BitWriter {
  uint8_t* p;
  uint64_t acc = 0;
  unsigned nb = 0;
  inline void put(HuffEncEntry e) noexcept { acc |= static_cast<uint64_t>(e.code) << nb; nb += e.len; }
  // Writes whole bytes; the 8-byte store needs 8 bytes of slack after the stream.
  // nb <= 51 when called, so the shift is < 64.
  inline void flush() noexcept { store_u64(p, acc); p += nb >> 3; acc >>= (nb & ~7u); nb &= 7; }
  inline void finish() noexcept { store_u64(p, acc); p += (nb + 7) >> 3; nb = 0; acc = 0; }
};

// Stream s codes the contiguous blocks [s * per, min(n_blocks, (s + 1) * per)), per =
// ceil(n_blocks / 4): four independent bitstreams, coded in lockstep so their table lookups
// overlap. out[s] must hold (its symbols) * kHuffMaxBits / 8 + 16 bytes.
inline void huff_encode4(const uint8_t* __restrict syms, size_t n, size_t block_size,
                         const HuffEncTable* const* block_tables, uint8_t* const out[4], size_t sizes[4]) noexcept {
  BitWriter w[4] = {{out[0]}, {out[1]}, {out[2]}, {out[3]}};
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  for (size_t j = 0; j < per; ++j) {
    const uint8_t* src[4];
    const HuffEncEntry* t[4];
    size_t len[4];
    for (int s = 0; s < 4; ++s) {
      const size_t b = s * per + j;
      const size_t start = b * block_size;
      len[s] = b < n_blocks ? (start + block_size < n ? block_size : n - start) : 0;
      src[s] = syms + (b < n_blocks ? start : 0);
      t[s] = block_tables[b < n_blocks ? b : 0]->data();
    }
    size_t common = len[0];
    for (int s = 1; s < 4; ++s) common = len[s] < common ? len[s] : common;
    size_t k = 0;
    for (; k + 4 <= common; k += 4) {  // 4 symbols x 11 bits + 7 pending < 64
      for (int g = 0; g < 4; ++g)
        for (int s = 0; s < 4; ++s) w[s].put(t[s][src[s][k + g]]);
      for (int s = 0; s < 4; ++s) w[s].flush();
    }
    for (int s = 0; s < 4; ++s)
      for (size_t m = k; m < len[s]; ++m) { w[s].put(t[s][src[s][m]]); w[s].flush(); }
  }
  for (int s = 0; s < 4; ++s) { w[s].finish(); sizes[s] = static_cast<size_t>(w[s].p - out[s]); }
}

struct BitReader {
  const uint8_t* p;
  const uint8_t* limit;  // end of readable memory (not of this stream): over-reads stay inside
  uint64_t buf = 0;
  unsigned nb = 0;       // valid bits in buf
  size_t past_end = 0;   // bytes "read" beyond `limit` as zeros (only when input is corrupt or at its very end)
  inline void refill() noexcept {
    if (__builtin_expect(limit - p >= 8, 1)) {
      buf |= load_u64(p) << nb;
      p += (63 - nb) >> 3;
      nb |= 56;
    } else {
      refill_slow();
    }
  }
  void refill_slow() noexcept {
    const size_t avail = static_cast<size_t>(limit - p);
    uint64_t v = 0;
    std::memcpy(&v, p, avail < 8 ? avail : 8);
    buf |= v << nb;
    size_t adv = (63 - nb) >> 3;
    if (adv > avail) { past_end += adv - avail; adv = avail; }
    p += adv;
    nb |= 56;
  }
  // One lookup: up to two symbols (see HuffDecTable). Writes 2 bytes, returns how many count.
  inline unsigned decode2(const uint32_t* t, uint64_t mask, uint8_t* dst) noexcept {
    const uint32_t e = t[buf & mask];
    const unsigned len = (e >> 16) & 0xff;
    buf >>= len;
    nb -= len;
    const uint16_t two = static_cast<uint16_t>(e);
    std::memcpy(dst, &two, 2);
    return e >> 28;
  }
  // One symbol only (near the end of a block, where a second byte must not be written).
  inline void decode1(const uint32_t* t, uint64_t mask, uint8_t* dst) noexcept {
    const uint32_t e = t[buf & mask];
    const unsigned len = (e >> 24) & 0xf;
    buf >>= len;
    nb -= len;
    *dst = static_cast<uint8_t>(e);
  }
  // Bits consumed from `start`.
  uint64_t consumed(const uint8_t* start) const noexcept {
    return static_cast<uint64_t>(p - start + past_end) * 8 - nb;
  }
};

struct StreamCursor {
  uint8_t* out;        // next output byte
  uint8_t* block_end;  // end of the current block's output
  size_t block;        // current block index
  size_t last_block;   // one past this stream's last block
  const uint32_t* t;
  uint64_t mask;
  unsigned k;          // lookups per refill for this table
};

// Decodes n symbols. stream[s] starts bitstream s; `limit` is the end of readable memory.
// consumed[s] receives the bits read from each stream (the caller checks them).
// The four streams run in lockstep while every one of them is at least 2 * 8 lookups away
// from its block end; near block ends each stream finishes alone, one symbol at a time.
inline void huff_decode4(const uint8_t* const stream[4], const uint8_t* limit, size_t n, size_t block_size,
                         const HuffDecTable* const* block_tables, uint8_t* __restrict dst, uint64_t consumed[4]) noexcept {
  BitReader r[4] = {{stream[0], limit}, {stream[1], limit}, {stream[2], limit}, {stream[3], limit}};
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  StreamCursor c[4];
  auto enter_block = [&](StreamCursor& cur, size_t b) {
    cur.block = b;
    if (b >= cur.last_block) { cur.out = cur.block_end = nullptr; return; }
    const size_t start = b * block_size;
    cur.out = dst + start;
    cur.block_end = dst + (start + block_size < n ? start + block_size : n);
    const HuffDecTable& tab = *block_tables[b];
    cur.t = tab.entry.data();
    cur.mask = (uint64_t{1} << tab.bits) - 1;
    cur.k = tab.bits == 0 ? 8 : (56 / tab.bits < 8 ? 56 / tab.bits : 8);
  };
  for (int s = 0; s < 4; ++s) {
    const size_t first = s * per < n_blocks ? s * per : n_blocks;
    c[s].last_block = (s + 1) * per < n_blocks ? (s + 1) * per : n_blocks;
    enter_block(c[s], first);
  }
  constexpr size_t kSlack = 2 * 8;  // bytes one lockstep round may write per stream, at most
  for (;;) {
    // Lockstep rounds: K lookups per stream per refill, K fixed by the coarsest table.
    for (;;) {
      bool ok = true;
      unsigned k = 8;
      for (int s = 0; s < 4; ++s) {
        ok &= c[s].out != nullptr && static_cast<size_t>(c[s].block_end - c[s].out) >= kSlack;
        if (c[s].out) k = c[s].k < k ? c[s].k : k;
      }
      if (!ok) break;
      for (int s = 0; s < 4; ++s) r[s].refill();
      for (unsigned i = 0; i < k; ++i)
        for (int s = 0; s < 4; ++s) c[s].out += r[s].decode2(c[s].t, c[s].mask, c[s].out);
    }
    // Finish alone the blocks close to their end, or every block once a stream has run out.
    bool any = false, all_active = true;
    for (int s = 0; s < 4; ++s) all_active &= c[s].out != nullptr;
    for (int s = 0; s < 4; ++s) {
      StreamCursor& cur = c[s];
      if (!cur.out) continue;
      any = true;
      if (all_active && static_cast<size_t>(cur.block_end - cur.out) >= kSlack) continue;
      while (cur.out < cur.block_end) {
        r[s].refill();
        for (unsigned i = 0; i < cur.k && cur.block_end - cur.out >= 2; ++i) cur.out += r[s].decode2(cur.t, cur.mask, cur.out);
        if (cur.block_end - cur.out == 1) { r[s].refill(); r[s].decode1(cur.t, cur.mask, cur.out); ++cur.out; }
      }
      enter_block(cur, cur.block + 1);
    }
    if (!any) break;
  }
  for (int s = 0; s < 4; ++s) consumed[s] = r[s].consumed(stream[s]);
}

}  // namespace
}  // namespace tenzip::detail::kernels
