// Micro benchmarks of the codec's kernels on real weights (Google Benchmark).
//   build/codec_bench --benchmark_min_time=0.5
// Fixed work, for instruction counts and side-by-side CPU-time comparisons on a busy machine:
//   build/codec_bench --fixed enc|dec DTYPE RUNS [LEVEL]
// codes the ALL tensors of DTYPE in 64K-element chunks RUNS times and prints the best CPU
// time and the payload size; under callgrind, --toggle-collect='*fixed_pass*' counts the
// passes only (valgrind --tool=callgrind --toggle-collect='*fixed_pass*' ... --fixed enc bf16 1).
// Prototypes measured against the codec: --rans RUNS (rans_proto.hpp), --joint RUNS (mantissa
// bits coded with the exponent byte), --lanes RUNS
// (lanes_proto.hpp: more bitstreams per Huffman section, scalar and AVX-512 gathers;
// permute_proto.hpp: 128 lanes with the decode table in AVX-512 registers, which became the
// LANES stream mode). --lanes-e2e RUNS [DTYPE]: the codec's LANES layout against its default,
// whole chunks encoded and decoded.
// --fresh RUNS [DTYPE...]: one-shot compress() and decompress() into fresh memory (as a
// process's first use of a buffer), with and without the huge-page advice (util/huge_pages.hpp).
// Data: the corpus tensors extracted by bench/extract_corpus.py (default: build/corpus_tensors,
// override with TENZIP_CORPUS_TENSORS). bytes_per_second is of uncompressed data.
#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <type_traits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <string>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "codec/chunk_codec.hpp"
#include "container/format.hpp"
#include "entropy/huffman.hpp"
#include "entropy/huffman_dispatch.hpp"
#include "entropy/lanes.hpp"
#include "entropy/stream_coder.hpp"
#include "split/split.hpp"
#include "tenzip/tenzip.hpp"
#include "corpus_tensors.hpp"
#include "lanes_proto.hpp"
#include "permute_proto.hpp"
#include "rans_proto.hpp"

using namespace tenzip;
using namespace tenzip::detail;

namespace {

const std::vector<uint8_t>& corpus(const char* dtype) {
  static std::vector<uint8_t> cache[3];
  const int i = std::string(dtype) == "bf16" ? 0 : std::string(dtype) == "fp32" ? 1 : 2;
  if (cache[i].empty()) cache[i] = read_corpus_tensors(dtype);
  return cache[i];
}

constexpr size_t kChunk = 65536;

void ChunkEncode(benchmark::State& st, const char* dtype, int level) {
  const auto& data = corpus(dtype);
  const DType d = *parse_dtype(dtype);
  const size_t es = dtype_size(d), n = data.size() / es;
  ChunkEncoder enc;
  std::vector<uint8_t> out;
  for (auto _ : st)
    for (size_t i = 0; i < n; i += kChunk) {
      out.clear();
      enc.encode(d, data.data() + i * es, std::min(kChunk, n - i), level, out);
      benchmark::DoNotOptimize(out.data());
    }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * n * es));
}

void ChunkDecode(benchmark::State& st, const char* dtype, int level) {
  const auto& data = corpus(dtype);
  const DType d = *parse_dtype(dtype);
  const size_t es = dtype_size(d), n = data.size() / es;
  ChunkEncoder enc;
  ChunkDecoder dec;
  std::vector<std::vector<uint8_t>> payloads;
  for (size_t i = 0; i < n; i += kChunk) {
    payloads.emplace_back();
    enc.encode(d, data.data() + i * es, std::min(kChunk, n - i), level, payloads.back());
  }
  std::vector<uint8_t> out(kChunk * es);
  for (auto _ : st) {
    size_t k = 0;
    for (size_t i = 0; i < n; i += kChunk, ++k) dec.decode(d, payloads[k], out.data(), std::min(kChunk, n - i));
    benchmark::DoNotOptimize(out.data());
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * n * es));
}

// The exponent (high) byte stream of the bf16 corpus tensors; empty without the corpus.
const std::vector<uint8_t>& bf16_exponents() {
  static std::vector<uint8_t> hi;
  if (hi.empty()) {
    const auto& data = corpus("bf16");
    const size_t n = data.size() / 2;
    hi.resize(n);
    std::vector<uint8_t> lo(n);
    uint8_t* streams[2] = {hi.data(), lo.data()};
    split(DType::bf16, data.data(), n, streams);
  }
  return hi;
}

// Byte counts of [p, p + n) into counts[256] (zeroed first), with the codec's histogram kernel.
void count_bytes(const uint8_t* p, size_t n, uint32_t* counts) {
  std::memset(counts, 0, 256 * sizeof(uint32_t));
  huff_kernels().histogram(p, n, counts);
}

// Symbol s's code, bit-reversed (as written LSB-first), from its encoder entry.
uint32_t reversed_code(const HuffEncTable& enc, int s, unsigned len) {
  return static_cast<uint32_t>((enc[s] >> (63 - len)) & ((1u << len) - 1));
}

// The exponent stream alone: Huffman decode rate in symbols (bytes) per second.
void ExponentDecode(benchmark::State& st, int max_tables) {
  const auto& hi = bf16_exponents();
  const size_t n = hi.size();
  StreamPolicy p;
  p.max_tables = max_tables;
  p.max_code_len = 9;
  p.short_code_tolerance = 0.02;
  StreamEncoder enc;
  StreamDecoder dec;
  std::vector<std::vector<uint8_t>> coded;
  for (size_t i = 0; i < n; i += kChunk) {
    coded.emplace_back();
    enc.encode(hi.data() + i, std::min(kChunk, n - i), p, coded.back());
  }
  std::vector<uint8_t> out(kChunk);
  for (auto _ : st) {
    size_t k = 0;
    for (size_t i = 0; i < n; i += kChunk, ++k) {
      size_t pos = 0;
      benchmark::DoNotOptimize(dec.decode(coded[k], pos, std::min(kChunk, n - i), out.data()));
    }
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * n));
}

