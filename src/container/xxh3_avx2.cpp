// XXH3-64 compiled for AVX2. Debian's libxxhash is built for the x86-64 baseline (SSE2) and
// ships no run-time dispatcher; checksumming every decoded chunk with it took ~25% of a bf16
// decompression. The header-only build here is the same function (XXH3 does not depend on the
// vector width), about twice as fast; xxh3() in format.cpp calls it after CPU detection.
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace tenzip::detail {

uint64_t xxh3_avx2(const void* data, size_t size) noexcept {
  return XXH3_64bits(data, size);
}

}  // namespace tenzip::detail
