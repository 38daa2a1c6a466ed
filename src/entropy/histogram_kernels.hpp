// Byte histogram: four sub-tables so that runs of equal bytes do not serialize on one counter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "entropy/huffman_dispatch.hpp"

namespace tenzip::detail::kernels {
namespace {

// Counts n bytes (n <= 65535) into four 16-bit sub-tables h[4][256], cleared first.
inline void histogram_u16x4(const uint8_t* __restrict p, size_t n, uint16_t (*__restrict h)[256]) noexcept {
  std::memset(h, 0, 4 * 256 * sizeof(uint16_t));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h[0][v & 0xff]++; h[1][(v >> 8) & 0xff]++; h[2][(v >> 16) & 0xff]++; h[3][(v >> 24) & 0xff]++;
    h[0][(v >> 32) & 0xff]++; h[1][(v >> 40) & 0xff]++; h[2][(v >> 48) & 0xff]++; h[3][v >> 56]++;
  }
  for (; i < n; ++i) h[0][p[i]]++;
}

// Adds the counts of n bytes to counts[256]. Blocks of up to 65535 bytes count into 16-bit
// sub-tables (half the memory to clear and sum); longer inputs are taken in such blocks.
inline void histogram_add(const uint8_t* __restrict p, size_t n, uint32_t* __restrict counts) noexcept {
  while (n > 0) {
    const size_t m = n < 65535 ? n : 65535;
    uint16_t h[4][256];
    histogram_u16x4(p, m, h);
    for (int s = 0; s < 256; ++s) counts[s] += uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
    p += m;
    n -= m;
  }
}

// The histogram of each block of block_size bytes (the last may be shorter) into
// out[block][256] (overwritten), and their sum added to total[256]: one pass, the sub-table
// sums stored straight into the block's row.
inline void histogram_blocks(const uint8_t* __restrict p, size_t n, size_t block_size, uint32_t (*__restrict out)[256],
                             uint32_t* __restrict total) noexcept {
  for (size_t b = 0; b * block_size < n; ++b) {
    const size_t start = b * block_size, len = n - start < block_size ? n - start : block_size;
    uint32_t* row = out[b];
    for (size_t done = 0; done < len;) {
      const size_t m = len - done < 65535 ? len - done : 65535;
      uint16_t h[4][256];
      histogram_u16x4(p + start + done, m, h);
      if (done == 0)
        for (int s = 0; s < 256; ++s) row[s] = uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
      else
        for (int s = 0; s < 256; ++s) row[s] += uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
      done += m;
    }
    for (int s = 0; s < 256; ++s) total[s] += row[s];
  }
}

// LZ structure detector, a cheap stand-in for a zstd trial: every aligned 8-byte word of
// p[0, n) enters a 4096-entry table (the last word index per hash); every fourth word is
// looked up there and counts in hits8 if that word equals it, and in hits16 if the words
// after both are equal too. Runs and repeats at distances that are multiples of 8 bytes
// (repeated rows, broadcast tensors) score high; for random bytes a hit is a 2^-64 event, and
// for skewed exponent bytes hits16 stays near zero. Branch-free (hits are unpredictable); an
// empty slot reads as word 0, an earlier word too. n / 8 < 65536.
inline RepeatHits repeat_hits(const uint8_t* __restrict p, size_t n) noexcept {
  constexpr int kLog = 12;
  uint16_t last[1u << kLog];  // word index
  std::memset(last, 0, sizeof(last));
  const size_t words = n / 8;
  auto word = [p](size_t j) { uint64_t v; std::memcpy(&v, p + 8 * j, 8); return v; };
  auto slot = [](uint64_t w) { return static_cast<uint32_t>((w * 0x9E3779B97F4A7C15ull) >> (64 - kLog)); };
  RepeatHits r{0, 0, 0};
  if (words < 9) return r;
  for (size_t j = 1; j < 4; ++j) last[slot(word(j))] = static_cast<uint16_t>(j);
  for (size_t j = 4; j + 5 <= words; j += 4) {
    const uint64_t w = word(j);
    const uint32_t h = slot(w);
    const size_t c = last[h];
    const uint32_t m8 = word(c) == w;
    r.hits8 += m8;
    r.hits16 += m8 & (word(c + 1) == word(j + 1));
    ++r.queries;
    last[h] = static_cast<uint16_t>(j);
    last[slot(word(j + 1))] = static_cast<uint16_t>(j + 1);
    last[slot(word(j + 2))] = static_cast<uint16_t>(j + 2);
    last[slot(word(j + 3))] = static_cast<uint16_t>(j + 3);
  }
  return r;
}

}  // namespace
}  // namespace tenzip::detail::kernels
