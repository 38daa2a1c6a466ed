// TEMPORARY: raw-only chunk codec so the container and CLI can be built end to end.
// Being replaced by the real split + entropy codec (same interface).
#include "codec/chunk_codec.hpp"

#include <cstring>

namespace tenzip::detail {

struct ChunkEncoder::Scratch {};
struct ChunkDecoder::Scratch {};
ChunkEncoder::ChunkEncoder() : s_(std::make_unique<Scratch>()) {}
ChunkEncoder::~ChunkEncoder() = default;
ChunkDecoder::ChunkDecoder() : s_(std::make_unique<Scratch>()) {}
ChunkDecoder::~ChunkDecoder() = default;

size_t chunk_payload_bound(DType dtype, size_t n_elems) noexcept { return n_elems * dtype_size(dtype) + 64; }

void ChunkEncoder::encode(DType dtype, const uint8_t* src, size_t n_elems, int, std::vector<uint8_t>& out) {
  size_t n = n_elems * dtype_size(dtype);
  out.push_back(0);
  out.insert(out.end(), src, src + n);
}

void ChunkDecoder::decode(DType dtype, std::span<const uint8_t> payload, uint8_t* dst, size_t n_elems) {
  size_t n = n_elems * dtype_size(dtype);
  if (payload.size() != n + 1 || payload[0] != 0) throw Error(Errc::corrupt_input, "chunk payload: bad size");
  std::memcpy(dst, payload.data() + 1, n);
}

std::vector<StreamStats> describe_chunk(DType dtype, std::span<const uint8_t> payload, size_t n_elems) {
  return {StreamStats{"all", 0, n_elems * dtype_size(dtype), payload.size()}};
}

}  // namespace tenzip::detail
