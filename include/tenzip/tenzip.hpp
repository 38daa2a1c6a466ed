// tenzip — lossless compression of neural-network weights.
// Public C++ API. Everything here is stable within a major version; internals live in src/.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace tenzip {

// ---------------------------------------------------------------- versions
// The library version and the container format version move independently:
// a file says which format version wrote it; see doc/FORMAT.md.
inline constexpr int kVersionMajor = 0;
inline constexpr int kVersionMinor = 1;
inline constexpr int kVersionPatch = 0;
// The newest format version this library reads. It writes kFormatVersionDefault, or 3 for
// files that may hold LANES streams (CompressOptions::lanes), so that other files stay
// readable by earlier releases.
inline constexpr uint16_t kFormatVersion = 3;
inline constexpr uint16_t kFormatVersionDefault = 2;
std::string_view version_string();  // "0.3.0"

// ---------------------------------------------------------------- dtypes
// The numeric code of each dtype is written into files: never renumber.
enum class DType : uint8_t {
  bytes = 0,     // anything that is not a float tensor: ints, bools, quantized blocks, text
  bf16 = 1,
  fp16 = 2,
  fp32 = 3,
  fp8_e4m3 = 4,
  fp8_e5m2 = 5,
};
inline constexpr int kDTypeCount = 6;
size_t dtype_size(DType d) noexcept;                // bytes per element (1 for `bytes`)
std::string_view dtype_name(DType d) noexcept;      // "bf16", "fp8_e4m3", ...
std::optional<DType> parse_dtype(std::string_view name) noexcept;  // also accepts aliases: bfloat16, float16, float32, f32, ...
bool dtype_is_valid(uint8_t code) noexcept;

// ---------------------------------------------------------------- errors
// Kept apart so that callers (and tests) can tell bad input from bugs.
enum class Errc : uint8_t {
  invalid_argument = 1,    // caller passed something unusable (bad option, bad dtype, ...)
  corrupt_input = 2,       // the compressed data is malformed
  truncated_input = 3,     // the compressed data ends too early
  checksum_mismatch = 4,   // a chunk decoded, but its XXH3 differs from the stored one
  unsupported_version = 5, // written by a newer format version
  io_error = 6,            // read/write/rename failed
  internal = 7,            // a bug in tenzip
};
std::string_view errc_name(Errc e) noexcept;

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const noexcept { return code_; }
 private:
  Errc code_;
};

// ---------------------------------------------------------------- options
struct CompressOptions {
  DType dtype = DType::bytes;
  int level = 3;                // 1 (fastest) .. 9 (smallest); see doc/FORMAT.md for what each level tries
  unsigned threads = 1;         // 0 = all hardware threads
  uint32_t chunk_elems = 65536; // elements per independently decodable chunk
  // Code exponents in the LANES layout (doc/FORMAT.md 12.6): ~1.3-1.9x faster bf16 (by CPU)
  // decompression on CPUs with AVX-512 VBMI (Ice Lake, Zen 4 and later), about half as fast
  // with AVX2 only, ~0.3x without; ~0.2% larger, slower compression. Files get format version 3.
  bool lanes = false;
};
inline constexpr int kMinLevel = 1;
inline constexpr int kMaxLevel = 9;

// ---------------------------------------------------------------- one-shot
// Compress `src` (a buffer of `opts.dtype` elements; a tail shorter than one element is kept
// as bytes) into a complete container. The input is never modified.
std::vector<uint8_t> compress(std::span<const uint8_t> src, const CompressOptions& opts = {});
// Decode a complete container. Every chunk is checked against its XXH3 checksum.
std::vector<uint8_t> decompress(std::span<const uint8_t> container, unsigned threads = 1);

// ---------------------------------------------------------------- streaming
// Byte sinks/sources for streaming. A Sink must consume all bytes or throw.
// A Source fills up to `dst.size()` bytes and returns how many; 0 means end of input.
using Sink = std::function<void(std::span<const uint8_t>)>;
using Source = std::function<size_t(std::span<uint8_t>)>;

// Compresses a stream with bounded memory (a batch of about threads x 64 chunks, at most
// ~64 MiB of input, plus that batch's compressed frames). Output bytes go to the sink in file
// order, from the thread that calls write()/finish(); nothing is sought back. A batch's frames
// reach the sink while the batch is encoded, during the write() that fills it, or at finish().
class Compressor {
 public:
  Compressor(const CompressOptions& opts, Sink sink);
  ~Compressor();
  Compressor(const Compressor&) = delete;
  Compressor& operator=(const Compressor&) = delete;

