// Prototype, not the product: could the exponent Huffman decode go faster with more
// independent bitstreams than the format's four? (codec_bench --lanes)
//
// The codec decodes the four bitstreams of a HUFF section in lockstep, one 9-bit
// multi-symbol lookup per stream per step (huffman_decode_kernels.hpp). Each stream is a
// serial chain (index, table load, shift: ~7 cycles), so more streams could overlap more.
// Two ways to get more streams (both would need a format change), on the same symbols:
//  - scalar lockstep over N = 4, 6, 8 streams, in the codec's step form (sentinel bit
//    buffer, multi-symbol entries, stores of four symbol bytes);
//  - AVX-512 over G groups of 16 streams: one symbol per stream per step from a single-symbol
//    table by gather (a fixed output stride, so 16 steps x 16 streams are transposed to rows
//    instead of scattered), two steps per refill (a gathered 32-bit word holds >= 25 bits).
// Every stream codes a contiguous 1/N of a segment with the segment's one code (<= 9 bits);
// table builds and block switches are left out (loop speed only). This prototype's 4-stream
// loop runs at about 0.65x the codec's decoder (measured side by side by --lanes; the cause
// was not found), so compare stream counts within the prototype, and the gather decoder
// with both.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include "entropy/huffman.hpp"

namespace lanes_proto {

using tenzip::detail::HuffDecTable;
using tenzip::detail::HuffEncTable;

inline uint64_t load64(const uint8_t* p) noexcept {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// N bitstreams (LSB-first, the product's bit order), stream s coding symbols
// [s * per, (s + 1) * per) of syms. Each stream is followed by 16 zero bytes (over-reads).
struct Coded {
  std::vector<uint8_t> bytes;
  std::vector<size_t> start;
  size_t per = 0;
};

inline Coded encode(const uint8_t* syms, size_t n, int lanes, const HuffEncTable& enc) {
  Coded c;
  c.per = n / static_cast<size_t>(lanes);
  for (int s = 0; s < lanes; ++s) {
    c.start.push_back(c.bytes.size());
    uint64_t acc = 0;
    int nb = 0;
    for (size_t i = s * c.per; i < (s + 1) * c.per; ++i) {
      const uint64_t e = enc[syms[i]];
      const int len = static_cast<int>(e & 255);
      acc |= ((e >> (63 - len)) & ((uint64_t{1} << len) - 1)) << nb;  // the reversed code
      nb += len;
      for (; nb >= 8; nb -= 8, acc >>= 8) c.bytes.push_back(static_cast<uint8_t>(acc));
    }
    c.bytes.push_back(static_cast<uint8_t>(acc));
    c.bytes.insert(c.bytes.end(), 16, 0);
  }
  return c;
}

// Scalar lockstep over N streams: rounds of 6 lookups per stream while every stream has room,
// then each stream's tail one symbol per lookup (the first symbol of a multi entry).
template <int N>
__attribute__((target("bmi2,lzcnt"))) void decode_lockstep(const Coded& c, const HuffDecTable& t, uint8_t* out) {
  constexpr int K = 6;
  constexpr uint64_t kSentinel = uint64_t{1} << 63;
  const uint64_t* T = t.multi.data();
  const uint8_t* p[N];
  uint8_t* o[N];
  uint64_t b[N];
  for (int s = 0; s < N; ++s) {
    p[s] = c.bytes.data() + c.start[s];
    o[s] = out + s * c.per;
    b[s] = load64(p[s]) | kSentinel;
  }
  // A round emits at most 4K symbols per stream: rounds are counted from the output room
  // left, again and again (streams emit ~2 symbols per lookup, not 4).
  auto safe_rounds = [&] {
    size_t r = SIZE_MAX;
    for (int s = 0; s < N; ++s) {
      const size_t left = static_cast<size_t>(out + (s + 1) * c.per - o[s]);
      r = std::min(r, left < 4 * K + 4 ? 0 : (left - 4 * K - 4) / (4 * K) + 1);
    }
    return r;
  };
  for (size_t rounds; (rounds = safe_rounds()) != 0;)
  for (size_t r = 0; r < rounds; ++r) {
#pragma GCC unroll 8
    for (int s = 0; s < N; ++s) {
      const uint64_t used = static_cast<uint64_t>(__builtin_clzll(b[s]));
      p[s] += used >> 3;
      b[s] = (load64(p[s]) | kSentinel) >> (used & 7);
    }
#pragma GCC unroll 6
    for (int i = 0; i < K; ++i) {
#pragma GCC unroll 8
      for (int s = 0; s < N; ++s) {
        const uint64_t e = T[_bzhi_u64(b[s], tenzip::detail::kHuffMultiBits)];
        b[s] >>= e & 63;
        const uint32_t syms = static_cast<uint32_t>(e >> 8);
        std::memcpy(o[s], &syms, 4);
        o[s] += e >> 56;
      }
    }
  }
  for (int s = 0; s < N; ++s) {
    uint8_t* const end = out + (s + 1) * c.per;
    const uint64_t used = static_cast<uint64_t>(__builtin_clzll(b[s]));
    const uint8_t* q = p[s] + (used >> 3);
    uint64_t bit = used & 7;
    while (o[s] < end) {
      const uint8_t* e = reinterpret_cast<const uint8_t*>(T + ((load64(q) >> bit) & 511));
      *o[s]++ = e[1];
      bit += e[5] & 15u;
      q += bit >> 3;
      bit &= 7;
    }
  }
}

#if defined(__x86_64__)
// GCC 12 warns about the undefined source operand inside its own AVX-512 intrinsics.
#pragma GCC diagnostic push
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Four rounds of interleaves (bytes, words, dwords, qwords) of 16 rows of 16 bytes: each
// output register then holds one column, in some order of registers and bytes.
__attribute__((target("avx512f,avx512bw"))) inline void unpack_rounds(__m128i* r) {
  for (int w = 1; w < 16; w *= 2) {
    __m128i t[16];
    for (int k = 0; k < 8; ++k) {
      const int a = (k / w) * 2 * w + (k % w), b = a + w;
      switch (w) {
        case 1: t[2 * k] = _mm_unpacklo_epi8(r[a], r[b]); t[2 * k + 1] = _mm_unpackhi_epi8(r[a], r[b]); break;
        case 2: t[2 * k] = _mm_unpacklo_epi16(r[a], r[b]); t[2 * k + 1] = _mm_unpackhi_epi16(r[a], r[b]); break;
        case 4: t[2 * k] = _mm_unpacklo_epi32(r[a], r[b]); t[2 * k + 1] = _mm_unpackhi_epi32(r[a], r[b]); break;
        default: t[2 * k] = _mm_unpacklo_epi64(r[a], r[b]); t[2 * k + 1] = _mm_unpackhi_epi64(r[a], r[b]); break;
      }
    }
    std::copy(t, t + 16, r);
  }
}

// Where the rounds put things, found once by running them on the index matrix (byte 16k + l
// = step k of stream l): output register j holds stream column[j], its steps in the order
// that order[j] (a byte shuffle) restores.
struct TransposeMap {
  int column[16];
  alignas(16) uint8_t order[16][16];
};
__attribute__((target("avx512f,avx512bw"))) inline const TransposeMap& transpose_map() {
  static const TransposeMap m = [] {
    TransposeMap t{};
    alignas(16) uint8_t rows[16][16];
    for (int k = 0; k < 16; ++k)
      for (int l = 0; l < 16; ++l) rows[k][l] = static_cast<uint8_t>(16 * k + l);
    __m128i r[16];
    for (int k = 0; k < 16; ++k) r[k] = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[k]));
    unpack_rounds(r);
    for (int j = 0; j < 16; ++j) {
      alignas(16) uint8_t v[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(v), r[j]);
      t.column[j] = v[0] & 15;
      for (int i = 0; i < 16; ++i) t.order[j][v[i] >> 4] = static_cast<uint8_t>(i);
    }
    return t;
  }();
  return m;
}

