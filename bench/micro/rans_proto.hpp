// Prototype, not the product: interleaved order-0 rANS for one byte stream, to measure
// against the Huffman coder on the bf16 exponent stream (codec_bench --rans).
//
// 32-bit states in [2^16, 2^32), 16-bit renormalisation, probabilities in 12 bits. Symbol i
// belongs to state i % 8. The encoder runs backwards and writes 16-bit words backwards, so
// that the decoder reads forwards: at each step of 8 symbols it decodes lane 0..7, then the
// lanes whose state fell below 2^16 read one word each, in lane order. The AVX2 decoder is
// that step with the 8 states in one register: a gather for the 8 slot entries, a mask of
// the lanes to refill, and a permutation (from the mask) to hand them the next words.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace rans_proto {

constexpr int kProbBits = 12;
constexpr uint32_t kProbScale = 1u << kProbBits;
constexpr uint32_t kLow = 1u << 16;

struct Model {
  uint32_t freq[256] = {}, cum[256] = {};
  // Decode table by slot: bits 0-11 freq - 1, 12-23 cum, 24-31 symbol.
  uint32_t slot[kProbScale];
};

// Frequencies normalised to sum kProbScale, every present symbol >= 1 (largest-remainder
// rounding, the excess or shortfall taken from the most frequent symbol).
inline void build_model(const uint32_t* counts, Model& m) {
  uint64_t total = 0;
  for (int s = 0; s < 256; ++s) total += counts[s];
  uint32_t sum = 0;
  int top = 0;
  for (int s = 0; s < 256; ++s) {
    m.freq[s] = counts[s] ? std::max<uint32_t>(1, static_cast<uint32_t>(counts[s] * uint64_t{kProbScale} / total)) : 0;
    sum += m.freq[s];
    if (counts[s] > counts[top]) top = s;
  }
  m.freq[top] += kProbScale - sum;  // the top symbol has room for the correction on real data
  uint32_t c = 0;
  for (int s = 0; s < 256; ++s) {
    m.cum[s] = c;
    for (uint32_t k = 0; k < m.freq[s]; ++k) m.slot[c + k] = (m.freq[s] - 1) | (c << 12) | (uint32_t(s) << 24);
    c += m.freq[s];
  }
}

// Description cost of the model as a real format would store it: the 12-bit frequencies of
// the symbol range, 12 bits each (an upper bound; a Huffman table stores 4 bits per symbol).
inline size_t model_bytes(const Model& m) {
  int lo = 0, hi = 255;
  while (lo < 255 && !m.freq[lo]) ++lo;
  while (hi > 0 && !m.freq[hi]) --hi;
  return 2 + (static_cast<size_t>(hi - lo + 1) * 12 + 7) / 8;
}

// Encodes n symbols with kLanes interleaved states; returns the bytes: the final states
// (32 bits each), then the words.
template <int kLanes>
inline std::vector<uint8_t> encode(const uint8_t* in, size_t n, const Model& m) {
  std::vector<uint16_t> words(n + 16);
  size_t w = words.size();
  uint32_t x[kLanes];
  for (auto& v : x) v = kLow;
  const size_t padded = (n + kLanes - 1) / kLanes * kLanes;
  for (size_t i = padded; i-- > 0;) {
    if (i >= n) continue;  // the padding of the last step: never decoded
    const int lane = static_cast<int>(i % kLanes);
    const uint8_t s = in[i];
    const uint32_t f = m.freq[s], c = m.cum[s];
    uint32_t v = x[lane];
    if (v >= (f << (32 - kProbBits))) { words[--w] = static_cast<uint16_t>(v); v >>= 16; }
    x[lane] = ((v / f) << kProbBits) + (v % f) + c;
  }
  std::vector<uint8_t> out(4 * kLanes + 2 * (words.size() - w));
  std::memcpy(out.data(), x, 4 * kLanes);
  std::memcpy(out.data() + 4 * kLanes, words.data() + w, 2 * (words.size() - w));
  return out;
}

