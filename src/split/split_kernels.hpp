// Bit-field split/merge kernels: pure loops, no allocation, no errors.
//
// Every float element is first rotated left by one bit so that the sign moves to bit 0 and
// the exponent becomes the most significant byte (bf16/fp32: exactly the 8 exponent bits;
// fp16: 5 exponent bits + the top 3 mantissa bits). Then its bytes are transposed into one
// stream per byte position ("byte grouping"). Stream 0 is always the most significant byte,
// the skewed one; the low streams hold mantissa bits.
//
// These templates are compiled twice: once portable (split_scalar.cpp) and once with AVX2
// (split_avx2.cpp); the loops are written so that the compiler vectorizes them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tenzip::detail::kernels {
// Internal linkage: each including .cpp (scalar, AVX2) gets its own copy compiled with its own
// flags, so the linker can never swap the AVX2 body into the portable path.
namespace {

inline uint16_t load_u16(const uint8_t* p) { uint16_t v; std::memcpy(&v, p, 2); return v; }
inline uint32_t load_u32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

// Element bytes are little-endian in memory; the loops use memcpy so they are alignment-free.
inline void split16(const uint8_t* __restrict src, size_t n, uint8_t* __restrict hi, uint8_t* __restrict lo) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t x = static_cast<uint16_t>(src[2 * i] | (src[2 * i + 1] << 8));
    uint16_t r = static_cast<uint16_t>((x << 1) | (x >> 15));
    hi[i] = static_cast<uint8_t>(r >> 8);
    lo[i] = static_cast<uint8_t>(r);
  }
}

inline void merge16(const uint8_t* __restrict hi, const uint8_t* __restrict lo, size_t n, uint8_t* __restrict dst) {
  for (size_t i = 0; i < n; ++i) {
    uint16_t r = static_cast<uint16_t>((hi[i] << 8) | lo[i]);
    uint16_t x = static_cast<uint16_t>((r >> 1) | (r << 15));
    dst[2 * i] = static_cast<uint8_t>(x);
    dst[2 * i + 1] = static_cast<uint8_t>(x >> 8);
  }
}

inline void split32(const uint8_t* __restrict src, size_t n, uint8_t* __restrict b3, uint8_t* __restrict b2,
                    uint8_t* __restrict b1, uint8_t* __restrict b0) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t x = static_cast<uint32_t>(src[4 * i]) | (static_cast<uint32_t>(src[4 * i + 1]) << 8) |
                 (static_cast<uint32_t>(src[4 * i + 2]) << 16) | (static_cast<uint32_t>(src[4 * i + 3]) << 24);
    uint32_t r = (x << 1) | (x >> 31);
    b3[i] = static_cast<uint8_t>(r >> 24);
    b2[i] = static_cast<uint8_t>(r >> 16);
    b1[i] = static_cast<uint8_t>(r >> 8);
    b0[i] = static_cast<uint8_t>(r);
  }
}

inline void merge32(const uint8_t* __restrict b3, const uint8_t* __restrict b2, const uint8_t* __restrict b1,
                    const uint8_t* __restrict b0, size_t n, uint8_t* __restrict dst) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t r = (static_cast<uint32_t>(b3[i]) << 24) | (static_cast<uint32_t>(b2[i]) << 16) |
                 (static_cast<uint32_t>(b1[i]) << 8) | b0[i];
    uint32_t x = (r >> 1) | (r << 31);
    dst[4 * i] = static_cast<uint8_t>(x);
    dst[4 * i + 1] = static_cast<uint8_t>(x >> 8);
    dst[4 * i + 2] = static_cast<uint8_t>(x >> 16);
    dst[4 * i + 3] = static_cast<uint8_t>(x >> 24);
  }
}

}  // namespace
}  // namespace tenzip::detail::kernels
