// Unaligned little-endian 8-byte loads and stores for the bitstream kernels.
#pragma once

#include <cstdint>
#include <cstring>

namespace tenzip::detail::kernels {

inline uint64_t load_u64(const uint8_t* p) noexcept { uint64_t v; std::memcpy(&v, p, 8); return v; }
inline void store_u64(uint8_t* p, uint64_t v) noexcept { std::memcpy(p, &v, 8); }

}  // namespace tenzip::detail::kernels
