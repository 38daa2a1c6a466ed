// One byte stream <-> its coded form, choosing per stream the cheapest of four modes
// (doc/FORMAT.md, "Stream"): RAW (stored), CONST (one repeated byte), HUFF (canonical Huffman
// with up to 16 tables switched every block of 2^block_log symbols), ZSTD. A fifth mode,
// ZSTD_ELEMENTS, codes a whole chunk's unsplit element bytes in one zstd frame (format
// version 2); the chunk codec decides when to use it. A sixth, LANES (format version 3),
// replaces HUFF where the policy asks for it: the same tables' statistics as codes of <= 8
// bits over 128 interleaved bitstreams, for AVX-512 decoders (entropy/lanes.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "entropy/huffman.hpp"
#include "entropy/lanes.hpp"
#include "util/prefetch.hpp"

namespace tenzip::detail {

enum class StreamMode : uint8_t { raw = 0, constant = 1, huff = 2, zstd = 3, zstd_elements = 4, lanes = 5 };
inline constexpr int kHuffMaxTables = 16;
inline constexpr size_t kHuffMaxBlocks = 4096;  // table-switch blocks per stream (format limit)

struct StreamPolicy {
  int max_tables = 8;     // HUFF: tables per stream (1 = one table, no block switching)
  int block_log = 12;     // HUFF: symbols per table-switch block = 2^block_log
  int zstd_level = 0;     // 0 = never try ZSTD
  int max_code_len = 11;  // HUFF: shorter limits give smaller decode tables (faster to build)
  double min_huff_gain = 0.01;  // HUFF only if the order-0 bound saves this fraction vs RAW
  double short_code_tolerance = 0.02;  // accept max_code_len if it costs at most this much more
  // Accept a flat code (every symbol L bits: 2^L symbols, one length) instead of the Huffman
  // lengths if it costs at most this much more: flat codes decode without a serial bit chain.
  double flat_code_tolerance = 0.0;
  int zstd_probe_level = 0;     // if zstd_level == 0: probe a sample with zstd at this level
  bool skewed = false;          // the bytes are known to be skewed (exponents): skip the check
                                // of a sample for near-random bytes
  // Chunk level (ZSTD_ELEMENTS): zstd level for the whole chunk's element bytes; 0 = never.
  // If not `element_lz_always`, only chunks whose sampled values repeat are tried.
  int element_lz_level = 0;
  int element_lz_min_match = 0;  // > 0: overrides the level's minimum match length
  // Keep ZSTD_ELEMENTS only if it saves this fraction of the split coding: its chunks decode
  // at zstd's speed (~1 GB/s here), several times slower than split streams.
  double element_lz_min_gain = 0.03;
  bool element_lz_always = false;
  // LANES instead of HUFF, where the stream has at least one step (128 symbols) and blocks
  // of 4096 (streams of up to 64 blocks): opt-in, as it decodes faster only with AVX-512.
  bool lanes = false;
};

// Whether the bytes hold LZ structure (runs, repeats) that zstd could use. The streams of one
// chunk share it (a repeated row repeats in every byte stream), so the chunk coder detects it
// on its first stream and passes the answer to the others (near-random streams confirm it on
// their own bytes before a full zstd pass).
enum class LzHint : uint8_t { unknown, none, repeats };

class StreamEncoder {
 public:
  StreamEncoder();
  ~StreamEncoder();
  // Appends the coded stream (mode byte first) to `out`; returns the mode chosen. `hint`, if
  // given, says whether to look for LZ structure (unknown: the encoder detects it, if it
  // needs to, and stores the answer there).
  StreamMode encode(const uint8_t* syms, size_t n, const StreamPolicy& policy, std::vector<uint8_t>& out,
                    LzHint* hint = nullptr);
  // Compresses `bytes` bytes at `src` (a chunk's elements as stored) with zstd at `level`
  // (min_match > 0 overrides the level's); if the ZSTD_ELEMENTS stream is smaller than
  // out[start, end) by at least the fraction `min_gain`, replaces that range with it and
  // returns true.
  bool replace_with_elements_zstd(const uint8_t* src, size_t bytes, int level, int min_match, double min_gain,
                                  std::vector<uint8_t>& out, size_t start);

 public:
  struct Scratch;  // defined in the .cpp

 private:
  std::unique_ptr<Scratch> s_;
};

class StreamDecoder {
 public:
  StreamDecoder();
  ~StreamDecoder();
  // Decodes the stream that starts at in[pos] (n symbols), advancing pos. Returns a pointer
  // to the n decoded bytes: either into `in` (RAW) or into `dst` (n bytes). Throws
  // Error(corrupt_input / truncated_input) on malformed input. ZSTD_ELEMENTS is accepted
  // only if `chunk_level` (the first stream of a chunk; n = the chunk's byte count). The
  // HUFF and LANES decoders step `warm`, if given, as they go.
  const uint8_t* decode(std::span<const uint8_t> in, size_t& pos, size_t n, uint8_t* dst, bool chunk_level = false,
                        Prefetcher* warm = nullptr);
  // The code length L if the last stream decoded was HUFF with flat codes of L bits, else 0.
  int last_flat_length() const noexcept;

  // Whether the stream at in[pos] can decode merged with the other streams of elements of
  // elem_size bytes (decode_merged): a LANES stream, on a CPU with the fused decoder.
  static bool can_decode_merged(std::span<const uint8_t> in, size_t pos, int elem_size) noexcept;
  // The exponent stream (stream 0) of n elements of elem_size bytes, at in[pos], decoded and
  // merged with the other streams rest[0 .. elem_size - 2] (n bytes each) straight into the
  // elements (doc/FORMAT.md 12.1), advancing pos: elements 0 .. m - 1 into dst, m = n / 128
  // * 128. Returns the stream's last n - m symbols (stored as they are), for the caller to
  // merge. Only where can_decode_merged; the same errors as decode(), dst then partly written.
  const uint8_t* decode_merged(std::span<const uint8_t> in, size_t& pos, size_t n, int elem_size,
                               const uint8_t* const* rest, uint8_t* dst, Prefetcher* warm = nullptr);

 private:
  struct LanesSection {
    LaneInput in;
    size_t steps;
    const uint8_t* tail;  // the last n - steps * 128 symbols, stored as they are
  };
  LanesSection parse_lanes(std::span<const uint8_t> section, size_t n);
  const uint8_t* decode_lanes(std::span<const uint8_t> section, size_t n, uint8_t* dst, Prefetcher& warm);
  struct Scratch;
  std::unique_ptr<Scratch> s_;
};

// Header of the stream at in[pos] without decoding it: mode and coded size (header included).
struct StreamHeader { StreamMode mode; size_t coded_size; };
StreamHeader peek_stream(std::span<const uint8_t> in, size_t pos, size_t n, bool chunk_level = false);

}  // namespace tenzip::detail
