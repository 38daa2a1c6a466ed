// huff0 (zstd's Huffman coder, the one ZipNN uses for exponents) against tenzip's stream coder
// on the same symbols, side by side in one run: the exponent stream of the corpus's bf16 and
// fp16 ALL tensors (stream 0 of tenzip's split), in 64K-symbol chunks, each coded alone by
// both. tenzip codes as at its default level (up to 8 tables per chunk, codes of <= 9 bits,
// or 11 where that saves > 2%) without zstd trials, so every chunk is HUFF; huff0 with
// 11-bit tables (HUF_TABLELOG_DEFAULT), a table per chunk, decoded with the 4-stream decoder
// zstd picks. Decode times include each chunk's table build for both. Exits 1 if a decode differs.
//   build/huff0_probe [RUNS]
// HUF_* are zstd internals, not in its public headers nor exported by libzstd.so: this probe
// links Debian's libzstd.a and declares the 1.5.3/1.5.4 signatures (CMake builds it only
// for those versions).
#include <zstd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "codec/chunk_codec.hpp"
#include "corpus_tensors.hpp"
#include "entropy/stream_coder.hpp"
#include "split/split.hpp"

#if ZSTD_VERSION_NUMBER < 10503 || ZSTD_VERSION_NUMBER > 10504
#error "huff0_probe declares zstd 1.5.3/1.5.4 internals"
#endif

extern "C" {
typedef size_t HUF_CElt;
typedef unsigned HUF_DTable;
size_t HUF_compress4X_repeat(void* dst, size_t dstSize, const void* src, size_t srcSize, unsigned maxSymbolValue,
                             unsigned tableLog, void* workSpace, size_t wkspSize, HUF_CElt* hufTable, int* repeat,
                             int preferRepeat, int bmi2, unsigned suspectUncompressible);
size_t HUF_decompress4X_hufOnly_wksp(HUF_DTable* dctx, void* dst, size_t dstSize, const void* cSrc, size_t cSrcSize,
                                     void* workSpace, size_t wkspSize, int bmi2);
}

namespace {

using namespace tenzip;
using namespace tenzip::detail;
using Clock = std::chrono::steady_clock;

constexpr size_t kChunk = 65536;
constexpr unsigned kTableLog = 11;  // HUF_TABLELOG_DEFAULT
constexpr unsigned kMaxTableLog = 12;  // HUF_TABLELOG_MAX: the DTable is sized for it

std::vector<uint8_t> exponent_stream(const char* dtype_name) {
  const std::vector<uint8_t> data = read_corpus_tensors(dtype_name);
  const size_t n = data.size() / 2;
  std::vector<uint8_t> s0(n), s1(n);
  uint8_t* streams[2] = {s0.data(), s1.data()};
  split(*parse_dtype(dtype_name), data.data(), n, streams);
  return s0;
}

int probe(const char* dtype_name, int runs) {
  const std::vector<uint8_t> syms = exponent_stream(dtype_name);
  if (syms.empty()) return 1;
  const size_t n = syms.size(), n_chunks = (n + kChunk - 1) / kChunk;
  auto chunk_len = [&](size_t c) { return std::min(kChunk, n - c * kChunk); };

  // huff0: a 4-stream section per chunk.
  std::vector<std::vector<uint8_t>> h0(n_chunks);
  static unsigned wksp[4096];
  static HUF_CElt ctable[257 * 2];
  static HUF_DTable dtable[1 + (1u << kMaxTableLog)];
  size_t h0_bytes = 0;
  for (size_t c = 0; c < n_chunks; ++c) {
    h0[c].resize(chunk_len(c) + 1024);
    int repeat = 0;  // HUF_repeat_none: a new table for every chunk
    const size_t z = HUF_compress4X_repeat(h0[c].data(), h0[c].size(), syms.data() + c * kChunk, chunk_len(c), 255,
                                           kTableLog, wksp, sizeof(wksp), ctable, &repeat, 0, 1, 0);
    if (ZSTD_isError(z) || z < 2) return std::fprintf(stderr, "huff0_probe: huff0 did not code chunk %zu\n", c), 1;
    h0[c].resize(z);
    h0_bytes += z;
  }
  // tenzip: the stream coder as the chunk coder runs it on exponents at the default level,
  // zstd trials off.
  StreamPolicy policy = stream_policy(*parse_dtype(dtype_name), CompressOptions{}.level);
  policy.zstd_level = 0;
  policy.zstd_probe_level = 0;
  policy.skewed = true;
  StreamEncoder enc;
  std::vector<std::vector<uint8_t>> tz(n_chunks);
  size_t tz_bytes = 0;
  for (size_t c = 0; c < n_chunks; ++c) {
    if (enc.encode(syms.data() + c * kChunk, chunk_len(c), policy, tz[c]) != StreamMode::huff)
      return std::fprintf(stderr, "huff0_probe: chunk %zu is not HUFF\n", c), 1;
    tz_bytes += tz[c].size();
  }

  std::vector<uint8_t> out(n);
  StreamDecoder dec;
  auto decode_h0 = [&] {
    for (size_t c = 0; c < n_chunks; ++c) {
      dtable[0] = kMaxTableLog * 0x01000001u;  // the DTable header: its capacity (HUF_CREATE_STATIC_DTABLEX2)
      const size_t r = HUF_decompress4X_hufOnly_wksp(dtable, out.data() + c * kChunk, chunk_len(c), h0[c].data(),
                                                     h0[c].size(), wksp, sizeof(wksp), 1);
      if (r != chunk_len(c)) return false;
    }
    return true;
  };
  auto decode_tz = [&] {
    for (size_t c = 0; c < n_chunks; ++c) {
      size_t pos = 0;
      uint8_t* d = out.data() + c * kChunk;
      const uint8_t* got = dec.decode(tz[c], pos, chunk_len(c), d);
      if (got != d) std::memcpy(d, got, chunk_len(c));
    }
    return true;
  };
  double best[2] = {1e30, 1e30};
  for (int r = 0; r < runs; ++r)
    for (int who = 0; who < 2; ++who) {
      std::memset(out.data(), 0, n);
      const auto t0 = Clock::now();
      const bool ok = who == 0 ? decode_h0() : decode_tz();
      best[who] = std::min(best[who], std::chrono::duration<double>(Clock::now() - t0).count());
      if (!ok || std::memcmp(out.data(), syms.data(), n) != 0)
        return std::fprintf(stderr, "huff0_probe: %s decode differs (%s)\n", who ? "tenzip" : "huff0", dtype_name), 1;
    }
  std::printf("%s exponent stream: %zu symbols, %zu chunks of 64K, best of %d, 1 thread\n", dtype_name, n, n_chunks, runs);
  std::printf("  huff0 (zstd %s)  %.3f bits/symbol  decode %.2f G symbols/s\n", ZSTD_versionString(),
              8.0 * static_cast<double>(h0_bytes) / static_cast<double>(n), static_cast<double>(n) / best[0] / 1e9);
  std::printf("  tenzip HUFF        %.3f bits/symbol  decode %.2f G symbols/s\n",
              8.0 * static_cast<double>(tz_bytes) / static_cast<double>(n), static_cast<double>(n) / best[1] / 1e9);
  std::printf("  tenzip / huff0: size %.3fx, decode speed %.2fx\n", static_cast<double>(tz_bytes) / static_cast<double>(h0_bytes),
              best[0] / best[1]);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 20;
  return probe("bf16", runs) || probe("fp16", runs);
}
