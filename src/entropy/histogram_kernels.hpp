// Byte histogram: four sub-tables so that runs of equal bytes do not serialize on one counter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tenzip::detail::kernels {
namespace {

inline void histogram_add(const uint8_t* __restrict p, size_t n, uint32_t* __restrict counts) noexcept {
  uint32_t h[4][256];
  std::memset(h, 0, sizeof(h));
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t v;
    std::memcpy(&v, p + i, 8);
    h[0][v & 0xff]++; h[1][(v >> 8) & 0xff]++; h[2][(v >> 16) & 0xff]++; h[3][(v >> 24) & 0xff]++;
    h[0][(v >> 32) & 0xff]++; h[1][(v >> 40) & 0xff]++; h[2][(v >> 48) & 0xff]++; h[3][v >> 56]++;
  }
  for (; i < n; ++i) h[0][p[i]]++;
  for (int s = 0; s < 256; ++s) counts[s] += h[0][s] + h[1][s] + h[2][s] + h[3][s];
}

}  // namespace
}  // namespace tenzip::detail::kernels
