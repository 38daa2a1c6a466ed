// Shared by the stream decoder and the Reader: decode one chunk and check its XXH3, with
// error messages that name the chunk and its frame offset.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "codec/chunk_codec.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

// Decodes `payload` into dst (n_elems * dtype_size bytes) and compares its XXH3 with
// `checksum`. Codec errors are rethrown with the chunk's location prefixed, same Errc.
void decode_checked(ChunkDecoder& dec, uint64_t chunk_no, uint64_t frame_offset, DType dtype, uint32_t n_elems,
                    uint64_t checksum, std::span<const uint8_t> payload, uint8_t* dst);

// Size of a batch of chunks the encoder processes together: about threads x 64 chunks, fewer
// when chunks are large, so memory stays near kBatchBudget. Each batch ends with workers idle while the
// last chunks finish (chunk costs are uneven: LZ trials): with x 16, 2-thread compression of
// the bf16 corpus (113 chunks, 5 batches) left each worker idle 6% of the time, with x 64 1.5%.
inline constexpr uint64_t kBatchBudget = uint64_t{64} << 20;
size_t batch_chunks(unsigned threads, uint32_t chunk_elems) noexcept;

// Size of a batch of chunks decoded together (the stream decoder holds two: one decoding, one
// being read). Decoding costs about the same per chunk, so a few chunks per worker keep every
// worker busy, and the batches' buffers, reused from batch to batch, stay in cache. With
// threads x 64 (the encoder's batch), `tenzip decompress -c` of a 30 MB container spent more
// than half its time faulting in fresh buffers: 26 ms against 12 ms with x 4 (1 thread).
size_t decode_batch_chunks(unsigned threads) noexcept;

}  // namespace tenzip::detail
