// The chunk codec: one chunk of elements of one dtype <-> one self-contained payload.
// Split into bit-field streams (src/split), code each stream with the cheapest mode
// (src/entropy), concatenate. Layout: doc/FORMAT.md, "Chunk payload".
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "entropy/stream_coder.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

// What a compression level tries on the streams of a chunk of `dtype` (level clamped to the
// valid range); the chunk coder's first stream (exponents) is also coded as `skewed`.
StreamPolicy stream_policy(DType dtype, int level) noexcept;

// Worst-case payload size for a chunk (raw streams plus stream headers).
size_t chunk_payload_bound(DType dtype, size_t n_elems) noexcept;

// Reusable per-thread scratch; not thread-safe, cheap to keep one per worker.
class ChunkEncoder {
 public:
  ChunkEncoder();
  ~ChunkEncoder();
  // Appends the payload for `n_elems` elements at `src` to `out`. Never modifies `src`.
  // With `lanes`, the first stream (exponents) is coded LANES where HUFF would be.
  void encode(DType dtype, const uint8_t* src, size_t n_elems, int level, std::vector<uint8_t>& out, bool lanes = false);

 private:
  struct Scratch;
  std::unique_ptr<Scratch> s_;
};

class ChunkDecoder {
 public:
  ChunkDecoder();
  ~ChunkDecoder();
  // Decodes a payload into exactly n_elems * dtype_size(dtype) bytes at dst.
  // Throws Error(corrupt_input / truncated_input) on malformed payloads; never reads
  // outside `payload` nor writes outside dst[0, n_elems * size).
  void decode(DType dtype, std::span<const uint8_t> payload, uint8_t* dst, size_t n_elems);

 private:
  void decode_merged(DType dtype, std::span<const uint8_t> payload, size_t& pos, uint8_t* dst, size_t n_elems);
  struct Scratch;
  std::unique_ptr<Scratch> s_;
};

// Reads the stream headers of a payload (no decoding) for `tenzip inspect`.
std::vector<StreamStats> describe_chunk(DType dtype, std::span<const uint8_t> payload, size_t n_elems);

}  // namespace tenzip::detail