// The Huffman encode kernel alone on the exponent stream, one code per chunk (built outside
// the timing), with or without pair tables (their build is timed: the encoder pays it too).
// Rate in symbols per second.
void ExponentEncodeKernel(benchmark::State& st, bool pairs) {
  const auto& hi = bf16_exponents();
  const size_t n = hi.size(), block = 4096;
  std::vector<HuffLengths> lengths;
  std::vector<HuffEncTable> tables;
  for (size_t i = 0; i < n; i += kChunk) {
    uint32_t counts[256] = {};
    for (size_t k = i; k < std::min(n, i + kChunk); ++k) counts[hi[k]]++;
    lengths.emplace_back();
    huff_build_lengths(counts, 9, lengths.back());
    tables.emplace_back();
    huff_build_encoder(lengths.back(), tables.back());
  }
  std::vector<HuffPairEntry> pair_table(65536);
  std::vector<uint8_t> bufs[4];
  uint8_t* out[4];
  for (int s = 0; s < 4; ++s) { bufs[s].resize(kChunk * kHuffMaxBits / 8 + 64); out[s] = bufs[s].data(); }
  const HuffEncEntry* bt[kChunk / 4096];
  const HuffPairEntry* bp[kChunk / 4096];
  for (auto _ : st)
    for (size_t i = 0, c = 0; i < n; i += kChunk, ++c) {
      if (pairs) huff_build_pair_encoder(lengths[c], tables[c], pair_table.data());
      for (size_t b = 0; b < kChunk / block; ++b) { bt[b] = tables[c].data(); bp[b] = pair_table.data(); }
      size_t sizes[4];
      huff_kernels().encode4(hi.data() + i, std::min(kChunk, n - i), block, bt, pairs ? bp : nullptr, out, sizes);
      benchmark::DoNotOptimize(sizes);
    }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * n));
}

// Per-block histograms of the exponent stream (the encoder's first pass over it), bytes per second.
void ExponentHistograms(benchmark::State& st) {
  const auto& hi = bf16_exponents();
  static uint32_t rows[kChunk / 4096][256];
  for (auto _ : st)
    for (size_t i = 0; i < hi.size(); i += kChunk) {
      uint32_t total[256] = {};
      huff_kernels().histogram_blocks(hi.data() + i, std::min(kChunk, hi.size() - i), 4096, rows, total);
      benchmark::DoNotOptimize(total);
    }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * hi.size()));
}

void DecodeTableBuild(benchmark::State& st) {
  uint32_t counts[256] = {};
  const auto& data = corpus("bf16");
  for (size_t i = 1; i < std::min<size_t>(data.size(), 16384); i += 2) counts[static_cast<uint8_t>((data[i] << 1) | (data[i - 1] >> 7))]++;
  HuffLengths L;
  huff_build_lengths(counts, 9, L);
  static HuffDecTable t;
  for (auto _ : st) {
    huff_build_decoder(L, huff_table_bits(L.max_len), t);
    benchmark::DoNotOptimize(t.multi.data());
  }
}

void Split(benchmark::State& st, bool merge) {
  const auto& data = corpus("fp32");
  const size_t n = data.size() / 4;
  std::vector<uint8_t> s[4];
  for (auto& v : s) v.resize(n);
  uint8_t* ptrs[4] = {s[0].data(), s[1].data(), s[2].data(), s[3].data()};
  std::vector<uint8_t> out(data.size());
  split(DType::fp32, data.data(), n, ptrs);
  for (auto _ : st) {
    if (merge) tenzip::detail::merge(DType::fp32, ptrs, n, out.data());
    else split(DType::fp32, data.data(), n, ptrs);
    benchmark::ClobberMemory();
  }
  st.SetBytesProcessed(static_cast<int64_t>(st.iterations() * data.size()));
}

}  // namespace