// 16 x 16 bytes: rows[k] (16 streams' symbol of step k) -> stream l's 16 symbols at dst[l].
__attribute__((target("avx512f,avx512bw"))) inline void transpose16(const uint8_t (*rows)[16], uint8_t* const* dst,
                                                                       const TransposeMap& m) {
  __m128i r[16];
  for (int k = 0; k < 16; ++k) r[k] = _mm_load_si128(reinterpret_cast<const __m128i*>(rows[k]));
  unpack_rounds(r);
  for (int j = 0; j < 16; ++j)
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst[m.column[j]]),
                     _mm_shuffle_epi8(r[j], _mm_load_si128(reinterpret_cast<const __m128i*>(m.order[j]))));
}

// G groups of 16 streams (16 * G = c.start.size()); single[v] = code length | symbol << 8 for
// the 9-bit value v. Symbols per stream (c.per) must be a multiple of 16.
template <int G>
__attribute__((target("avx512f,avx512bw"))) void decode_gather(const Coded& c, const uint32_t* single, uint8_t* out) {
  __m512i pos[G], bp[G];
  for (int g = 0; g < G; ++g) {
    alignas(64) uint32_t st[16];
    for (int l = 0; l < 16; ++l) st[l] = static_cast<uint32_t>(c.start[16 * g + l]);
    pos[g] = _mm512_load_si512(st);
    bp[g] = _mm512_setzero_si512();
  }
  const __m512i mask = _mm512_set1_epi32(511), m15 = _mm512_set1_epi32(15), m7 = _mm512_set1_epi32(7);
  alignas(64) uint8_t rows[G][16][16];
  const TransposeMap& map = transpose_map();
  for (size_t i = 0; i < c.per; i += 16) {
    for (int k = 0; k < 16; k += 2)
      for (int g = 0; g < G; ++g) {
        __m512i w = _mm512_srlv_epi32(_mm512_i32gather_epi32(pos[g], c.bytes.data(), 1), bp[g]);
        const __m512i e1 = _mm512_i32gather_epi32(_mm512_and_si512(w, mask), single, 4);
        const __m512i l1 = _mm512_and_si512(e1, m15);
        w = _mm512_srlv_epi32(w, l1);
        const __m512i e2 = _mm512_i32gather_epi32(_mm512_and_si512(w, mask), single, 4);
        const __m512i tot = _mm512_add_epi32(_mm512_add_epi32(bp[g], l1), _mm512_and_si512(e2, m15));
        pos[g] = _mm512_add_epi32(pos[g], _mm512_srli_epi32(tot, 3));
        bp[g] = _mm512_and_si512(tot, m7);
        _mm_store_si128(reinterpret_cast<__m128i*>(rows[g][k]), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e1, 8)));
        _mm_store_si128(reinterpret_cast<__m128i*>(rows[g][k + 1]), _mm512_cvtepi32_epi8(_mm512_srli_epi32(e2, 8)));
      }
    for (int g = 0; g < G; ++g) {
      uint8_t* dst[16];
      for (int l = 0; l < 16; ++l) dst[l] = out + (16 * g + l) * c.per + i;
      transpose16(rows[g], dst, map);
    }
  }
}
#pragma GCC diagnostic pop
#endif

}  // namespace lanes_proto