// Portable decoder: kLanes states in lockstep, branch-free refills.
template <int kLanes>
inline void decode(const uint8_t* in, size_t n, const Model& m, uint8_t* out) {
  uint32_t x[kLanes];
  std::memcpy(x, in, 4 * kLanes);
  const uint8_t* p = in + 4 * kLanes;
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    for (int l = 0; l < kLanes; ++l) {
      const uint32_t e = m.slot[x[l] & (kProbScale - 1)];
      out[i + l] = static_cast<uint8_t>(e >> 24);
      x[l] = ((e & 0xFFF) + 1) * (x[l] >> kProbBits) + (x[l] & (kProbScale - 1)) - ((e >> 12) & 0xFFF);
    }
    for (int l = 0; l < kLanes; ++l) {
      const uint32_t need = x[l] < kLow;
      uint16_t word;
      std::memcpy(&word, p, 2);
      x[l] = need ? (x[l] << 16) | word : x[l];
      p += 2 * need;
    }
  }
  for (int l = 0; i < n; ++i, ++l) out[i] = static_cast<uint8_t>(m.slot[x[l] & (kProbScale - 1)] >> 24);
}

#if defined(__x86_64__)
// Lane permutations: for a refill mask, lane l takes word (number of set lanes below l).
struct RefillPerm {
  alignas(32) uint32_t idx[256][8];
  RefillPerm() {
    for (int mask = 0; mask < 256; ++mask) {
      int k = 0;
      for (int l = 0; l < 8; ++l) idx[mask][l] = (mask >> l & 1) ? k++ : 0;
    }
  }
};

// AVX2 decoder (gathers): the kLanes states in kLanes / 8 registers, each step decodes
// them all (independent gathers overlap), then refills them in lane order. Reads up to 16
// bytes past the words (the caller pads).
template <int kLanes>
__attribute__((target("avx2,bmi2,popcnt"))) inline void decode_avx2(const uint8_t* in, size_t n, const Model& m,
                                                                   uint8_t* out) {
  static const RefillPerm perm;
  constexpr int V = kLanes / 8;
  __m256i xv[V];
  for (int v = 0; v < V; ++v) xv[v] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(in + 32 * v));
  const uint8_t* p = in + 4 * kLanes;
  const __m256i mask12 = _mm256_set1_epi32(kProbScale - 1), one = _mm256_set1_epi32(1);
  const __m256i bias = _mm256_set1_epi32(static_cast<int>(0x80000000u)), low = _mm256_set1_epi32(static_cast<int>(kLow ^ 0x80000000u));
  const __m256i sym_bytes = _mm256_setr_epi8(3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                             3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
  size_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    __m256i need[V];
    for (int v = 0; v < V; ++v) {
      __m256i& x = xv[v];
      const __m256i slot = _mm256_and_si256(x, mask12);
      const __m256i e = _mm256_i32gather_epi32(reinterpret_cast<const int*>(m.slot), slot, 4);
      const __m256i syms = _mm256_shuffle_epi8(e, sym_bytes);
      const uint32_t lo4 = static_cast<uint32_t>(_mm256_cvtsi256_si32(syms));
      const uint32_t hi4 = static_cast<uint32_t>(_mm256_extract_epi32(syms, 4));
      const uint64_t eight = lo4 | (uint64_t{hi4} << 32);
      std::memcpy(out + i + 8 * v, &eight, 8);
      const __m256i freq = _mm256_add_epi32(_mm256_and_si256(e, mask12), one);
      const __m256i cum = _mm256_and_si256(_mm256_srli_epi32(e, 12), mask12);
      x = _mm256_add_epi32(_mm256_mullo_epi32(freq, _mm256_srli_epi32(x, kProbBits)), _mm256_sub_epi32(slot, cum));
      need[v] = _mm256_cmpgt_epi32(low, _mm256_xor_si256(x, bias));  // x < 2^16, unsigned
    }
    for (int v = 0; v < V; ++v) {
      const uint32_t mbits = static_cast<uint32_t>(_mm256_movemask_ps(_mm256_castsi256_ps(need[v])));
      const __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
      const __m256i mine = _mm256_permutevar8x32_epi32(words, _mm256_load_si256(reinterpret_cast<const __m256i*>(perm.idx[mbits])));
      xv[v] = _mm256_blendv_epi8(xv[v], _mm256_or_si256(_mm256_slli_epi32(xv[v], 16), mine), need[v]);
      p += 2 * __builtin_popcount(mbits);
    }
  }
  alignas(32) uint32_t xs[kLanes];
  for (int v = 0; v < V; ++v) _mm256_store_si256(reinterpret_cast<__m256i*>(xs + 8 * v), xv[v]);
  for (int l = 0; i < n; ++i, ++l) out[i] = static_cast<uint8_t>(m.slot[xs[l] & (kProbScale - 1)] >> 24);
}
#endif

}  // namespace rans_proto