BENCHMARK_CAPTURE(ChunkEncode, bf16_l3, "bf16", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ChunkDecode, bf16_l3, "bf16", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ChunkEncode, fp32_l3, "fp32", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ChunkDecode, fp32_l3, "fp32", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ChunkEncode, fp16_l3, "fp16", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ChunkDecode, fp16_l3, "fp16", 3)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ExponentDecode, tables1, 1)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ExponentDecode, tables8, 8)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ExponentEncodeKernel, single, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(ExponentEncodeKernel, pairs, true)->Unit(benchmark::kMillisecond);
BENCHMARK(ExponentHistograms)->Unit(benchmark::kMillisecond);
BENCHMARK(DecodeTableBuild);
BENCHMARK_CAPTURE(Split, split_fp32, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(Split, merge_fp32, true)->Unit(benchmark::kMillisecond);
namespace {

double cpu_seconds() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

// The best CPU time of `runs` calls of f, in seconds.
template <class F>
double best_cpu_seconds(int runs, F&& f) {
  double best = 1e30;
  for (int r = 0; r < runs; ++r) {
    const double t0 = cpu_seconds();
    f();
    best = std::min(best, cpu_seconds() - t0);
  }
  return best;
}

struct Fixed {
  DType d;
  size_t es, n;
  int level;
  const std::vector<uint8_t>* data;
  ChunkEncoder enc;
  ChunkDecoder dec;
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<uint8_t> out, scratch;
};

__attribute__((noinline)) void fixed_pass(Fixed& f, bool encode) {
  for (size_t i = 0, k = 0; i < f.n; i += kChunk, ++k) {
    const size_t m = std::min(kChunk, f.n - i);
    if (encode) {
      f.scratch.clear();
      f.enc.encode(f.d, f.data->data() + i * f.es, m, f.level, f.scratch);
    } else {
      f.dec.decode(f.d, f.payloads[k], f.out.data(), m);
    }
  }
}

int fixed_main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: codec_bench --fixed enc|dec DTYPE RUNS [LEVEL]\n");
    return 2;
  }
  const bool encode = std::string(argv[2]) == "enc";
  Fixed f;
  f.d = *parse_dtype(argv[3]);
  f.level = argc > 5 ? std::atoi(argv[5]) : 3;
  f.data = &corpus(argv[3]);
  f.es = dtype_size(f.d);
  f.n = f.data->size() / f.es;
  const int runs = std::atoi(argv[4]);
  size_t total = 0;
  f.out.resize(kChunk * f.es);
  f.scratch.reserve(chunk_payload_bound(f.d, kChunk));
  for (size_t i = 0; i < f.n; i += kChunk) {
    const size_t m = std::min(kChunk, f.n - i);
    f.payloads.emplace_back();
    f.enc.encode(f.d, f.data->data() + i * f.es, m, f.level, f.payloads.back());
    total += f.payloads.back().size();
    f.dec.decode(f.d, f.payloads.back(), f.out.data(), m);
    if (std::memcmp(f.out.data(), f.data->data() + i * f.es, m * f.es) != 0) {
      std::fprintf(stderr, "round trip failed at element %zu\n", i);
      return 1;
    }
  }
  const double best = best_cpu_seconds(runs, [&] { fixed_pass(f, encode); });
  std::printf("%s %s level %d: %zu -> %zu bytes (%.6f), best of %d: %.3f ms, %.0f MB/s\n", encode ? "encode" : "decode",
              argv[3], f.level, f.data->size(), total, static_cast<double>(total) / static_cast<double>(f.data->size()),
              runs, best * 1e3, static_cast<double>(f.data->size()) / best / 1e6);
  return 0;
}

}  // namespace

// --rans: the interleaved rANS prototype (rans_proto.hpp) against the Huffman stream coder
// on the bf16 exponent stream of the corpus, in 64K-symbol chunks: bits per symbol (tables
// included) and decode speed (best CPU time of RUNS).
int rans_main(int argc, char** argv) {
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  const auto& hi = bf16_exponents();
  if (hi.empty()) return 1;
  const size_t n = hi.size();
  auto best_of = [runs](auto&& f) { return best_cpu_seconds(runs, f); };
  std::vector<uint8_t> out(kChunk + 64);
  // Huffman, as the codec codes it (level 3 policy) and with one table per chunk.
  for (int tables : {8, 1}) {
    StreamPolicy p;
    p.max_tables = tables;
    p.max_code_len = 9;
    p.min_huff_gain = 0.03;
    p.short_code_tolerance = 0.02;
    StreamEncoder enc;
    StreamDecoder dec;
    std::vector<std::vector<uint8_t>> coded;
    size_t bytes = 0;
    const double te = best_of([&] {
      coded.clear();
      bytes = 0;
      for (size_t i = 0; i < n; i += kChunk) {
        coded.emplace_back();
        enc.encode(hi.data() + i, std::min(kChunk, n - i), p, coded.back());
        bytes += coded.back().size();
      }
    });
    const double td = best_of([&] {
      size_t k = 0;
      for (size_t i = 0; i < n; i += kChunk, ++k) {
        size_t pos = 0;
        benchmark::DoNotOptimize(dec.decode(coded[k], pos, std::min(kChunk, n - i), out.data()));
      }
    });
    std::printf("huffman, up to %d table(s) per 64K: %.4f bits/symbol, encode %.0f, decode %.0f M symbols/s\n", tables,
                8.0 * static_cast<double>(bytes) / static_cast<double>(n), n / te / 1e6, n / td / 1e6);
  }
  // rANS, one model per segment of `seg` symbols (64K: one per chunk), 8 or 32 states.
  auto rans = [&](auto lanes_tag, size_t seg) -> int {
    constexpr int L = decltype(lanes_tag)::value;
    struct Segment { rans_proto::Model m; std::vector<uint8_t> bytes; size_t n; };
    std::vector<Segment> segs;
    size_t bytes = 0;
    const double te = best_of([&] {
      segs.clear();
      bytes = 0;
      for (size_t i = 0; i < n; i += seg) {
        Segment g;
        g.n = std::min(seg, n - i);
        uint32_t counts[256] = {};
        for (size_t k = 0; k < g.n; ++k) counts[hi[i + k]]++;
        rans_proto::build_model(counts, g.m);
        g.bytes = rans_proto::encode<L>(hi.data() + i, g.n, g.m);
        bytes += g.bytes.size() + rans_proto::model_bytes(g.m);
        g.bytes.resize(g.bytes.size() + 16);  // the AVX2 decoder's over-read
        segs.push_back(std::move(g));
      }
    });
    size_t at = 0;
    for (const auto& g : segs) {
      rans_proto::decode<L>(g.bytes.data(), g.n, g.m, out.data());
      if (std::memcmp(out.data(), hi.data() + at, g.n) != 0) { std::fprintf(stderr, "rans: portable decode mismatch\n"); return 1; }
#if defined(__x86_64__)
      if (__builtin_cpu_supports("avx2")) {
        rans_proto::decode_avx2<L>(g.bytes.data(), g.n, g.m, out.data());
        if (std::memcmp(out.data(), hi.data() + at, g.n) != 0) { std::fprintf(stderr, "rans: avx2 decode mismatch\n"); return 1; }
      }
#endif
      at += g.n;
    }
    const double td = best_of([&] { for (const auto& g : segs) rans_proto::decode<L>(g.bytes.data(), g.n, g.m, out.data()); });
    double td2 = 0;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2"))
      td2 = best_of([&] { for (const auto& g : segs) rans_proto::decode_avx2<L>(g.bytes.data(), g.n, g.m, out.data()); });
#endif
    std::printf("rans %d states, 12-bit model per %zuK: %.4f bits/symbol, encode %.0f (incl. model), decode portable %.0f, "
                "avx2 %.0f M symbols/s\n", L, seg / 1024, 8.0 * static_cast<double>(bytes) / static_cast<double>(n),
                n / te / 1e6, n / td / 1e6, td2 > 0 ? n / td2 / 1e6 : 0.0);
    return 0;
  };
  for (size_t seg : {kChunk, kChunk / 4}) {
    if (rans(std::integral_constant<int, 8>{}, seg)) return 1;
    if (rans(std::integral_constant<int, 32>{}, seg)) return 1;
  }
  return 0;
}

