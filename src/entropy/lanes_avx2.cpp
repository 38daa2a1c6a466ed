// The LANES decoder for AVX2 (lanes.hpp), for CPUs without AVX-512: lanes as 32-bit words,
// eight per register, four registers per group. A lookup is one gather from a 256-entry table
// (symbol, length, escape bit in one word); a refill loads the next 8 bytes of the group's
// stream and spreads them to the lanes that need one by a permutation picked by their mask.
#include "entropy/lanes.hpp"
#include "util/cpu.hpp"

#if defined(__x86_64__) && defined(__AVX2__)
#include <immintrin.h>

#include <array>
#include <cstring>

namespace tenzip::detail {

namespace {

// For a mask m of lanes that take a byte, lane i's index into the 8 loaded bytes: its rank
// among the set bits of m (lanes not in m get 0; their byte is masked off).
struct SpreadTable {
  alignas(32) std::array<std::array<int32_t, 8>, 256> idx;
  SpreadTable() {
    for (int m = 0; m < 256; ++m) {
      int k = 0;
      for (int i = 0; i < 8; ++i) idx[m][i] = (m >> i) & 1 ? k++ : 0;
    }
  }
};
const SpreadTable kSpread;

constexpr int kVecs = kLanesPerGroup / 8;  // registers per group

bool decode(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables, uint8_t* out,
            Prefetcher& warm) noexcept {
  alignas(32) uint32_t table[256];
  __m256i buf[kLaneGroups][kVecs], unread[kLaneGroups][kVecs];
  const uint8_t* p[kLaneGroups];
  for (int g = 0; g < kLaneGroups; ++g) {
    if (in.group_end[g] - in.group[g] < 2 * kLanesPerGroup) return false;
    for (int v = 0; v < kVecs; ++v) {  // lane j: its first two bytes, little-endian
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(in.group[g] + 16 * v));
      buf[g][v] = _mm256_cvtepu16_epi32(w);
      unread[g][v] = _mm256_set1_epi32(16);
    }
    p[g] = in.group[g] + 2 * kLanesPerGroup;
  }
  const uint8_t* e = in.escapes;
  const __m256i low8 = _mm256_set1_epi32(0xFF), len_bits = _mm256_set1_epi32(15), eight = _mm256_set1_epi32(8);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  warm.plan(steps);
  for (size_t t = 0; t < steps; ++t) {
    warm.step();
    if (t % kLaneBlockSteps == 0) {
      const LaneDecTable& T = *block_tables[t / kLaneBlockSteps];
      for (int x = 0; x < 256; ++x) table[x] = T.sym[x] | uint32_t{T.len[x]} << 8;
    }
    const bool refill = t + 1 < steps;
    for (int g = 0; g < kLaneGroups; ++g) {
      __m256i sym[kVecs];
      for (int v = 0; v < kVecs; ++v) {
        const __m256i entry =
            _mm256_i32gather_epi32(reinterpret_cast<const int*>(table), _mm256_and_si256(buf[g][v], low8), 4);
        sym[v] = _mm256_and_si256(entry, low8);
        // Escapes (bit 15 of the entry; rare: a branch) take bytes of the escape stream in lane order.
        if (const int esc = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_slli_epi32(entry, 16)))) {
          const int c = __builtin_popcount(static_cast<unsigned>(esc));
          if (c > in.escapes_end - e) return false;
          alignas(32) uint32_t s[8];
          _mm256_store_si256(reinterpret_cast<__m256i*>(s), sym[v]);
          for (int m = esc; m; m &= m - 1) s[__builtin_ctz(static_cast<unsigned>(m))] = *e++;
          sym[v] = _mm256_load_si256(reinterpret_cast<const __m256i*>(s));
        }
        const __m256i len = _mm256_and_si256(_mm256_srli_epi32(entry, 8), len_bits);
        buf[g][v] = _mm256_srlv_epi32(buf[g][v], len);
        unread[g][v] = _mm256_sub_epi32(unread[g][v], len);
      }
      // 4 x 8 words -> 32 bytes in lane order.
      const __m256i w01 = _mm256_packus_epi32(sym[0], sym[1]), w23 = _mm256_packus_epi32(sym[2], sym[3]);
      const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packus_epi16(w01, w23), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + t * kLaneStep + g * kLanesPerGroup), b);
      if (!refill) continue;
      for (int v = 0; v < kVecs; ++v) {
        const __m256i need = _mm256_cmpgt_epi32(eight, unread[g][v]);
        const int m = _mm256_movemask_ps(_mm256_castsi256_ps(need));
        if (!m) continue;
        const int c = __builtin_popcount(static_cast<unsigned>(m));
        const ptrdiff_t left = in.group_end[g] - p[g];
        if (c > left) return false;
        uint64_t next8;
        if (left >= 8) {
          std::memcpy(&next8, p[g], 8);
        } else {
          next8 = 0;
          std::memcpy(&next8, p[g], static_cast<size_t>(left));
        }
        p[g] += c;
        const __m256i bytes = _mm256_cvtepu8_epi32(_mm_cvtsi64_si128(static_cast<long long>(next8)));
        const __m256i spread = _mm256_and_si256(
            _mm256_permutevar8x32_epi32(bytes, _mm256_load_si256(reinterpret_cast<const __m256i*>(kSpread.idx[m].data()))),
            need);
        buf[g][v] = _mm256_or_si256(buf[g][v], _mm256_sllv_epi32(spread, unread[g][v]));
        unread[g][v] = _mm256_add_epi32(unread[g][v], _mm256_and_si256(need, eight));
      }
    }
  }
  for (int g = 0; g < kLaneGroups; ++g)
    if (p[g] != in.group_end[g]) return false;
  return e == in.escapes_end;
}

}  // namespace

LanesDecodeFn lanes_decode_avx2() noexcept { return cpu_has_avx2() ? decode : nullptr; }

}  // namespace tenzip::detail

#else

namespace tenzip::detail {
LanesDecodeFn lanes_decode_avx2() noexcept { return nullptr; }
}  // namespace tenzip::detail

#endif
