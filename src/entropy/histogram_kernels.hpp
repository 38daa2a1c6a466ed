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
// One carry-save adder over bit-planes: (high, low) = the two-bit sum of a + b + c, bitwise.
inline void csa(__m256i& high, __m256i& low, __m256i a, __m256i b, __m256i c) noexcept {
  const __m256i u = _mm256_xor_si256(a, b);
  high = _mm256_or_si256(_mm256_and_si256(a, b), _mm256_and_si256(u, c));
  low = _mm256_xor_si256(u, c);
}

// Bit-sliced counters of one-hot bytes (Harley-Seal): bit k of every byte of the inputs adds
// to count k, 16 vectors at a time through a tree of carry-save adders; only the 16s leave
// the vector unit, as 8 popcounts. ones..eights hold what is not yet a multiple of 16.
struct OneHotCounts {
  __m256i ones = _mm256_setzero_si256(), twos = ones, fours = ones, eights = ones;
  uint64_t sixteens[8] = {};
  // Adds 16 vectors, taken in pairs from next() (which returns them one at a time), so that
  // only a few are live at once.
  template <class Next>
  void add16(Next&& next) noexcept {
    __m256i twos_a, twos_b, fours_a, fours_b, eights_a, eights_b, sixteen;
    auto pair = [&](__m256i& carry) { const __m256i a = next(); csa(carry, ones, ones, a, next()); };
    auto fours_of_4 = [&](__m256i& carry) { pair(twos_a); pair(twos_b); csa(carry, twos, twos, twos_a, twos_b); };
    fours_of_4(fours_a);
    fours_of_4(fours_b);
    csa(eights_a, fours, fours, fours_a, fours_b);
    fours_of_4(fours_a);
    fours_of_4(fours_b);
    csa(eights_b, fours, fours, fours_a, fours_b);
    csa(sixteen, eights, eights, eights_a, eights_b);
    add_plane(sixteens, sixteen);
  }
  // counts[k] += the number of bytes of v with bit k set (movemask reads bit 7 of each byte).
  static void add_plane(uint64_t* counts, __m256i v) noexcept {
    for (int k = 0; k < 8; ++k)
      counts[k] += static_cast<uint64_t>(
          __builtin_popcount(static_cast<uint32_t>(_mm256_movemask_epi8(_mm256_slli_epi16(v, 7 - k)))));
  }
  void total(uint32_t* out) const noexcept {
    uint64_t o[8] = {}, t[8] = {}, f[8] = {}, e[8] = {};
    add_plane(o, ones);
    add_plane(t, twos);
    add_plane(f, fours);
    add_plane(e, eights);
    for (int k = 0; k < 8; ++k) out[k] = static_cast<uint32_t>(16 * sixteens[k] + 8 * e[k] + 4 * f[k] + 2 * t[k] + o[k]);
  }
};

// Skewed bytes (exponents) mostly fall in a few neighbouring values, and a scalar histogram
// manages about one byte per cycle (each count is a load and a store). Here each byte in the
// 16 values [w, w + 16) becomes one set bit (a byte lookup into two 8-value halves), and the
// bits are counted by carry-save adders, ~20 vector operations per 32 bytes; only the bytes
// outside the window are counted one by one. Returns the number of bytes outside the window.
inline size_t histogram_window16(const uint8_t* __restrict p, size_t len, int w, uint32_t* __restrict row) noexcept {
  std::memset(row, 0, 256 * sizeof(uint32_t));
  const __m256i vbase = _mm256_set1_epi8(static_cast<char>(w));
  // x - w + 0x70 (saturating) keeps the offset in the low nibble for the window's bytes and
  // sets bit 7, which makes the lookup return 0, for all others.
  const __m256i bias = _mm256_set1_epi8(0x70);
  const __m256i lo_bit = _mm256_setr_epi8(1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0,  //
                                          1, 2, 4, 8, 16, 32, 64, -128, 0, 0, 0, 0, 0, 0, 0, 0);
  const __m256i hi_bit = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, -128,  //
                                          0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, -128);
  OneHotCounts lo, hi;
  size_t outside = 0;
  const size_t ng = len & ~size_t{511};  // groups of 16 vectors
  for (size_t i = 0; i < ng; i += 512) {
    // The low and high halves are counted in two passes over the group (one set of carry-save
    // registers each; the group's 512 bytes stay in L1). The first pass also lists, without a
    // branch, the vectors with bytes outside the window; those bytes are counted after the
    // group, which keeps the rare, unpredictable branch out of the vector loop.
    uint32_t listed[16], masks[16];
    size_t n_listed = 0;
    for (int half = 0; half < 2; ++half) {
      const __m256i bits = half == 0 ? lo_bit : hi_bit;
      size_t at = i;
      (half == 0 ? lo : hi).add16([&] {
        const __m256i x = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + at));
        const __m256i u = _mm256_adds_epu8(_mm256_sub_epi8(x, vbase), bias);
        if (half == 0) {
          const uint32_t m = static_cast<uint32_t>(_mm256_movemask_epi8(u));
          listed[n_listed] = static_cast<uint32_t>(at);
          masks[n_listed] = m;
          n_listed += m != 0;
        }
        at += 32;
        return _mm256_shuffle_epi8(bits, u);
      });
    }
    for (size_t k = 0; k < n_listed; ++k)
      for (uint32_t m = masks[k]; m; m &= m - 1) {
        row[p[listed[k] + static_cast<uint32_t>(__builtin_ctz(m))]]++;
        ++outside;
      }
  }
  uint32_t counts[16];
  lo.total(counts);
  hi.total(counts + 8);
  for (int k = 0; k < 16; ++k) row[w + k] += counts[k];
  for (size_t i = ng; i < len; ++i) {
    const uint8_t b = p[i];
    row[b]++;
    outside += static_cast<unsigned>(b - w) >= 16u;
  }
  return outside;
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
  // 1/32 of a block's bytes fall outside (each costs a scalar count; a window is used while it
  // holds 7/8 of them). Without a window (wide alphabets) the search is retried every 4 blocks.
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
    if (outside > len / 32 && --retry < 0) {
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
