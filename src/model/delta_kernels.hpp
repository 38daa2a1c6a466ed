// Checkpoint-delta transforms: pure loops over byte ranges, no allocation.
//
// A fine-tuned weight differs from its base in the low mantissa bits only. XOR keeps sign,
// exponent and high mantissa bits at zero, but a carry across a byte boundary flips every bit
// above it. `sub` takes the difference of the bit patterns as integers and zigzags it
// (0, -1, 1, -2 ... → 0, 1, 2, 3 ...), so a change of k units in the last place costs about
// log2(2k) bits wherever carries land. Both are exact and self-inverse in pairs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <bit>
#include <cstring>

#include "model/metadata.hpp"

namespace tenzip::model {

namespace detail_delta {

static_assert(std::endian::native == std::endian::little, "delta kernels read little-endian words natively");

template <class U>
inline U load(const uint8_t* p) {
  U v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class U>
inline void store(uint8_t* p, U v) {
  std::memcpy(p, &v, sizeof v);
}

template <class U>
inline void sub_encode(const uint8_t* cur, const uint8_t* base, uint8_t* out, size_t n_elems) {
  constexpr int kBits = sizeof(U) * 8;
  for (size_t i = 0; i < n_elems; ++i) {
    const U d = static_cast<U>(load<U>(cur + i * sizeof(U)) - load<U>(base + i * sizeof(U)));
    const U sign = static_cast<U>(0) - static_cast<U>(d >> (kBits - 1));  // all ones if negative
    store<U>(out + i * sizeof(U), static_cast<U>(static_cast<U>(d << 1) ^ sign));
  }
}
template <class U>
inline void sub_decode(const uint8_t* stored, const uint8_t* base, uint8_t* out, size_t n_elems) {
  for (size_t i = 0; i < n_elems; ++i) {
    const U z = load<U>(stored + i * sizeof(U));
    const U d = static_cast<U>((z >> 1) ^ (static_cast<U>(0) - static_cast<U>(z & 1)));
    store<U>(out + i * sizeof(U), static_cast<U>(load<U>(base + i * sizeof(U)) + d));
  }
}

}  // namespace detail_delta

// out = transform(cur against base); `bytes` is a multiple of `elem_size` (1, 2 or 4).
// out may alias cur (in-place); it must not partially overlap base.
inline void delta_encode(Delta d, size_t elem_size, const uint8_t* cur, const uint8_t* base, uint8_t* out,
                         size_t bytes) {
  using namespace detail_delta;
  if (d == Delta::xor_ || (d == Delta::sub && elem_size == 0)) {
    for (size_t i = 0; i < bytes; ++i) out[i] = cur[i] ^ base[i];
    return;
  }
  switch (elem_size) {
    case 1: sub_encode<uint8_t>(cur, base, out, bytes); break;
    case 2: sub_encode<uint16_t>(cur, base, out, bytes / 2); break;
    default: sub_encode<uint32_t>(cur, base, out, bytes / 4); break;
  }
}

// cur = inverse transform(stored against base).
inline void delta_decode(Delta d, size_t elem_size, const uint8_t* stored, const uint8_t* base, uint8_t* out,
                         size_t bytes) {
  using namespace detail_delta;
  if (d == Delta::xor_ || (d == Delta::sub && elem_size == 0)) {
    for (size_t i = 0; i < bytes; ++i) out[i] = stored[i] ^ base[i];
    return;
  }
  switch (elem_size) {
    case 1: sub_decode<uint8_t>(stored, base, out, bytes); break;
    case 2: sub_decode<uint16_t>(stored, base, out, bytes / 2); break;
    default: sub_decode<uint32_t>(stored, base, out, bytes / 4); break;
  }
}

}  // namespace tenzip::model