// --joint: the "code the top mantissa bits jointly with the exponent", measured with
// the codec's own stream coder. Rotating each element left by k bits instead of 1 (12.1) puts
// the exponent's low 8 - k + 1 bits and the top k - 1 mantissa bits in the first byte, and
// the exponent's top k - 1 bits (almost always equal in weights) at the bottom of the next
// byte. So k = 2, 3 code 1, 2 mantissa bits in the Huffman-coded exponent byte. Each dtype's
// corpus tensors in 64K-element chunks, every stream coded with the level-2 policy (the
// default's Huffman coding, no LZ: the question is order-0 coding) with the exponent byte as
// the skewed stream: coded size against the elements' size, and the CPU time to encode and
// to decode all streams (the merge, a rotate either way, is left out).
int joint_main(int argc, char** argv) {
  const int runs = argc > 2 ? std::atoi(argv[2]) : 10;
  for (const char* name : {"bf16", "fp32"}) {
    const DType dtype = *parse_dtype(name);
    const auto& data = corpus(name);
    if (data.empty()) return 1;
    const size_t es = dtype_size(dtype), n = data.size() / es;
    const unsigned w = static_cast<unsigned>(8 * es);
    const StreamPolicy base = stream_policy(dtype, 2);
    for (unsigned k : {1u, 2u, 3u}) {
      // Byte j of stream order (most significant first) of every element rotated left by k.
      std::vector<std::vector<uint8_t>> streams(es, std::vector<uint8_t>(n));
      for (size_t i = 0; i < n; ++i) {
        uint64_t x = 0;
        std::memcpy(&x, data.data() + i * es, es);
        const uint64_t r = ((x << k) | (x >> (w - k))) & ((uint64_t{1} << w) - 1);
        for (size_t j = 0; j < es; ++j) streams[j][i] = static_cast<uint8_t>(r >> (8 * (es - 1 - j)));
      }
      // The bound the first stream's coder approaches: order-0 entropy per 4K-symbol block,
      // table costs left out.
      double bound = 0;
      for (size_t i = 0; i < n; i += 4096) {
        uint32_t counts[256];
        const size_t m = std::min<size_t>(4096, n - i);
        count_bytes(streams[0].data() + i, m, counts);
        for (uint32_t c : counts)
          if (c) bound -= c * std::log2(static_cast<double>(c) / static_cast<double>(m));
      }
      StreamEncoder enc;
      StreamDecoder dec;
      std::vector<std::vector<uint8_t>> coded;
      size_t bytes = 0, stream_bytes[4] = {};
      const double te = best_cpu_seconds(runs, [&] {
        coded.clear();
        bytes = 0;
        for (size_t j = 0; j < es; ++j) stream_bytes[j] = 0;
        for (size_t i = 0; i < n; i += kChunk)
          for (size_t j = 0; j < es; ++j) {
            StreamPolicy p = base;
            p.skewed = j == 0;
            coded.emplace_back();
            enc.encode(streams[j].data() + i, std::min(kChunk, n - i), p, coded.back());
            bytes += coded.back().size();
            stream_bytes[j] += coded.back().size();
          }
      });
      std::vector<uint8_t> out(kChunk);
      size_t c = 0;
      for (size_t i = 0; i < n; i += kChunk)  // every stream decodes to its symbols
        for (size_t j = 0; j < es; ++j, ++c) {
          size_t pos = 0;
          const size_t m = std::min(kChunk, n - i);
          const uint8_t* got = dec.decode(coded[c], pos, m, out.data());
          if (std::memcmp(got, streams[j].data() + i, m) != 0) { std::fprintf(stderr, "joint: decode mismatch\n"); return 1; }
        }
      const double td = best_cpu_seconds(runs, [&] {
        size_t c2 = 0;
        for (size_t i = 0; i < n; i += kChunk)
          for (size_t j = 0; j < es; ++j, ++c2) {
            size_t pos = 0;
            benchmark::DoNotOptimize(dec.decode(coded[c2], pos, std::min(kChunk, n - i), out.data()));
          }
      });
      std::printf("%s, %u mantissa bit(s) in the exponent byte: ratio %.4f (bits per element by stream:", name, k - 1,
                  static_cast<double>(bytes) / static_cast<double>(data.size()));
      for (size_t j = 0; j < es; ++j) std::printf(" %.3f", 8.0 * static_cast<double>(stream_bytes[j]) / static_cast<double>(n));
      std::printf("; first stream's bound %.3f), encode %.0f, decode %.0f MB/s\n", bound / static_cast<double>(n),
                  data.size() / te / 1e6, data.size() / td / 1e6);
    }
  }
  return 0;
}

