// Byte histogram: four sub-tables so that runs of equal bytes do not serialize on one counter.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tenzip::detail::kernels {
namespace {

// Adds the counts of n bytes to counts[256]. Blocks of up to 65535 bytes count into 16-bit
// sub-tables (half the memory to clear and sum); longer inputs are taken in such blocks.
inline void histogram_add(const uint8_t* __restrict p, size_t n, uint32_t* __restrict counts) noexcept {
  while (n > 0) {
    const size_t m = n < 65535 ? n : 65535;
    uint16_t h[4][256];
    std::memset(h, 0, sizeof(h));
    size_t i = 0;
    for (; i + 8 <= m; i += 8) {
      uint64_t v;
      std::memcpy(&v, p + i, 8);
      h[0][v & 0xff]++; h[1][(v >> 8) & 0xff]++; h[2][(v >> 16) & 0xff]++; h[3][(v >> 24) & 0xff]++;
      h[0][(v >> 32) & 0xff]++; h[1][(v >> 40) & 0xff]++; h[2][(v >> 48) & 0xff]++; h[3][v >> 56]++;
    }
    for (; i < m; ++i) h[0][p[i]]++;
    for (int s = 0; s < 256; ++s) counts[s] += uint32_t{h[0][s]} + h[1][s] + h[2][s] + h[3][s];
    p += m;
    n -= m;
  }
}

}  // namespace
}  // namespace tenzip::detail::kernels
