// AVX2 split/merge: rotate, then a byte transpose with in-lane shuffles and 64-bit unpacks.
// The tails (fewer than a full vector group) use the portable loops.
#include "split/split.hpp"
#include "split/split_kernels.hpp"

#if defined(__x86_64__)
#include <immintrin.h>

namespace tenzip::detail {
namespace {

inline __m256i load(const uint8_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline void store(uint8_t* p, __m256i v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }

void split16_avx2(const uint8_t* src, size_t n, uint8_t* hi, uint8_t* lo) {
  const __m256i low_byte = _mm256_set1_epi16(0x00FF);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i a = load(src + 2 * i), b = load(src + 2 * i + 32);
    a = _mm256_or_si256(_mm256_slli_epi16(a, 1), _mm256_srli_epi16(a, 15));
    b = _mm256_or_si256(_mm256_slli_epi16(b, 1), _mm256_srli_epi16(b, 15));
    const __m256i l = _mm256_packus_epi16(_mm256_and_si256(a, low_byte), _mm256_and_si256(b, low_byte));
    const __m256i h = _mm256_packus_epi16(_mm256_srli_epi16(a, 8), _mm256_srli_epi16(b, 8));
    store(lo + i, _mm256_permute4x64_epi64(l, 0xD8));
    store(hi + i, _mm256_permute4x64_epi64(h, 0xD8));
  }
  kernels::split16(src + 2 * i, n - i, hi + i, lo + i);
}

void merge16_avx2(const uint8_t* hi, const uint8_t* lo, size_t n, uint8_t* dst) {
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i h = load(hi + i), l = load(lo + i);
    const __m256i ul = _mm256_unpacklo_epi8(l, h), uh = _mm256_unpackhi_epi8(l, h);
    __m256i a = _mm256_permute2x128_si256(ul, uh, 0x20), b = _mm256_permute2x128_si256(ul, uh, 0x31);
    a = _mm256_or_si256(_mm256_srli_epi16(a, 1), _mm256_slli_epi16(a, 15));
    b = _mm256_or_si256(_mm256_srli_epi16(b, 1), _mm256_slli_epi16(b, 15));
    store(dst + 2 * i, a);
    store(dst + 2 * i + 32, b);
  }
  kernels::merge16(hi + i, lo + i, n - i, dst + 2 * i);
}

// Within each 128-bit lane: 4 elements x 4 bytes -> 4 bytes x 4 elements (its own inverse).
inline __m256i transpose_4x4_bytes() {
  return _mm256_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15,
                          0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
}

void split32_avx2(const uint8_t* src, size_t n, uint8_t* s3, uint8_t* s2, uint8_t* s1, uint8_t* s0) {
  const __m256i shuf = transpose_4x4_bytes();
  const __m256i gather = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    __m256i v[4];
    for (int k = 0; k < 4; ++k) {
      __m256i x = load(src + 4 * i + 32 * k);
      x = _mm256_or_si256(_mm256_slli_epi32(x, 1), _mm256_srli_epi32(x, 31));
      // -> [byte0 x8 | byte1 x8 | byte2 x8 | byte3 x8] as four 64-bit groups
      v[k] = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(x, shuf), gather);
    }
    const __m256i t0 = _mm256_unpacklo_epi64(v[0], v[1]), t1 = _mm256_unpackhi_epi64(v[0], v[1]);
    const __m256i t2 = _mm256_unpacklo_epi64(v[2], v[3]), t3 = _mm256_unpackhi_epi64(v[2], v[3]);
    store(s0 + i, _mm256_permute2x128_si256(t0, t2, 0x20));  // byte 0 (sign + low mantissa)
    store(s2 + i, _mm256_permute2x128_si256(t0, t2, 0x31));  // byte 2
    store(s1 + i, _mm256_permute2x128_si256(t1, t3, 0x20));  // byte 1
    store(s3 + i, _mm256_permute2x128_si256(t1, t3, 0x31));  // byte 3 (exponent)
  }
  kernels::split32(src + 4 * i, n - i, s3 + i, s2 + i, s1 + i, s0 + i);
}

void merge32_avx2(const uint8_t* s3, const uint8_t* s2, const uint8_t* s1, const uint8_t* s0, size_t n, uint8_t* dst) {
  const __m256i shuf = transpose_4x4_bytes();
  const __m256i scatter = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);  // inverse of split's gather
  size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m256i b0 = load(s0 + i), b1 = load(s1 + i), b2 = load(s2 + i), b3 = load(s3 + i);
    const __m256i t0 = _mm256_permute2x128_si256(b0, b2, 0x20), t2 = _mm256_permute2x128_si256(b0, b2, 0x31);
    const __m256i t1 = _mm256_permute2x128_si256(b1, b3, 0x20), t3 = _mm256_permute2x128_si256(b1, b3, 0x31);
    const __m256i v[4] = {_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1),
                          _mm256_unpacklo_epi64(t2, t3), _mm256_unpackhi_epi64(t2, t3)};
    for (int k = 0; k < 4; ++k) {
      __m256i x = _mm256_shuffle_epi8(_mm256_permutevar8x32_epi32(v[k], scatter), shuf);
      x = _mm256_or_si256(_mm256_srli_epi32(x, 1), _mm256_slli_epi32(x, 31));
      store(dst + 4 * i + 32 * k, x);
    }
  }
  kernels::merge32(s3 + i, s2 + i, s1 + i, s0 + i, n - i, dst + 4 * i);
}

}  // namespace

const SplitKernels* split_kernels_avx2() noexcept {
  static const SplitKernels k{split16_avx2, merge16_avx2, split32_avx2, merge32_avx2};
  return &k;
}

}  // namespace tenzip::detail

#else
namespace tenzip::detail {
const SplitKernels* split_kernels_avx2() noexcept { return nullptr; }
}  // namespace tenzip::detail
#endif