#if defined(__x86_64__)
// A code of <= 8 bits for `counts`; with `escape`, the symbols seen at most `rare` times
// share the code of an uncoded symbol value and follow as bytes (the best `rare` for the
// bits). Returns the bits it codes the symbols in (escape bytes included) and its description.
static uint64_t make_code(const uint32_t* counts, bool escape, permute_proto::Code& c, size_t& description) {
  uint64_t best = UINT64_MAX;
  for (uint32_t rare : {0u, 1u, 2u, 3u, 5u, 8u, 13u}) {
    if (rare > 0 && !escape) break;
    uint32_t kept[256] = {}, esc_count = 0;
    uint64_t raw_bits = 0;
    for (int s = 0; s < 256; ++s) {
      if (counts[s] > rare) kept[s] = counts[s];
      else { esc_count += counts[s]; raw_bits += 8ull * counts[s]; }
    }
    // The escape's code sits at a value without a code of its own, next to the kept ones
    // (the description covers the range of coded values).
    int esc = -1, lo = 256, hi_kept = -1;
    for (int s = 0; s < 256; ++s)
      if (kept[s]) { lo = std::min(lo, s); hi_kept = s; }
    if (esc_count) esc = hi_kept < 255 ? hi_kept + 1 : lo > 0 ? lo - 1 : -1;
    if (esc_count && esc < 0) continue;
    if (esc >= 0) kept[esc] = esc_count;
    HuffLengths len;
    huff_build_lengths(kept, 8, len);
    if (len.max_len == 0) continue;  // one symbol: not handled
    const uint64_t bits = huff_cost_bits(kept, len) + raw_bits;
    if (bits >= best) continue;
    best = bits;
    description = huff_description_size(len);
    HuffEncTable enc;
    huff_build_encoder(len, enc);
    c = permute_proto::Code{};
    c.esc = esc;
    for (int s = 0; s < 256; ++s)
      if (len.len[s]) {
        c.len[s] = len.len[s];
        c.rev[s] = static_cast<uint8_t>(reversed_code(enc, s, len.len[s]));
        c.present[c.n++] = static_cast<uint8_t>(s);
      }
  }
  return best;
}

// Codes n symbols in the register-table layout with a code of make_code per block of
// block_steps steps (codes[] gets one per block). Adds the code bits to code_bits and the
// bytes stored (code descriptions, as a HUFF section stores them, and streams) to stored.
// False for a one-symbol block, which the prototype does not handle.
static bool code_in_blocks(const uint8_t* syms, size_t n, size_t block_steps, bool escape, permute_proto::Code* codes,
                           permute_proto::Coded& coded, uint64_t& code_bits, size_t& stored) {
  const size_t block = block_steps * permute_proto::kStep;
  for (size_t from = 0, b = 0; from < n; from += block, ++b) {
    uint32_t counts[256];
    count_bytes(syms + from, std::min(n, from + block) - from, counts);
    size_t description = 0;
    const uint64_t bits = make_code(counts, escape, codes[b], description);
    if (bits == UINT64_MAX) return std::fprintf(stderr, "register tables: a one-symbol block (not handled)\n"), false;
    code_bits += bits;
    stored += description;
  }
  coded = permute_proto::encode(syms, n, codes, block_steps);
  stored += coded.bytes();
  return true;
}

