// Round trip of arbitrary data through the chunk codec: byte 0 picks the dtype, the level
// and (bit 7) the LANES exponent layout, the rest is the tensor. Decoding must give the input
// back byte for byte, and encoding twice must give the same payload (the format is
// deterministic).
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/chunk_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  if (size < 1) return 0;
  const DType dtype = static_cast<DType>((data[0] & 127) % kDTypeCount);
  const int level = 1 + ((data[0] & 127) / kDTypeCount) % kMaxLevel;
  const bool lanes = data[0] & 128;
  const size_t es = dtype_size(dtype);
  const size_t n = (size - 1) / es;
  if (n == 0) return 0;
  static detail::ChunkEncoder enc;
  static detail::ChunkDecoder dec;
  std::vector<uint8_t> a, b;
  enc.encode(dtype, data + 1, n, level, a, lanes);
  enc.encode(dtype, data + 1, n, level, b, lanes);
  if (a != b) __builtin_trap();
  if (a.size() > detail::chunk_payload_bound(dtype, n)) __builtin_trap();
  std::vector<uint8_t> out(n * es);
  dec.decode(dtype, a, out.data(), n);
  if (std::memcmp(out.data(), data + 1, n * es) != 0) __builtin_trap();
  return 0;
}
