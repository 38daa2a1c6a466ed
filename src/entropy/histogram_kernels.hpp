// Byte histograms (scalar: four sub-tables so that runs of equal bytes do not serialize on one
// counter) and the LZ structure detector. Compiled portable and with AVX2 (internal linkage).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>

#include <algorithm>
#endif

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

// One block's histogram into row[256] (overwritten), with the portable sub-table counts.
inline void histogram_block_scalar(const uint8_t* __restrict p, size_t len, uint32_t* __restrict row) noexcept {
  for (size_t done = 0; done < len;) {
    const size_t m = len - done < 65535 ? len - done : 65535;
    uint16_t h[4][256];
    histogram_u16x4(p + done, m, h);
    if (done == 0)
      for (int s = 0; s < 256; ++s) row[s] = uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
    else
      for (int s = 0; s < 256; ++s) row[s] += uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
    done += m;
  }
}

#if defined(__AVX2__)
// Skewed bytes (exponents) mostly fall in a few neighbouring values, and a scalar histogram
// manages about one byte per cycle (each count is a load and a store). Here the 16 values
// [w, w + 16) are counted 32 bytes at a time, with compares into per-lane byte counters (in
// two passes of eight counters: sixteen would not fit the registers), and only the bytes
// outside the window one by one: ~1.4x faster when the window holds ~98% of the bytes.
// Returns the number of bytes outside the window.
inline size_t histogram_window16(const uint8_t* __restrict p, size_t len, int w, uint32_t* __restrict row) noexcept {
  std::memset(row, 0, 256 * sizeof(uint32_t));
  const size_t nv = len & ~size_t{31};
  size_t outside = 0;
  for (int half = 0; half < 2; ++half) {
    const int base = w + 8 * half;
    const __m256i vbase = _mm256_set1_epi8(static_cast<char>(base));
    for (size_t i = 0; i < nv;) {
      __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0;
      // A lane counts at most one byte per vector: flushed before 255.
      for (const size_t end = std::min(nv, i + 255 * 32); i < end; i += 32) {
        const __m256i t = _mm256_sub_epi8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i)), vbase);
        c0 = _mm256_sub_epi8(c0, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(0)));
        c1 = _mm256_sub_epi8(c1, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(1)));
        c2 = _mm256_sub_epi8(c2, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(2)));
        c3 = _mm256_sub_epi8(c3, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(3)));
        c4 = _mm256_sub_epi8(c4, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(4)));
        c5 = _mm256_sub_epi8(c5, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(5)));
        c6 = _mm256_sub_epi8(c6, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(6)));
        c7 = _mm256_sub_epi8(c7, _mm256_cmpeq_epi8(t, _mm256_set1_epi8(7)));
        if (half == 0) {  // bytes outside [w, w + 16): t >= 16 unsigned
          const __m256i in = _mm256_cmpeq_epi8(_mm256_min_epu8(t, _mm256_set1_epi8(15)), t);
          for (uint32_t m = ~static_cast<uint32_t>(_mm256_movemask_epi8(in)); m; m &= m - 1) {
            row[p[i + static_cast<size_t>(__builtin_ctz(m))]]++;
            ++outside;
          }
        }
      }
      const __m256i c[8] = {c0, c1, c2, c3, c4, c5, c6, c7};
      for (int k = 0; k < 8; ++k) {
        const __m256i s = _mm256_sad_epu8(c[k], _mm256_setzero_si256());  // four 64-bit lane sums
        const __m128i s2 = _mm_add_epi64(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1));
        row[base + k] += static_cast<uint32_t>(_mm_cvtsi128_si64(s2) + _mm_extract_epi64(s2, 1));
      }
    }
  }
  for (size_t i = nv; i < len; ++i) row[p[i]]++;
  return outside + (len - nv);
}

// The 16-value window that holds the most of row's counts: its start (<= 240) and count.
inline uint32_t histogram_best_window16(const uint32_t* row, int& w) noexcept {
  uint32_t sum = 0;
  for (int k = 0; k < 16; ++k) sum += row[k];
  uint32_t best = sum;
  w = 0;
  for (int x = 1; x <= 240; ++x) {
    sum += row[x + 15] - row[x - 1];
    if (sum > best) { best = sum; w = x; }
  }
  return best;
}
#endif

// The histogram of each block of block_size bytes (the last may be shorter) into
// out[block][256] (overwritten), and their sum added to total[256].
inline void histogram_blocks(const uint8_t* __restrict p, size_t n, size_t block_size, uint32_t (*__restrict out)[256],
                             uint32_t* __restrict total) noexcept {
#if defined(__AVX2__)
  // Blocks of a stream share their statistics: the first block's window comes from its first
  // 256 bytes, the next blocks' from the previous block's counts, and it is kept while at most
  // 1/8 of a block's bytes fall outside. Without a window (wide alphabets) the search is
  // retried every 4 blocks.
  int w = -1, retry = 0;
#endif
  for (size_t b = 0; b * block_size < n; ++b) {
    const size_t start = b * block_size, len = n - start < block_size ? n - start : block_size;
    uint32_t* row = out[b];
#if defined(__AVX2__)
    if (b == 0 && len >= 1024) {
      uint32_t sample[256] = {};
      for (size_t i = 0; i < 256; ++i) sample[p[i]]++;
      if (histogram_best_window16(sample, w) < 256 - 256 / 8) w = -1;
    }
    const size_t outside = w >= 0 ? histogram_window16(p + start, len, w, row) : len;
    if (w < 0) histogram_block_scalar(p + start, len, row);
    if (outside > len / 8 && --retry < 0) {
      if (histogram_best_window16(row, w) < len - len / 8) w = -1;
      retry = w < 0 ? 3 : 0;
    }
#else
    histogram_block_scalar(p + start, len, row);
#endif
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
