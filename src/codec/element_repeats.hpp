// How often a chunk's 4-byte elements repeat a value seen shortly before: a cheap probe for
// chunks that zstd over the unsplit elements (ZSTD_ELEMENTS) may code smaller than the split
// streams, e.g. basis tables (an STFT kernel holds 66K values but 11K distinct ones) and
// tensors with few distinct values. Random-looking mantissas almost never repeat exactly.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace tenzip::detail {

// Fraction of sampled elements equal to the last sampled element with the same hash (a
// direct-mapped cache of 2^13 values). The sample is four slices of 2048 elements spread over
// the chunk (all of it if smaller); ~8K lookups, a few microseconds per chunk.
inline double sampled_repeat_rate32(const uint8_t* src, size_t n_elems) noexcept {
  constexpr int kLog = 13;
  constexpr size_t kSlice = 2048;
  uint32_t seen[1u << kLog];
  std::memset(seen, 0xff, sizeof(seen));  // 0xffffffff: a NaN pattern, a false hit at worst
  size_t hits = 0, queries = 0;
  auto scan = [&](size_t begin, size_t end) {
    for (size_t i = begin; i < end; ++i) {
      uint32_t v;
      std::memcpy(&v, src + 4 * i, 4);
      const uint32_t h = (v * 0x9E3779B1u) >> (32 - kLog);
      hits += seen[h] == v;
      seen[h] = v;
    }
    queries += end - begin;
  };
  if (n_elems <= 4 * kSlice) {
    scan(0, n_elems);
  } else {
    for (size_t s = 0; s < 4; ++s) scan(n_elems / 4 * s, n_elems / 4 * s + kSlice);
  }
  return queries == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(queries);
}

}  // namespace tenzip::detail
