#include "api/chunk_ops.hpp"

#include <algorithm>
#include <string>

#include "container/format.hpp"

namespace tenzip::detail {

void decode_checked(ChunkDecoder& dec, uint64_t chunk_no, uint64_t frame_offset, DType dtype, uint32_t n_elems,
                    uint64_t checksum, std::span<const uint8_t> payload, uint8_t* dst) {
  try {
    dec.decode(dtype, payload, dst, n_elems);
  } catch (const Error& e) {
    throw Error(e.code(), at("chunk", chunk_no, frame_offset) + ": " + e.what());
  }
  const uint64_t got = xxh3({dst, size_t{n_elems} * dtype_size(dtype)});
  if (got != checksum)
    fail(Errc::checksum_mismatch, at("chunk", chunk_no, frame_offset),
         "checksum mismatch (stored " + hex(checksum) + ", decoded data has " + hex(got) + ")");
}

size_t batch_chunks(unsigned threads, uint32_t chunk_elems) noexcept {
  const uint64_t chunk_bytes = uint64_t{chunk_elems} * 4;  // widest dtype
  const uint64_t by_budget = std::max<uint64_t>(1, kBatchBudget / chunk_bytes);
  return static_cast<size_t>(std::clamp<uint64_t>(by_budget, threads, uint64_t{threads} * 64));
}

size_t decode_batch_chunks(unsigned threads) noexcept { return size_t{threads} * 4; }

}  // namespace tenzip::detail