static bool has_avx512_vbmi2() {
  if (__builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2")) return true;
  std::printf("no AVX-512 VBMI/VBMI2: register-table decoder not measured\n");
  return false;
}
#endif

// --lanes: the exponent decode loop with more independent bitstreams than the format's four
// (lanes_proto.hpp): scalar lockstep over 4/6/8 streams and AVX-512 gathers over 16/32/64;
// then 128 lanes with the table in registers and codes of <= 8 bits (permute_proto.hpp).
// The bf16 exponent stream of the corpus in segments of 63K symbols (about a chunk), each
// with its own code of <= 9 bits (as the codec's chunks have; table builds not timed). Decode
// speed over all segments (best CPU time of RUNS); every output checked against the symbols.
int lanes_main(int argc, char** argv) {
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  const auto& hi = bf16_exponents();
  if (hi.empty()) return 1;
  const size_t n_all = hi.size();
  constexpr size_t kSeg = 21 * 3072;  // 64,512: every stream count below divides it (gathers: by 16)
  const size_t n_seg = n_all / kSeg, n = n_seg * kSeg;
  struct Segment {
    HuffEncTable enc;
    std::unique_ptr<HuffDecTable> table = std::make_unique<HuffDecTable>();
    std::vector<uint32_t> single = std::vector<uint32_t>(512);
    lanes_proto::Coded coded;
  };
  std::vector<Segment> segs(n_seg);
  uint64_t bits = 0;
  for (size_t g = 0; g < n_seg; ++g) {
    uint32_t counts[256];
    count_bytes(hi.data() + g * kSeg, kSeg, counts);
    HuffLengths len;
    huff_build_lengths(counts, kHuffMultiBits, len);
    bits += huff_cost_bits(counts, len);
    huff_build_encoder(len, segs[g].enc);
    huff_build_decoder(len, kHuffMultiBits, *segs[g].table);
    for (int s = 0; s < 256; ++s)
      if (len.len[s]) {
        const uint32_t l = len.len[s], rev = reversed_code(segs[g].enc, s, l);
        for (uint32_t v = rev; v < 512; v += 1u << l) segs[g].single[v] = l | static_cast<uint32_t>(s) << 8;
      }
  }
  std::vector<uint8_t> out(kSeg + 64);  // timed decodes write one segment at a time (cache-resident, as a chunk's)
  auto best_of = [runs](auto&& f) { return best_cpu_seconds(runs, f); };
  auto code_all = [&](int lanes) {
    for (size_t g = 0; g < n_seg; ++g) segs[g].coded = lanes_proto::encode(hi.data() + g * kSeg, kSeg, lanes, segs[g].enc);
  };
  double base = 0;
  // Decodes every segment (untimed) and compares, then times the decodes.
  auto measure = [&](const char* what, int lanes, auto&& decode) {
    for (size_t g = 0; g < n_seg; ++g) {
      std::memset(out.data(), 0, kSeg);
      decode(segs[g], out.data());
      if (std::memcmp(out.data(), hi.data() + g * kSeg, kSeg) != 0) {
        std::fprintf(stderr, "lanes: %s with %d streams decoded wrong symbols in segment %zu\n", what, lanes, g);
        return 1;
      }
    }
    const double t = best_of([&] { for (const auto& sg : segs) decode(sg, out.data()); });
    if (base == 0) base = t;
    std::printf("%-26s %2d streams: %6.0f M symbols/s  (%.2fx the 4-stream lockstep)\n", what, lanes, n / t / 1e6, base / t);
    return 0;
  };
  std::printf("bf16 exponents: %zu segments of %zu symbols, a code of <= 9 bits each, %.3f bits/symbol\n", n_seg, kSeg,
              static_cast<double>(bits) / static_cast<double>(n));
  // The product's stream decoder on the same segments (table builds included): one table per
  // segment, or up to 8 over its 4K blocks (the default level's adaptivity).
  auto codec_decoder = [&](int max_tables) {
    StreamPolicy p;
    p.max_tables = max_tables;
    p.max_code_len = kHuffMultiBits;
    p.skewed = true;
    StreamEncoder enc;
    StreamDecoder dec;
    std::vector<std::vector<uint8_t>> coded(n_seg);
    size_t bytes = 0;
    for (size_t g = 0; g < n_seg; ++g) {
      enc.encode(hi.data() + g * kSeg, kSeg, p, coded[g]);
      bytes += coded[g].size();
      size_t pos = 0;
      const uint8_t* d = dec.decode(coded[g], pos, kSeg, out.data());
      if (std::memcmp(d, hi.data() + g * kSeg, kSeg) != 0) return std::fprintf(stderr, "lanes: codec decode mismatch\n"), 1;
    }
    const double t = best_of([&] {
      for (size_t g = 0; g < n_seg; ++g) {
        size_t pos = 0;
        benchmark::DoNotOptimize(dec.decode(coded[g], pos, kSeg, out.data()));
      }
    });
    std::printf("%-26s %2d streams: %6.0f M symbols/s  (StreamDecoder, up to %d table(s) per segment): %.3f bits/symbol as stored\n",
                "the codec's decoder", 4, n / t / 1e6, max_tables, 8.0 * static_cast<double>(bytes) / static_cast<double>(n));
    return 0;
  };
  if (codec_decoder(1)) return 1;
#if defined(__x86_64__)
  // Every CPU with BMI2 also has LZCNT (Haswell, Excavator and later); clang 14 cannot test
  // for lzcnt with __builtin_cpu_supports.
  if (!__builtin_cpu_supports("bmi2")) {
    std::printf("no BMI2: nothing to measure\n");
    return 0;
  }
  auto scalar = [&](auto lanes_tag) {
    constexpr int N = decltype(lanes_tag)::value;
    code_all(N);
    return measure("scalar lockstep", N,
                   [](const Segment& sg, uint8_t* o) { lanes_proto::decode_lockstep<N>(sg.coded, *sg.table, o); });
  };
  if (scalar(std::integral_constant<int, 4>{}) || scalar(std::integral_constant<int, 6>{}) ||
      scalar(std::integral_constant<int, 8>{}))
    return 1;
  if (!__builtin_cpu_supports("avx512bw")) {
    std::printf("no AVX-512BW: gather decoders not measured\n");
    return 0;
  }
  auto gather = [&](auto groups_tag) {
    constexpr int G = decltype(groups_tag)::value;
    code_all(16 * G);
    return measure("avx-512 gather, 1 sym/step", 16 * G,
                   [](const Segment& sg, uint8_t* o) { lanes_proto::decode_gather<G>(sg.coded, sg.single.data(), o); });
  };
  if (gather(std::integral_constant<int, 1>{}) || gather(std::integral_constant<int, 2>{}) ||
      gather(std::integral_constant<int, 4>{}))
    return 1;
  if (!has_avx512_vbmi2()) return 0;
  // permute_proto.hpp: the table in registers, 128 interleaved lanes, codes of <= 8 bits.
  // What the 8-bit limit costs where the codec adapts (a code per 4K block): per block,
  // optimal codes of <= 8 and <= 9 bits.
  uint64_t block8 = 0, block9 = 0;
  for (size_t b = 0; b + 4096 <= n; b += 4096) {
    uint32_t counts[256];
    count_bytes(hi.data() + b, 4096, counts);
    HuffLengths l8, l9;
    huff_build_lengths(counts, 8, l8);
    huff_build_lengths(counts, 9, l9);
    block8 += huff_cost_bits(counts, l8);
    block9 += huff_cost_bits(counts, l9);
  }
  std::printf("codes <= 8 bits, per 4K block: %.4f bits/symbol (%.4f with 9, %+.2f%%)\n",
              static_cast<double>(block8) / static_cast<double>(n), static_cast<double>(block9) / static_cast<double>(n),
              100.0 * (static_cast<double>(block8) / static_cast<double>(block9) - 1.0));
  // A code per segment (as the rows above), or per 4K block (32 steps; tables built in the
  // timed decode, as the codec builds its own); with or without escapes.
  auto permute = [&](size_t block_steps, bool escape) {
    const size_t block = block_steps * permute_proto::kStep, per_seg = (kSeg + block - 1) / block;
    std::vector<permute_proto::Code> codes(n_seg * per_seg);
    std::vector<permute_proto::Coded> coded(n_seg);
    uint64_t code_bits = 0;
    size_t stored = 0;
    for (size_t g = 0; g < n_seg; ++g)
      if (!code_in_blocks(hi.data() + g * kSeg, kSeg, block_steps, escape, &codes[g * per_seg], coded[g], code_bits, stored))
        return 1;
    for (size_t g = 0; g < n_seg; ++g) {
      for (bool simd : {false, true}) {
        std::memset(out.data(), 0, kSeg);
        if (simd) permute_proto::decode(coded[g], &codes[g * per_seg], block_steps, kSeg, out.data());
        else permute_proto::decode_portable(coded[g], &codes[g * per_seg], block_steps, kSeg, out.data());
        if (std::memcmp(out.data(), hi.data() + g * kSeg, kSeg) != 0)
          return std::fprintf(stderr, "lanes: register-table layout, %s decoder: wrong symbols in segment %zu\n",
                              simd ? "avx-512" : "portable", g), 1;
      }
    }
    const double tp = best_of([&] {
      for (size_t g = 0; g < n_seg; ++g) permute_proto::decode_portable(coded[g], &codes[g * per_seg], block_steps, kSeg, out.data());
    });
    const double t = best_of([&] {
      for (size_t g = 0; g < n_seg; ++g) permute_proto::decode(coded[g], &codes[g * per_seg], block_steps, kSeg, out.data());
    });
    std::printf("%-26s %2d lanes: %6.0f M symbols/s  (%.2fx the 4-stream lockstep); a code per %s%s: %.3f bits/symbol, "
                "%.3f as stored (+%.2f%%: code descriptions, lanes' last bytes, refill padding)\n",
                "avx-512 register tables", 128, n / t / 1e6, base / t, per_seg == 1 ? "segment" : "4K block",
                escape ? " with escapes" : "",
                static_cast<double>(code_bits) / static_cast<double>(n), 8.0 * static_cast<double>(stored) / static_cast<double>(n),
                100.0 * (8.0 * static_cast<double>(stored) / static_cast<double>(code_bits) - 1.0));
    std::printf("%-26s %2d lanes: %6.0f M symbols/s  (the same layout in plain C++, as without AVX-512)\n",
                "portable register layout", 128, n / tp / 1e6);
    return 0;
  };
  if (permute(kSeg / permute_proto::kStep, false) || permute(4096 / permute_proto::kStep, false) ||
      permute(4096 / permute_proto::kStep, true))
    return 1;
  if (codec_decoder(8)) return 1;
#else
  std::printf("x86-64 only\n");
#endif
  return 0;
}

// --lanes-e2e RUNS [DTYPE]: the LANES exponent layout (compress --lanes) against the default,
// through the codec: whole chunks encoded, and decoded as a reader does (every stream, merge,
// XXH3 of the decoded chunk, into one large output buffer). The full 64K-element chunks of the
// corpus's ALL tensors of DTYPE (bf16, default, or fp32); the two layouts alternate RUNS times
// and the best CPU time of each is kept.
int lanes_e2e_main(int argc, char** argv) {
  const int runs = argc > 2 ? std::atoi(argv[2]) : 20;
  const char* dtype_name = argc > 3 ? argv[3] : "bf16";
  const auto dtype_opt = parse_dtype(dtype_name);
  if (!dtype_opt) return std::fprintf(stderr, "lanes-e2e: unknown dtype %s\n", dtype_name), 1;
  const DType dtype = *dtype_opt;
  const size_t es = dtype_size(dtype);
  const auto& data = corpus(dtype_name);
  if (data.empty()) return 1;
  const size_t n_chunks = data.size() / es / kChunk, bytes = n_chunks * kChunk * es;
  std::vector<std::vector<uint8_t>> payload[2];  // [0] default, [1] LANES
  ChunkEncoder enc;
  auto encode_pass = [&](int lanes) {
    payload[lanes].resize(n_chunks);
    for (size_t c = 0; c < n_chunks; ++c) {
      payload[lanes][c].clear();
      enc.encode(dtype, data.data() + c * kChunk * es, kChunk, 3, payload[lanes][c], lanes != 0);
    }
  };
  // The output is one buffer, written once before timing (its pages faulted in), as a
  // reader's destination after the first use.
  std::vector<uint8_t> dst(bytes, 0);
  ChunkDecoder dec;
  uint64_t sink = 0;
  auto decode_pass = [&](int lanes) {
    for (size_t c = 0; c < n_chunks; ++c) {
      uint8_t* d = dst.data() + c * kChunk * es;
      dec.decode(dtype, payload[lanes][c], d, kChunk);
      sink += xxh3({d, kChunk * es});
    }
  };
  size_t size[2] = {}, lanes_chunks = 0;
  for (int lanes = 0; lanes < 2; ++lanes) {
    encode_pass(lanes);
    std::memset(dst.data(), 0, bytes);
    decode_pass(lanes);
    if (std::memcmp(dst.data(), data.data(), bytes) != 0)
      return std::fprintf(stderr, "lanes-e2e: the %s decode differs from the source\n", lanes ? "LANES" : "default"), 1;
    for (const auto& p : payload[lanes]) {
      size[lanes] += p.size();
      if (lanes) lanes_chunks += p[0] == static_cast<uint8_t>(StreamMode::lanes);
    }
  }
  double te[2] = {1e30, 1e30}, td[2] = {1e30, 1e30};
  for (int r = 0; r < runs; ++r)
    for (int lanes = 0; lanes < 2; ++lanes) {
      te[lanes] = std::min(te[lanes], best_cpu_seconds(1, [&] { encode_pass(lanes); }));
      td[lanes] = std::min(td[lanes], best_cpu_seconds(1, [&] { decode_pass(lanes); }));
    }
  std::printf("%s ALL, %zu chunks of 64K elements (%zu with LANES exponents), best CPU time of %d, %s decoder:\n",
              dtype_name, n_chunks, lanes_chunks, runs,
              lanes_decoder() == lanes_decode_avx512() ? "AVX-512"
              : lanes_decoder() == lanes_decode_avx2() ? "AVX2" : "portable");
  for (int lanes = 0; lanes < 2; ++lanes)
    std::printf("  %-8s %10zu bytes  encode %7.3f ms %6.0f MB/s   decode+XXH3 %7.3f ms %6.0f MB/s\n",
                lanes ? "LANES" : "default", size[lanes], te[lanes] * 1e3, bytes / te[lanes] / 1e6, td[lanes] * 1e3,
                bytes / td[lanes] / 1e6);
  std::printf("  LANES / default: size %+.2f%%, encode %.2fx the time, decode %.2fx the speed\n",
              100.0 * (static_cast<double>(size[1]) / static_cast<double>(size[0]) - 1.0), te[1] / te[0], td[0] / td[1]);
  benchmark::DoNotOptimize(sink);
  return 0;
}

// --fresh RUNS [DTYPE...] (default bf16 fp32): the corpus's ALL tensors of each DTYPE through
// the one-shot API, every output in memory the process has not touched before. glibc would
// reuse a freed buffer's pages (already mapped) for the next; with its mmap threshold fixed at
// 1 MiB each large vector is a new mapping instead, as in a process that loads a model once.
// The runs alternate between the huge-page advice off (TENZIP_NO_HUGE_PAGES=1) and on, and
// the best wall time of each is kept: what a caller waits for (on a virtual machine, the host's
// work behind a page fault is not the process's CPU time at all).
int fresh_main(int argc, char** argv) {
#if defined(__GLIBC__)
  mallopt(M_MMAP_THRESHOLD, 1 << 20);
#endif
  const int runs = argc > 2 ? std::atoi(argv[2]) : 10;
  std::vector<std::string> dtypes;
  for (int i = 3; i < argc; ++i) dtypes.emplace_back(argv[i]);
  if (dtypes.empty()) dtypes = {"bf16", "fp32"};
  using Clock = std::chrono::steady_clock;
  auto seconds = [](Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); };
  for (const std::string& name : dtypes) {
    const auto dtype = parse_dtype(name);
    if (!dtype) return std::fprintf(stderr, "fresh: unknown dtype %s\n", name.c_str()), 1;
    const auto& data = corpus(name.c_str());
    if (data.empty()) return 1;
    CompressOptions opts;
    opts.dtype = *dtype;
    double tc[2] = {1e30, 1e30}, td[2] = {1e30, 1e30};
    for (int r = 0; r < runs; ++r)
      for (int advice = 0; advice < 2; ++advice) {
        if (advice) unsetenv("TENZIP_NO_HUGE_PAGES");
        else setenv("TENZIP_NO_HUGE_PAGES", "1", 1);
        auto t0 = Clock::now();
        const std::vector<uint8_t> packed = compress(data, opts);
        tc[advice] = std::min(tc[advice], seconds(t0));
        t0 = Clock::now();
        const std::vector<uint8_t> out = decompress(packed);
        td[advice] = std::min(td[advice], seconds(t0));
        if (out != data) return std::fprintf(stderr, "fresh: %s round trip differs\n", name.c_str()), 1;
      }
    unsetenv("TENZIP_NO_HUGE_PAGES");
    const double mb = static_cast<double>(data.size()) / 1e6;
    std::printf("%s ALL (%.1f MB), 1 thread, fresh output memory, best wall time of %d:\n", name.c_str(), mb, runs);
    for (int advice = 0; advice < 2; ++advice)
      std::printf("  huge pages %-4s compress %7.0f MB/s   decompress %7.0f MB/s\n", advice ? "on" : "off",
                  mb / tc[advice], mb / td[advice]);
    std::printf("  on / off: compress %.2fx, decompress %.2fx\n", tc[0] / tc[1], td[0] / td[1]);
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--fresh") return fresh_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--fixed") return fixed_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--lanes") return lanes_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--lanes-e2e") return lanes_e2e_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--rans") return rans_main(argc, argv);
  if (argc > 1 && std::string(argv[1]) == "--joint") return joint_main(argc, argv);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
