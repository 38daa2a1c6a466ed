#include "codec/chunk_codec.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "codec/element_repeats.hpp"
#include "entropy/stream_coder.hpp"
#include "split/split.hpp"

namespace tenzip::detail {

// What each compression level tries (documented in doc/FORMAT.md and README).
StreamPolicy stream_policy(DType dtype, int level) noexcept {
  StreamPolicy p;
  level = std::clamp(level, kMinLevel, kMaxLevel);
  p.max_tables = level <= 1 ? 1 : level == 2 ? 4 : level <= 4 ? 8 : 16;
  p.max_code_len = level >= 5 ? 11 : 9;  // longer codes: a little smaller, slower table builds
  p.min_huff_gain = level >= 5 ? 0.005 : 0.03;
  p.short_code_tolerance = level >= 5 ? 0.0 : 0.02;
  // Flat codes: at most 0.5% more bits on near-uniform streams (+0.03% on the clean fp32 files
  // of the corpus), which then decode several times faster.
  p.flat_code_tolerance = level >= 5 ? 0.0 : 0.005;
  // LZ (zstd) finds repeats no order-0 coder sees, but its probes and trials take 30-50% of
  // the compression time of bf16 and fp32 on the corpus: levels 3 and up. Level 2 keeps the
  // adaptive tables without it (0.7-1.8% larger than level 3, compression 1.4-2.2x faster).
  p.zstd_probe_level = level >= 3 ? 1 : 0;
  static constexpr int kZstdForFloats[10] = {0, 0, 0, 0, 0, 3, 6, 9, 15, 19};
  static constexpr int kZstdForBytes[10] = {0, 1, 1, 3, 3, 3, 6, 9, 15, 19};
  p.zstd_level = dtype == DType::bytes ? kZstdForBytes[level] : kZstdForFloats[level];
  // ZSTD_ELEMENTS: the slow levels try it on every chunk of 2- and 4-byte elements; levels 3-4
  // only on fp32 chunks whose values repeat (the probe has no cheap 2-byte equivalent: 16-bit
  // values repeat in any tensor). On the corpus's winning chunks, zstd level 4 with 4-byte
  // matches (one fp32 value) came within 1% of level 9's size in half its time; level 3 was
  // 30% faster but 2% larger.
  p.element_lz_min_gain = p.min_huff_gain;  // the bar HUFF must clear against RAW, for the same reason
  if (dtype_size(dtype) > 1) {
    if (p.zstd_level > 0) {
      p.element_lz_level = p.zstd_level;
      p.element_lz_always = true;
    } else if (level >= 3 && dtype_size(dtype) == 4) {
      p.element_lz_level = 4;
      p.element_lz_min_match = 4;
    }
  }
  return p;
}

size_t chunk_payload_bound(DType dtype, size_t n_elems) noexcept {
  return n_elems * dtype_size(dtype) + static_cast<size_t>(stream_count(dtype)) * 8;
}

// ------------------------------------------------------------------------------ encode
struct ChunkEncoder::Scratch {
  StreamEncoder streams;
  std::vector<uint8_t> split[kMaxStreams];
};

ChunkEncoder::ChunkEncoder() : s_(std::make_unique<Scratch>()) {}
ChunkEncoder::~ChunkEncoder() = default;

namespace {
// Whether a chunk of 4-byte elements is worth a ZSTD_ELEMENTS trial (a zstd pass costs several
// times the chunk's split coding). On the corpus, zstd over the elements beat the split
// streams only where >= 10% of sampled values repeated and the split streams left the chunk
// above 60% of its size; chunks whose values repeat because their low mantissa bytes are
// zero (bf16 stored as fp32) are already coded far smaller by the split.
constexpr double kMinRepeatRate = 0.10;
constexpr double kMinSplitRatio = 0.60;
bool worth_elements_trial(const uint8_t* src, size_t n_elems, size_t split_size) noexcept {
  if (static_cast<double>(split_size) < kMinSplitRatio * 4.0 * static_cast<double>(n_elems)) return false;
  return sampled_repeat_rate32(src, n_elems) >= kMinRepeatRate;
}
}  // namespace

void ChunkEncoder::encode(DType dtype, const uint8_t* src, size_t n_elems, int level, std::vector<uint8_t>& out,
                          bool lanes) {
  const StreamPolicy policy = stream_policy(dtype, level);
  const int k = stream_count(dtype);
  if (k == 1) {
    StreamPolicy first = policy;
    first.lanes = lanes;
    s_->streams.encode(src, n_elems, first, out);
    return;
  }
  const size_t start = out.size();
  uint8_t* bufs[kMaxStreams];
  for (int s = 0; s < k; ++s) {
    s_->split[s].resize(n_elems);
    bufs[s] = s_->split[s].data();
  }
  split(dtype, src, n_elems, bufs);
  LzHint lz = LzHint::unknown;  // found on the first stream that looks for it, shared by the rest
  StreamPolicy exponents = policy;
  exponents.skewed = true;  // stream 0 holds the exponents: never near-random on real weights
  exponents.lanes = lanes;
  for (int s = 0; s < k; ++s) s_->streams.encode(bufs[s], n_elems, s == 0 ? exponents : policy, out, &lz);

  // ZSTD_ELEMENTS: LZ over whole elements finds repeated values that no single byte stream
  // shows (a match needs several equal bytes in a row, and a value's bytes are spread over
  // k streams).
  if (policy.element_lz_level > 0 &&
      (policy.element_lz_always || worth_elements_trial(src, n_elems, out.size() - start)))
    s_->streams.replace_with_elements_zstd(src, n_elems * dtype_size(dtype), policy.element_lz_level,
                                           policy.element_lz_min_match, policy.element_lz_min_gain, out, start);
}

// ------------------------------------------------------------------------------ decode
namespace {
// Whether the payload is one ZSTD_ELEMENTS stream (only split dtypes may use the mode).
bool is_elements_chunk(DType dtype, std::span<const uint8_t> payload) noexcept {
  return stream_count(dtype) > 1 && !payload.empty() && payload[0] == static_cast<uint8_t>(StreamMode::zstd_elements);
}
}  // namespace

struct ChunkDecoder::Scratch {
  StreamDecoder streams;
  std::vector<uint8_t> decoded[kMaxStreams];
};

ChunkDecoder::ChunkDecoder() : s_(std::make_unique<Scratch>()) {}
ChunkDecoder::~ChunkDecoder() = default;

void ChunkDecoder::decode(DType dtype, std::span<const uint8_t> payload, uint8_t* dst, size_t n_elems) {
  const int k = stream_count(dtype);
  size_t pos = 0;
  if (is_elements_chunk(dtype, payload)) {
    s_->streams.decode(payload, pos, n_elems * dtype_size(dtype), dst, /*chunk_level=*/true);
  } else if (k == 1) {
    const uint8_t* p = s_->streams.decode(payload, pos, n_elems, dst);
    if (p != dst) std::memcpy(dst, p, n_elems);
  } else if (StreamDecoder::can_decode_merged(payload, pos, k)) {
    decode_merged(dtype, payload, pos, dst, n_elems);
  } else {
    const uint8_t* streams[kMaxStreams];
    // The merge writes the whole chunk to dst, usually not in cache: its lines are fetched
    // while the exponents decode (bf16 and fp32 decompression 5-15% faster here). So is the
    // payload, which the decoder and the merge read later: on inputs larger than the cache,
    // 10-13% faster again (1-3% slower on inputs the cache holds whole).
    Prefetcher warm(dst, n_elems * dtype_size(dtype));
    warm.also_read(payload.data() + pos, payload.size() - pos);
    for (int s = 0; s < k; ++s) {
      s_->decoded[s].resize(n_elems);
      streams[s] = s_->streams.decode(payload, pos, n_elems, s_->decoded[s].data(), false, s == 0 ? &warm : nullptr);
    }
    merge(dtype, streams, n_elems, dst);
  }
  if (pos != payload.size())
    throw Error(Errc::corrupt_input, "chunk payload: " + std::to_string(payload.size() - pos) + " unexpected trailing bytes");
}

// The streams of 2- or 4-byte elements whose exponents are LANES, on a CPU whose LANES decoder
// merges as it goes: the other streams first, then the exponents straight into dst. Errors are
// reported in stream order as by the unfused path: if a later stream is bad, the exponent
// stream is decoded on its own first, and its error, if any, is the one thrown.
void ChunkDecoder::decode_merged(DType dtype, std::span<const uint8_t> payload, size_t& pos, uint8_t* dst,
                                 size_t n_elems) {
  const int k = stream_count(dtype);
  // The exponent stream decoded alone, as the plain path does first: throws its error, if any.
  auto decode_exponents_alone = [&] {
    s_->decoded[0].resize(n_elems);
    size_t p0 = pos;
    s_->streams.decode(payload, p0, n_elems, s_->decoded[0].data());
  };
  const StreamHeader h0 = peek_stream(payload, pos, n_elems);
  if (h0.coded_size > payload.size() - pos) decode_exponents_alone();  // truncated: throws
  size_t next = pos + h0.coded_size;
  const uint8_t* streams[kMaxStreams];
  try {
    for (int s = 1; s < k; ++s) {
      s_->decoded[s].resize(n_elems);
      streams[s] = s_->streams.decode(payload, next, n_elems, s_->decoded[s].data());
    }
  } catch (const Error&) {
    decode_exponents_alone();
    throw;
  }
  Prefetcher warm(dst, n_elems * static_cast<size_t>(k));
  streams[0] = s_->streams.decode_merged(payload, pos, n_elems, k, streams + 1, dst, &warm);
  // The last n mod 128 elements: their exponents are stored after the lanes' streams.
  const size_t m = n_elems / kLaneStep * kLaneStep;
  const uint8_t* tail[kMaxStreams];
  tail[0] = streams[0];
  for (int s = 1; s < k; ++s) tail[s] = streams[s] + m;
  merge(dtype, tail, n_elems - m, dst + m * static_cast<size_t>(k));
  pos = next;
}

std::vector<StreamStats> describe_chunk(DType dtype, std::span<const uint8_t> payload, size_t n_elems) {
  std::vector<StreamStats> out;
  size_t pos = 0;
  if (is_elements_chunk(dtype, payload)) {
    const size_t bytes = n_elems * dtype_size(dtype);
    const StreamHeader h = peek_stream(payload, pos, bytes, /*chunk_level=*/true);
    if (h.coded_size > payload.size()) throw Error(Errc::truncated_input, "chunk payload: stream runs past the end");
    out.push_back(StreamStats{"elements", static_cast<uint8_t>(h.mode), bytes, h.coded_size});
    return out;
  }
  for (int s = 0; s < stream_count(dtype); ++s) {
    const StreamHeader h = peek_stream(payload, pos, n_elems);
    if (h.coded_size > payload.size() - pos) throw Error(Errc::truncated_input, "chunk payload: stream runs past the end");
    out.push_back(StreamStats{stream_name(dtype, s), static_cast<uint8_t>(h.mode), n_elems, h.coded_size});
    pos += h.coded_size;
  }
  return out;
}

}  // namespace tenzip::detail
