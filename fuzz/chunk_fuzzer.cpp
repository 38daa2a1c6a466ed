// Fuzzes the chunk payload decoder directly (the container fuzzer reaches payloads only
// through frame checks). Input: byte 0 picks the dtype, bytes 1-2 the element count, the
// rest is the payload. Any outcome is fine except a crash, an out-of-bounds access (ASan),
// an error other than corrupt/truncated input, or bytes written outside the chunk.
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/chunk_codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  if (size < 3) return 0;
  const DType dtype = static_cast<DType>(data[0] % kDTypeCount);
  const size_t n = 1 + (data[1] | (size_t{data[2]} << 8));
  const size_t bytes = n * dtype_size(dtype);
  static detail::ChunkDecoder dec;
  std::vector<uint8_t> out(bytes + 16, 0x5A);
  try {
    dec.decode(dtype, {data + 3, size - 3}, out.data(), n);
  } catch (const Error& e) {
    if (e.code() != Errc::corrupt_input && e.code() != Errc::truncated_input) __builtin_trap();
  }
  for (size_t i = bytes; i < out.size(); ++i)
    if (out[i] != 0x5A) __builtin_trap();  // wrote past the chunk
  return 0;
}
