// Layouts for files of no known format (llama2.c checkpoints, GGML-family files, CTranslate2,
// TFJS shards, custom binaries): find the stretches that code smaller as 4- or 2-byte floats
// than as bytes, block by block, and make them regions. The container stays lossless whatever
// the guess: a wrong guess only costs ratio.
#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "codec/chunk_codec.hpp"
#include "formats/layout.hpp"

namespace tenzip::formats {

using detail::ChunkEncoder;

namespace {

constexpr size_t kBlock = size_t{64} << 10;   // the unit of decision
constexpr size_t kMinRegion = size_t{16} << 10;  // shorter float runs stay bytes (framing would eat the gain)
// A float candidate must code the sample this much smaller than bytes do (the sample stands for
// its whole block).
constexpr double kFloatMargin = 0.99;
constexpr int kTrialLevel = 3;  // the cheapest level that tries every stream mode

struct Candidate {
  DType dtype;
  unsigned align;  // element start offset modulo the element size
};
constexpr Candidate kCandidates[] = {{DType::bytes, 0}, {DType::fp32, 0}, {DType::fp32, 1}, {DType::fp32, 2},
                                     {DType::fp32, 3}, {DType::fp16, 0}, {DType::fp16, 1}};
constexpr size_t kNumCandidates = std::size(kCandidates);

// Order-0 entropy in bits of a histogram with `n` samples.
double entropy_bits(const uint32_t* h, uint64_t n) {
  if (n == 0) return 0;
  double bits = 0;
  const double inv = 1.0 / static_cast<double>(n);
  for (int i = 0; i < 256; ++i)
    if (h[i]) bits -= h[i] * std::log2(h[i] * inv);
  return bits;
}

struct Estimate {
  double bits = 0;      // whole estimate
  double top_bits = 0;  // of the top plane alone: lowest at the true alignment (the exponent byte)
};

// Estimated coded bits of bytes [b, e) of `f` under candidate c: the codec rotates each element
// left by one bit and codes each byte plane on its own (doc/FORMAT.md §12.1), so the estimate is
// the sum of the planes' order-0 entropies. Bytes outside whole elements count 8 bits each.
Estimate estimate(const uint8_t* f, size_t b, size_t e, Candidate c) {
  const size_t es = dtype_size(c.dtype);
  size_t first = b + (c.align + es - b % es) % es;  // first element start >= b with offset % es == align
  if (first > e) first = e;
  const size_t n = (e - first) / es;
  std::array<std::array<uint32_t, 256>, 4> h{};
  if (es == 1) {
    for (size_t i = b; i < e; ++i) ++h[0][f[i]];
    const double bits = entropy_bits(h[0].data(), e - b);
    return {bits, bits};
  }
  const uint8_t* p = f + first;
  if (es == 4) {
    for (size_t i = 0; i < n; ++i) {
      uint32_t x;
      std::memcpy(&x, p + 4 * i, 4);
      const uint32_t r = (x << 1) | (x >> 31);
      ++h[0][r & 0xff], ++h[1][(r >> 8) & 0xff], ++h[2][(r >> 16) & 0xff], ++h[3][r >> 24];
    }
  } else {
    for (size_t i = 0; i < n; ++i) {
      uint16_t x;
      std::memcpy(&x, p + 2 * i, 2);
      const uint16_t r = static_cast<uint16_t>((x << 1) | (x >> 15));
      ++h[0][r & 0xff], ++h[1][r >> 8];
    }
  }
  Estimate r;
  r.bits = 8.0 * static_cast<double>((e - b) - n * es);
  for (size_t k = 0; k < es; ++k) r.bits += entropy_bits(h[k].data(), n);
  r.top_bits = entropy_bits(h[es - 1].data(), n);
  return r;
}

// Bytes the chunk codec needs for [b, e) as candidate c (elements outside whole ones count as
// stored): the real coder, so zstd-friendly data, clean fp32 and drifting exponents are all
// judged as the container will code them.
size_t trial_size(const uint8_t* f, size_t b, size_t e, Candidate c, ChunkEncoder& enc, std::vector<uint8_t>& out) {
  const size_t es = dtype_size(c.dtype);
  size_t first = b + (c.align + es - b % es) % es;
  if (first > e) first = e;
  const size_t n = (e - first) / es;
  out.clear();
  if (n) enc.encode(c.dtype, f + first, n, kTrialLevel, out);
  return out.size() + ((e - b) - n * es);
}

}  // namespace

DType smallest_coding(std::span<const uint8_t> sample, std::span<const DType> candidates) {
  ChunkEncoder enc;
  std::vector<uint8_t> out;
  DType best_dtype = DType::bytes;
  double best = -1;
  for (const DType d : candidates) {
    const double size = static_cast<double>(trial_size(sample.data(), 0, sample.size(), {d, 0}, enc, out)) *
                        (d == DType::bytes ? kFloatMargin : 1.0);
    if (best < 0 || size < best) best = size, best_dtype = d;
  }
  return best_dtype;
}

FileLayout guess_layout(std::span<const uint8_t> file) {
  FileLayout out;
  out.format = "raw";
  const size_t size = file.size();
  if (size < kMinRegion) return out;
  // Big files: estimate each block from a sample at its start (costs ~1/4 of a full pass).
  const size_t sample = size > (size_t{64} << 20) ? kBlock / 4 : kBlock;
  const size_t n_blocks = (size + kBlock - 1) / kBlock;
  // Per block: each float dtype at its most likely alignment (the one whose top plane, the
  // exponent byte, is most skewed: cheap to estimate), then the real coder on the sample as bytes,
  // as fp32 and as 2-byte floats; the smallest wins.
  std::vector<uint8_t> choice(n_blocks, 0);
  std::vector<uint8_t> scratch;
  ChunkEncoder enc;
  for (size_t k = 0; k < n_blocks; ++k) {
    const size_t b = k * kBlock, e = std::min(size, b + std::min(kBlock, sample));
    size_t pick[2] = {0, 0};  // best alignment of fp32, of fp16
    double top[2] = {0, 0};
    for (size_t c = 1; c < kNumCandidates; ++c) {
      const int d = kCandidates[c].dtype == DType::fp32 ? 0 : 1;
      const double t = estimate(file.data(), b, e, kCandidates[c]).top_bits;
      if (pick[d] == 0 || t < top[d]) pick[d] = c, top[d] = t;
    }
    double best = static_cast<double>(trial_size(file.data(), b, e, kCandidates[0], enc, scratch)) * kFloatMargin;
    for (size_t c : pick) {
      const double size_c = static_cast<double>(trial_size(file.data(), b, e, kCandidates[c], enc, scratch));
      if (size_c < best) best = size_c, choice[k] = static_cast<uint8_t>(c);
    }
  }
  // Runs of blocks with the same float candidate become regions of whole, aligned elements.
  for (size_t k = 0; k < n_blocks;) {
    size_t j = k + 1;
    while (j < n_blocks && choice[j] == choice[k]) ++j;
    const Candidate c = kCandidates[choice[k]];
    if (c.dtype != DType::bytes) {
      const size_t es = dtype_size(c.dtype);
      const size_t b = k * kBlock, e = std::min(size, j * kBlock);
      const size_t first = b + (c.align + es - b % es) % es;
      if (first < e) {
        const size_t len = (e - first) / es * es;
        if (len >= kMinRegion)
          out.regions.push_back({first, len, c.dtype, "guess:" + std::string(dtype_name(c.dtype)) + "@" + std::to_string(first)});
      }
    }
    k = j;
  }
  return out;
}

}  // namespace tenzip::formats