  // Start a new segment: a run of elements of one dtype. The first segment starts
  // implicitly with opts.dtype. Model-file support uses this to give every tensor its own chunks.
  void begin_segment(DType dtype);
  void write(std::span<const uint8_t> data);
  // write(), running `alongside` once on the calling thread while the other workers encode
  // this write's chunks (or before returning, if the write encodes none): the caller reads or
  // hashes its next input meanwhile, instead of between writes. It must not use this
  // Compressor. If it throws, write() throws that once the batch is out (and the Compressor
  // is then unusable, as after any error).
  void write(std::span<const uint8_t> data, const std::function<void()>& alongside);
  // Opaque bytes stored in the index (e.g. a tensor directory); call before finish().
  void set_metadata(std::span<const uint8_t> metadata);
  // Flush, write the index and footer. Returns total bytes written.
  uint64_t finish();

  uint64_t bytes_in() const noexcept;
  uint64_t bytes_out() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Decompresses a stream read front to back (stdin works): frames are decoded and checked in
// order, then the index and footer are validated against what was seen. Memory stays bounded:
// two batches of threads x 4 chunks, one decoding while the next is read. The source and the
// sink are both called from the calling thread only.
// Returns the number of decoded bytes written to the sink. `metadata`, if given, receives the
// container's metadata (known only at the end: model containers use it to refuse deltas).
uint64_t decompress_stream(const Source& src, const Sink& sink, unsigned threads = 1,
                           std::vector<uint8_t>* metadata = nullptr);

// ---------------------------------------------------------------- random access / inspection
struct SegmentInfo {
  DType dtype;
  uint64_t first_chunk;
  uint64_t n_chunks;
  uint64_t decoded_offset;  // byte offset in the decoded output
  uint64_t decoded_size;    // bytes
};
struct ChunkInfo {
  uint64_t frame_offset;    // byte offset of the chunk frame in the container
  uint32_t frame_size;      // bytes, frame header included
  uint32_t n_elems;
  uint64_t decoded_offset;
  uint64_t checksum;        // XXH3-64 of the decoded bytes
};
struct ContainerInfo {
  uint16_t format_version;
  uint32_t chunk_elems;
  uint64_t container_size;
  uint64_t decoded_size;
  std::vector<SegmentInfo> segments;
  std::vector<ChunkInfo> chunks;
  std::vector<uint8_t> metadata;
};

// Reads a container held in memory (or mmapped) through its footer and index: any chunk or
// segment decodes alone, at a cost proportional to its size. Opening reads only the header, the
// footer and the index; a chunk's frame header is checked against the index when it is decoded.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> container);  // validates header, footer and index
  const ContainerInfo& info() const noexcept { return info_; }
  std::span<const uint8_t> data() const noexcept { return data_; }  // the container it reads
  // Decode chunk i into dst (dst.size() must equal the chunk's decoded size).
  void decode_chunk(size_t i, std::span<uint8_t> dst) const;
  // Decode segment s (all its chunks) into dst, using `threads` threads.
  void decode_segment(size_t s, std::span<uint8_t> dst, unsigned threads = 1) const;
  // Decode everything.
  void decode_all(std::span<uint8_t> dst, unsigned threads = 1) const;
  // Decoded bytes [offset, offset + dst.size()) (the segments back to back, as decode_all writes
  // them), decoding and checking only the chunks that hold them: random access, as a file.
  void read_range(uint64_t offset, std::span<uint8_t> dst, unsigned threads = 1) const;
  // The chunk holding decoded byte `offset` (< info().decoded_size).
  size_t chunk_at(uint64_t offset) const;
  // Its decoded size in bytes.
  uint64_t chunk_bytes(size_t i) const;

 private:
  std::span<const uint8_t> data_;
  ContainerInfo info_;
  std::vector<uint32_t> chunk_segment_;  // segment of each chunk
};

// Per-stream statistics of one chunk, for `tenzip inspect`.
inline constexpr int kStreamModes = 6;  // stream modes 0..5 of doc/FORMAT.md
struct StreamStats {
  std::string name;      // "exponent", "mantissa", "byte0", ...
  uint8_t mode;          // see doc/FORMAT.md: 0 raw, 1 const, 2 huffman, 3 zstd, 4 zstd of the elements, 5 lanes
  uint64_t raw_size;
  uint64_t coded_size;
};
// Decodes chunk headers of a container and returns per-stream totals (summed over chunks,
// grouped by dtype and stream name). A chunk coded as zstd of its unsplit elements (mode 4)
// counts as one stream named "elements".
struct StreamSummary {
  DType dtype;
  std::string stream;
  uint64_t raw_size = 0;
  uint64_t coded_size = 0;
  uint64_t chunks_by_mode[kStreamModes] = {};
};
std::vector<StreamSummary> summarize_streams(const Reader& reader);

}  // namespace tenzip
