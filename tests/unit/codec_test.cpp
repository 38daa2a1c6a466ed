// Chunk codec and its parts: Huffman tables, stream modes, split kernels. Round trips are
// compared byte for byte; the portable and AVX2 kernels are checked against each other.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <vector>

#include "codec/chunk_codec.hpp"
#include "codec/element_repeats.hpp"
#include "container/format.hpp"
#include "entropy/huffman.hpp"
#include "entropy/huffman_dispatch.hpp"
#include "entropy/stream_coder.hpp"
#include "split/split.hpp"

using namespace tenzip;
using namespace tenzip::detail;

namespace {

std::vector<uint8_t> bytes_with(size_t n, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> v(n);
  std::geometric_distribution<int> geo(0.35);
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: v[i] = 7; break;                                        // constant
      case 1: v[i] = static_cast<uint8_t>(rng() & 1); break;          // two symbols
      case 2: v[i] = static_cast<uint8_t>(120 + std::min(geo(rng), 30)); break;  // exponent-like
      case 3: v[i] = static_cast<uint8_t>(rng()); break;              // uniform
      case 4: v[i] = static_cast<uint8_t>(std::min(geo(rng), 255) * 3); break;  // wide, skewed
      case 5: {                                                       // drifting: table switching
        const int base = 100 + static_cast<int>((i / 3000) % 5) * 6;
        v[i] = static_cast<uint8_t>(base + std::min(geo(rng), 12));
        break;
      }
      case 6: v[i] = static_cast<uint8_t>((i / 7) % 251); break;      // LZ-friendly
      default: {                                                      // Fibonacci-like: deep trees
        uint32_t r = rng();
        int s = 0;
        while (s < 40 && (r & 1)) { ++s; r >>= 1; if (!r) r = rng(); }
        v[i] = static_cast<uint8_t>(s);
      }
    }
  }
  return v;
}

// What a greedy decode of the `window`-bit index j yields under `enc` (codes read LSB-first):
// at most max_syms whole codes within the window (a one-symbol table's zero-length code
// counts too). Returns their count; syms[] and lens[] get them, used_bits their total length.
int greedy_decode(const HuffLengths& L, const HuffEncTable& enc, uint32_t j, int window, int max_syms, uint8_t* syms,
                  int* lens, int& used_bits) {
  int count = 0;
  used_bits = 0;
  while (count < max_syms) {
    int sym = -1, len = 0;
    for (int s = L.min_sym; s <= L.max_sym && sym < 0; ++s) {
      const int l = static_cast<int>(enc[s] & 255);
      if ((L.max_len == 0 && s == L.min_sym) ||
          (l && used_bits + l <= window && ((j >> used_bits) & ((1u << l) - 1)) == (enc[s] >> (63 - l))))
        sym = s, len = l;
    }
    if (sym < 0) break;
    syms[count] = static_cast<uint8_t>(sym);
    lens[count] = len;
    used_bits += len;
    ++count;
  }
  return count;
}

StreamPolicy policy(int tables, int code_len, int zstd) {
  StreamPolicy p;
  p.max_tables = tables;
  p.max_code_len = code_len;
  p.zstd_level = zstd;
  p.min_huff_gain = 0.0;
  return p;
}

}  // namespace

TEST(Huffman, LengthsRespectLimitAndFormCompleteCode) {
  std::mt19937 rng(1);
  for (int trial = 0; trial < 300; ++trial) {
    uint32_t counts[256] = {};
    const int used = 2 + static_cast<int>(rng() % 255);
    for (int s = 0; s < used; ++s) counts[(s * 37 + trial) & 255] = 1 + (trial % 3 == 0 ? (1u << (s % 24)) : rng() % 100000);
    for (int limit : {8, 9, 11}) {
      HuffLengths h;
      huff_build_lengths(counts, limit, h);
      uint64_t kraft = 0;
      for (int s = 0; s < 256; ++s) {
        EXPECT_EQ(h.len[s] != 0, counts[s] != 0) << "symbol " << s;
        EXPECT_LE(h.len[s], limit);
        if (h.len[s]) kraft += uint64_t{1} << (kHuffMaxBits - h.len[s]);
      }
      EXPECT_EQ(kraft, uint64_t{1} << kHuffMaxBits) << "trial " << trial << " limit " << limit;
      uint8_t desc[160];
      const size_t size = huff_write_description(h, desc);
      ASSERT_EQ(size, huff_description_size(h));
      HuffLengths back;
      ASSERT_EQ(huff_read_description({desc, size}, back), size);
      EXPECT_EQ(back.len, h.len);
    }
  }
}

TEST(Huffman, RejectsInvalidDescriptions) {
  HuffLengths h;
  const uint8_t reversed[] = {10, 5};
  EXPECT_EQ(huff_read_description({reversed, 2}, h), 0u);
  const uint8_t incomplete[] = {0, 1, 0x22};  // two codes of length 2: Kraft sum 1/2
  EXPECT_EQ(huff_read_description({incomplete, 3}, h), 0u);
  const uint8_t too_long[] = {0, 1, 0xC1};    // length 12 > kHuffMaxBits
  EXPECT_EQ(huff_read_description({too_long, 3}, h), 0u);
  const uint8_t truncated[] = {0, 9, 0x11};
  EXPECT_EQ(huff_read_description({truncated, 3}, h), 0u);
  const uint8_t ok[] = {3, 4, 0x11};
  EXPECT_EQ(huff_read_description({ok, 3}, h), 3u);
}

TEST(StreamCoder, RoundTripsEveryDistributionSizeAndPolicy) {
  StreamEncoder enc;
  StreamDecoder dec;
  for (int kind = 0; kind <= 7; ++kind)
    for (size_t n : {0, 1, 2, 3, 4, 5, 15, 16, 17, 100, 4095, 4096, 4097, 16383, 16384, 16385, 65536, 100003})
      for (const StreamPolicy& p : {policy(1, 11, 0), policy(4, 9, 0), policy(16, 8, 0), policy(8, 11, 3)}) {
        const auto in = bytes_with(n, static_cast<uint32_t>(n * 31 + kind), kind);
        std::vector<uint8_t> coded;
        enc.encode(in.data(), n, p, coded);
        std::vector<uint8_t> out(n + 1, 0xAB);
        size_t pos = 0;
        const uint8_t* got = dec.decode(coded, pos, n, out.data());
        ASSERT_EQ(pos, coded.size()) << "kind " << kind << " n " << n;
        ASSERT_TRUE(n == 0 || std::memcmp(got, in.data(), n) == 0) << "kind " << kind << " n " << n;
        EXPECT_EQ(out[n], 0xAB) << "decoder wrote past the stream";
      }
}

TEST(StreamCoder, ChoosesTheExpectedModes) {
  StreamEncoder enc;
  std::vector<uint8_t> out;
  auto constant = bytes_with(5000, 1, 0);
  EXPECT_EQ(enc.encode(constant.data(), constant.size(), policy(8, 9, 0), out), StreamMode::constant);
  EXPECT_EQ(out.size(), 2u);
  out.clear();
  auto random = bytes_with(65536, 2, 3);
  StreamPolicy p = policy(8, 9, 0);
  p.min_huff_gain = 0.03;
  EXPECT_EQ(enc.encode(random.data(), random.size(), p, out), StreamMode::raw);
  EXPECT_EQ(out.size(), 65537u);
  out.clear();
  auto expo = bytes_with(65536, 3, 2);
  EXPECT_EQ(enc.encode(expo.data(), expo.size(), p, out), StreamMode::huff);
  EXPECT_LT(out.size(), 65536u / 2);
  out.clear();
  auto lz = bytes_with(65536, 4, 6);
  EXPECT_EQ(enc.encode(lz.data(), lz.size(), policy(8, 9, 3), out), StreamMode::zstd);
}

// Near-uniform bytes over 2^L symbols get a flat code when the policy allows the small loss;
// a skewed stream over 2^L symbols keeps its Huffman lengths.
TEST(StreamCoder, FlatCodesOnlyWhereTheyCostLittle) {
  StreamEncoder enc;
  StreamDecoder dec;
  std::mt19937 rng(11);
  StreamPolicy p = policy(8, 9, 0);
  p.min_huff_gain = 0.03;
  p.flat_code_tolerance = 0.005;
  // The top mantissa byte of bf16 values stored as fp32: 128 even bytes, near-uniform (a
  // mild skew, as in real weights, gives Huffman lengths 6 to 8).
  std::vector<uint8_t> even(65536);
  std::uniform_real_distribution<double> u(0, 1);
  for (auto& b : even) b = static_cast<uint8_t>(2 * std::min(127, static_cast<int>(128 * std::pow(u(rng), 1.15))));
  std::vector<uint8_t> skewed(65536);  // 4 symbols, 70/10/10/10
  for (auto& b : skewed) { const uint32_t r = rng() % 10; b = static_cast<uint8_t>(r < 7 ? 0 : r - 6); }
  std::vector<uint8_t> two(65536);  // 2 symbols: Huffman itself is flat (1 bit)
  for (auto& b : two) b = rng() % 3 == 0 ? 0x80 : 0x00;
  struct Case { const std::vector<uint8_t>* in; double tolerance; int want; };
  for (const Case& c : {Case{&even, 0.005, 7}, Case{&even, 0.0, 0}, Case{&skewed, 0.005, 0}, Case{&two, 0.0, 1}}) {
    p.flat_code_tolerance = c.tolerance;
    std::vector<uint8_t> coded;
    ASSERT_EQ(enc.encode(c.in->data(), c.in->size(), p, coded), StreamMode::huff);
    std::vector<uint8_t> out(c.in->size());
    size_t pos = 0;
    const uint8_t* got = dec.decode(coded, pos, out.size(), out.data());
    ASSERT_EQ(0, std::memcmp(got, c.in->data(), out.size()));
    EXPECT_EQ(dec.last_flat_length(), c.want) << "tolerance " << c.tolerance;
    if (c.want == 7) {
      EXPECT_LT(coded.size(), 65536u * 7 / 8 + 300);
    }
  }
}

TEST(StreamCoder, RepeatDetectorGatesTheZstdTrials) {
  const HuffKernels& k = huff_kernels_scalar();
  const auto random = bytes_with(65536, 21, 3), expo = bytes_with(65536, 22, 2), zeros = bytes_with(65536, 0, 0);
  RepeatHits r = k.repeat_hits(random.data(), random.size());
  EXPECT_EQ(r.queries, 65536u / 32 - 2);
  EXPECT_EQ(r.hits8, 0u);
  r = k.repeat_hits(expo.data(), expo.size());
  EXPECT_LT(r.hits16 * 100, r.queries) << "chance 16-byte repeats in skewed bytes";
  r = k.repeat_hits(zeros.data(), zeros.size());
  EXPECT_GE(r.hits16 + 1, r.queries);
  // Random rows repeated every 808 bytes (not a power of two): found, and zstd is used.
  std::vector<uint8_t> rows(65536);
  for (size_t i = 0; i < rows.size(); ++i) rows[i] = random[i % 808];
  r = k.repeat_hits(rows.data(), rows.size());
  EXPECT_GT(r.hits16 * 2, r.queries);
  if (const HuffKernels* avx2 = huff_kernels_avx2(); avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2"))
    for (const std::vector<uint8_t>* v : std::initializer_list<const std::vector<uint8_t>*>{&random, &expo, &zeros, &rows})
      for (size_t n : {0, 7, 8, 40, 41, 1000, 65536}) {
        const RepeatHits a = k.repeat_hits(v->data(), n), b = avx2->repeat_hits(v->data(), n);
        EXPECT_EQ(a.queries, b.queries);
        EXPECT_EQ(a.hits8, b.hits8);
        EXPECT_EQ(a.hits16, b.hits16);
      }
  StreamEncoder enc;
  StreamPolicy p = policy(8, 9, 0);
  p.min_huff_gain = 0.03;
  p.zstd_probe_level = 1;
  std::vector<uint8_t> out;
  EXPECT_EQ(enc.encode(rows.data(), rows.size(), p, out), StreamMode::zstd);
  LzHint hint = LzHint::unknown;
  out.clear();
  EXPECT_EQ(enc.encode(rows.data(), rows.size(), p, out, &hint), StreamMode::zstd);
  EXPECT_EQ(hint, LzHint::repeats);
  hint = LzHint::none;  // the chunk's first stream found no repeats: no zstd trial here
  out.clear();
  EXPECT_EQ(enc.encode(rows.data(), rows.size(), p, out, &hint), StreamMode::raw);
  hint = LzHint::unknown;
  out.clear();
  EXPECT_EQ(enc.encode(random.data(), random.size(), p, out, &hint), StreamMode::raw);
  EXPECT_EQ(hint, LzHint::none);
}

TEST(StreamCoder, SkewedPolicyStillStoresRandomBytes) {
  StreamEncoder enc;
  StreamDecoder dec;
  const auto random = bytes_with(65536, 31, 3);
  StreamPolicy p = policy(8, 9, 0);
  p.min_huff_gain = 0.03;
  p.skewed = true;  // wrong here: the full path must still find the bytes incompressible
  std::vector<uint8_t> out;
  EXPECT_EQ(enc.encode(random.data(), random.size(), p, out), StreamMode::raw);
  std::vector<uint8_t> back(random.size());
  size_t pos = 0;
  EXPECT_EQ(0, std::memcmp(dec.decode(out, pos, random.size(), back.data()), random.data(), random.size()));
}

TEST(Huffman, MultiSymbolEntriesMatchAGreedyDecode) {
  // Every entry of a 9-bit multi table: the symbols a greedy decode of its index yields
  // (at most four, only whole codes within the 9 bits), their bits, lengths and count.
  std::mt19937 rng(5);
  for (int trial = 0; trial < 200; ++trial) {
    uint32_t counts[256] = {};
    const int used = 1 + static_cast<int>(rng() % (trial % 4 == 0 ? 3 : 60));
    for (int s = 0; s < used; ++s) counts[(s * 13 + trial) & 255] = 1 + rng() % (trial % 3 == 0 ? 3 : 5000);
    HuffLengths L;
    huff_build_lengths(counts, 9, L);
    HuffEncTable enc;
    huff_build_encoder(L, enc);
    static HuffDecTable t;
    huff_build_decoder(L, huff_table_bits(L.max_len), t);
    ASSERT_TRUE(huff_use_multi(t.bits));
    for (uint32_t j = 0; j < (1u << kHuffMultiBits); ++j) {
      uint8_t want[8] = {};
      int lens[4], used_bits;
      const int count = greedy_decode(L, enc, j, kHuffMultiBits, 4, want + 1, lens, used_bits);
      for (int k = 0; k < count; ++k) want[5 + k / 2] |= static_cast<uint8_t>(lens[k] << (4 * (k & 1)));
      want[0] = static_cast<uint8_t>(used_bits);
      want[7] = static_cast<uint8_t>(count);
      uint8_t got[8];
      std::memcpy(got, &t.multi[j], 8);
      for (int k = count; k < 4; ++k) got[1 + k] = 0;  // bytes past the count are not specified
      ASSERT_EQ(0, std::memcmp(got, want, 8)) << "trial " << trial << " index " << j;
    }
  }
}

TEST(Huffman, PairEntriesMatchAGreedyDecode) {
  // Every entry of a 10- or 11-bit pair table: the symbols a greedy decode of its index
  // yields (at most two, only whole codes within the index bits), their bits and count.
  std::mt19937 rng(6);
  for (int trial = 0; trial < 200; ++trial) {
    uint32_t counts[256] = {};
    const int used = 2 + static_cast<int>(rng() % 200);
    for (int s = 0; s < used; ++s) counts[(s * 7 + trial) & 255] = 1 + rng() % (trial % 2 ? 50 : 100000);
    HuffLengths L;
    huff_build_lengths(counts, 11, L);
    if (L.max_len <= kHuffMultiBits) continue;  // a multi table
    HuffEncTable enc;
    huff_build_encoder(L, enc);
    static HuffDecTable t;
    const int bits = huff_table_bits(L.max_len);
    huff_build_decoder(L, bits, t);
    ASSERT_FALSE(huff_use_multi(t.bits));
    for (uint32_t j = 0; j < (1u << bits); ++j) {
      uint8_t want[4] = {};
      int lens[2], used_bits;
      const int count = greedy_decode(L, enc, j, bits, 2, want + 1, lens, used_bits);
      ASSERT_GE(count, 1) << "a complete code decodes every index";
      want[0] = static_cast<uint8_t>(used_bits);
      want[3] = static_cast<uint8_t>(count);
      uint8_t got[4];
      std::memcpy(got, &t.pair[j], 4);
      if (count < 2) got[2] = 0;  // the byte past the count is not specified
      ASSERT_EQ(0, std::memcmp(got, want, 4)) << "trial " << trial << " index " << j;
    }
  }
}

TEST(StreamCoder, DriftingStatisticsUseSeveralTables) {
  StreamEncoder enc;
  auto drift = bytes_with(65536, 9, 5);
  std::vector<uint8_t> one, many;
  enc.encode(drift.data(), drift.size(), policy(1, 11, 0), one);
  enc.encode(drift.data(), drift.size(), policy(16, 11, 0), many);
  ASSERT_EQ(many[0], static_cast<uint8_t>(StreamMode::huff));
  EXPECT_GT(many[6], 1) << "table count";
  EXPECT_LT(many.size(), one.size() * 0.95);
}

// The prefetcher spreads its range over the planned steps: done within that many, not before
// its lines are all touched.
TEST(Prefetcher, SpreadsItsRangeOverThePlannedSteps) {
  std::vector<uint8_t> buf(1000);  // 16 lines of 64 bytes
  for (size_t calls : {1, 3, 15, 16, 40}) {
    Prefetcher p(buf.data(), buf.size());
    p.plan(calls);
    const size_t per_step = (16 + calls - 1) / calls, steps = (16 + per_step - 1) / per_step;
    EXPECT_LE(steps, calls);
    for (size_t i = 0; i < steps; ++i) {
      EXPECT_FALSE(p.done()) << calls << " calls, step " << i;
      p.step();
    }
    EXPECT_TRUE(p.done()) << calls << " calls";
  }
  Prefetcher none;  // touches nothing
  none.plan(5);
  none.step();
  EXPECT_TRUE(none.done());
}

TEST(HuffKernels, PortableAndAvx2AgreeBitForBit) {
  const HuffKernels* avx2 = huff_kernels_avx2();
  if (!avx2 || !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("bmi2")) GTEST_SKIP() << "no AVX2/BMI2";
  const HuffKernels& scalar = huff_kernels_scalar();
  // Kind 8: kind 7's deep trees limited to 10 bits. The decode loop is compiled per index
  // width (9-bit multi tables, 10- and 11-bit pair tables): the longest streams reach each.
  for (int kind : {0, 1, 2, 4, 5, 7, 8})
    for (size_t n : {1, 17, 4096, 20000, 65535, 65536}) {
      const auto in = bytes_with(n, static_cast<uint32_t>(kind + n), kind == 8 ? 7 : kind);
      uint32_t counts[256] = {};
      for (uint8_t c : in) counts[c]++;
      HuffLengths L;
      const int limit = kind == 4 ? 11 : kind == 8 ? 10 : 9;
      huff_build_lengths(counts, limit, L);
      if (n == 65536 && (kind == 4 || kind == 8)) {
        ASSERT_EQ(L.max_len, limit) << "kind " << kind;
      }
      HuffEncTable et;
      huff_build_encoder(L, et);
      std::vector<HuffPairEntry> pairs(65536);
      huff_build_pair_encoder(L, et, pairs.data());
      static HuffDecTable dt;
      huff_build_decoder(L, huff_table_bits(L.max_len), dt);
      const size_t block = 4096, n_blocks = (n - 1) / block + 1;
      std::vector<const HuffEncEntry*> etabs(n_blocks, et.data());
      std::vector<const HuffPairEntry*> ptabs(n_blocks, pairs.data());
      std::vector<const HuffDecTable*> dtabs(n_blocks, &dt);
      // The portable and AVX2 kernels, each with and without pair tables: one output.
      std::vector<uint8_t> bufs[4][4];
      uint8_t* ptrs[4][4];
      size_t sizes[4][4];
      for (int k = 0; k < 4; ++k) {
        for (int s = 0; s < 4; ++s) { bufs[k][s].assign(n * 2 + 64, 0); ptrs[k][s] = bufs[k][s].data(); }
        (k & 1 ? avx2 : &scalar)->encode4(in.data(), n, block, etabs.data(), k & 2 ? ptabs.data() : nullptr, ptrs[k], sizes[k]);
      }
      for (int k = 1; k < 4; ++k)
        for (int s = 0; s < 4; ++s) {
          ASSERT_EQ(sizes[0][s], sizes[k][s]) << "variant " << k;
          ASSERT_EQ(0, std::memcmp(ptrs[0][s], ptrs[k][s], sizes[0][s])) << "variant " << k;
        }
      std::vector<uint8_t> packed;
      for (int s = 0; s < 4; ++s) packed.insert(packed.end(), ptrs[0][s], ptrs[0][s] + sizes[0][s]);
      const uint8_t* streams[4] = {packed.data(), nullptr, nullptr, nullptr};
      for (int s = 1; s < 4; ++s) streams[s] = streams[s - 1] + sizes[0][s - 1];
      for (const HuffKernels* k : {&scalar, avx2}) {
        std::vector<uint8_t> out(n);
        uint64_t consumed[4];
        std::vector<uint8_t> merged(2 * n);  // what a bf16 chunk's merge would write next
        Prefetcher warm(merged.data(), merged.size());
        k->decode4(streams, packed.data() + packed.size(), n, block, dtabs.data(), huff_table_bits(L.max_len), out.data(), consumed,
                   warm);
        ASSERT_EQ(out, in) << "kind " << kind << " n " << n;
        for (int s = 0; s < 4; ++s) EXPECT_EQ((consumed[s] + 7) / 8, sizes[0][s]);
        // The decode loop's rounds cover the range. A stream of a few bytes (the constant one)
        // is decoded outside the loop, without stepping it: the merge is then just not warmed.
        if (n >= 4096 && kind != 0) {
          EXPECT_TRUE(warm.done()) << "kind " << kind << " n " << n;
        }
      }
    }
}

// Flat codes (every code L bits) decode through their own kernel: it must give what the table
// decoder gives on the same bitstreams, for every L, length, several tables with different
// symbols, both builds, and must not read past the end of a stream cut short.
TEST(HuffKernels, FlatDecodeMatchesTheTableDecoder) {
  const HuffKernels* avx2 = huff_kernels_avx2();
  const bool has_avx2 = avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
  const HuffKernels& scalar = huff_kernels_scalar();
  std::mt19937 rng(7);
  for (int L = 1; L <= kHuffFlatMaxBits; ++L)
    for (size_t n : {1, 7, 8, 31, 32, 33, 100, 4095, 4096, 4097, 20000, 65536}) {
      // Two tables, each over its own 2^L symbols (a random subset of the bytes); blocks
      // alternate between them.
      HuffLengths lens[2];
      std::vector<uint8_t> syms[2];
      for (int t = 0; t < 2; ++t) {
        std::vector<uint8_t> all(256);
        for (int i = 0; i < 256; ++i) all[i] = static_cast<uint8_t>(i);
        std::shuffle(all.begin(), all.end(), rng);
        syms[t].assign(all.begin(), all.begin() + (1 << L));
        uint32_t counts[256] = {};
        for (uint8_t c : syms[t]) counts[c] = 1;  // equal counts: a flat code
        huff_build_lengths(counts, 11, lens[t]);
        ASSERT_EQ(huff_flat_length(lens[t]), L);
      }
      const size_t block = 4096, n_blocks = (n - 1) / block + 1;
      std::vector<uint8_t> in(n);
      for (size_t i = 0; i < n; ++i) in[i] = syms[(i / block) & 1][rng() & ((1u << L) - 1)];
      HuffEncTable et[2];
      static HuffDecTable dt[2];
      uint8_t maps[2][kHuffFlatMapSize];
      for (int t = 0; t < 2; ++t) {
        huff_build_encoder(lens[t], et[t]);
        huff_build_decoder(lens[t], huff_table_bits(L), dt[t]);
        huff_build_flat_map(lens[t], maps[t]);
      }
      std::vector<const HuffEncEntry*> etabs(n_blocks);
      std::vector<const HuffDecTable*> dtabs(n_blocks);
      std::vector<const uint8_t*> mtabs(n_blocks);
      for (size_t b = 0; b < n_blocks; ++b) { etabs[b] = et[b & 1].data(); dtabs[b] = &dt[b & 1]; mtabs[b] = maps[b & 1]; }
      std::vector<uint8_t> bufs[4];
      uint8_t* ptrs[4];
      size_t sizes[4];
      for (int s = 0; s < 4; ++s) { bufs[s].assign(n * 2 + 64, 0); ptrs[s] = bufs[s].data(); }
      scalar.encode4(in.data(), n, block, etabs.data(), nullptr, ptrs, sizes);
      // The four bitstreams back to back in a buffer of exactly their size (ASan sees overreads).
      size_t total = 0;
      for (size_t z : sizes) total += z;
      std::unique_ptr<uint8_t[]> packed(new uint8_t[total]);
      const uint8_t* streams[4];
      for (size_t s = 0, at = 0; s < 4; at += sizes[s], ++s) {
        std::memcpy(packed.get() + at, ptrs[s], sizes[s]);
        streams[s] = packed.get() + at;
      }
      std::vector<uint8_t> want(n);
      uint64_t want_bits[4];
      Prefetcher none;
      scalar.decode4(streams, packed.get() + total, n, block, dtabs.data(), huff_table_bits(L), want.data(), want_bits, none);
      ASSERT_EQ(want, in) << "table decoder, L " << L << " n " << n;
      for (const HuffKernels* k : {&scalar, has_avx2 ? avx2 : nullptr}) {
        if (!k) continue;
        std::vector<uint8_t> out(n + 1, 0xAB);
        uint64_t bits[4];
        k->decode_flat4(streams, packed.get() + total, n, block, mtabs.data(), L, out.data(), bits);
        ASSERT_EQ(0, std::memcmp(out.data(), in.data(), n)) << "L " << L << " n " << n << (k == avx2 ? " avx2" : " portable");
        EXPECT_EQ(out[n], 0xAB) << "wrote past the symbols";
        for (int s = 0; s < 4; ++s) EXPECT_EQ(bits[s], want_bits[s]) << "stream " << s;
        // Cut short: the last stream loses half its bytes. The kernel reads only up to the new
        // end and reports the bits the symbols need, which no longer fit (the caller's check).
        const size_t cut = sizes[3] / 2 + 1;
        if (sizes[3] > 0 && cut <= sizes[3]) {
          std::unique_ptr<uint8_t[]> shorter(new uint8_t[total - cut]);
          std::memcpy(shorter.get(), packed.get(), total - cut);
          const uint8_t* st[4];
          for (int s = 0; s < 4; ++s) st[s] = shorter.get() + (streams[s] - packed.get());
          k->decode_flat4(st, shorter.get() + total - cut, n, block, mtabs.data(), L, out.data(), bits);
          EXPECT_GT((bits[3] + 7) / 8, sizes[3] - cut);
        }
      }
    }
}

TEST(HuffKernels, BlockHistogramsMatchAPlainCount) {
  const HuffKernels* avx2 = huff_kernels_avx2();
  const bool has_avx2 = avx2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
  // Kinds: constant, two symbols, exponent-like (bytes outside the counted window), uniform,
  // wide, drifting, deep trees; lengths around the 512-byte groups of the AVX2 kernel.
  for (int kind : {0, 1, 2, 3, 4, 5, 7})
    for (size_t n : {1, 7, 511, 512, 513, 4095, 4096, 4097, 70000, 200003})
      for (size_t block : {4, 4096, 65536, 131072}) {
        const auto in = bytes_with(n, static_cast<uint32_t>(n + block + kind), kind);
        const size_t n_blocks = (n - 1) / block + 1;
        std::vector<uint32_t> want(n_blocks * 256, 0), total_want(256, 0);
        for (size_t i = 0; i < n; ++i) { want[(i / block) * 256 + in[i]]++; total_want[in[i]]++; }
        for (const HuffKernels* k : {&huff_kernels_scalar(), has_avx2 ? avx2 : nullptr}) {
          if (!k) continue;
          std::vector<uint32_t> got(n_blocks * 256, 0xDEAD), total(256, 0);
          k->histogram_blocks(in.data(), n, block, reinterpret_cast<uint32_t(*)[256]>(got.data()), total.data());
          ASSERT_EQ(got, want) << "kind " << kind << " n " << n << " block " << block;
          ASSERT_EQ(total, total_want);
        }
      }
}

// The chunk checksums use xxHash's run-time dispatcher (AVX2/AVX-512): it must compute the
// very function of the plain XXH3_64bits, at every length class of XXH3 (0, 1-3, 4-8, 9-16,
// 17-128, 129-240, long inputs with a partial last stripe/block).
TEST(Checksum, DispatchedXxh3EqualsThePlainOne) {
  std::mt19937 rng(7);
  std::vector<uint8_t> buf(300000);
  for (auto& b : buf) b = static_cast<uint8_t>(rng());
  for (size_t n : {size_t{0}, size_t{1}, size_t{3}, size_t{4}, size_t{8}, size_t{9}, size_t{16}, size_t{17}, size_t{128},
                   size_t{129}, size_t{240}, size_t{241}, size_t{1023}, size_t{1024}, size_t{1025}, size_t{65536},
                   size_t{131071}, size_t{300000}})
    for (size_t off : {size_t{0}, size_t{1}, size_t{7}}) {
      const size_t len = std::min(n, buf.size() - off);
      EXPECT_EQ(xxh3({buf.data() + off, len}), XXH3_64bits(buf.data() + off, len)) << "length " << len << " offset " << off;
    }
  EXPECT_EQ(xxh3({}), UINT64_C(0x2D06800538D394C2));  // XXH3_64bits of no bytes, from the xxHash spec's test vectors
}

TEST(SplitKernels, PortableAndAvx2AgreeAndInvert) {
  const SplitKernels& a = split_kernels_scalar();
  const SplitKernels* b = split_kernels_avx2();
  std::mt19937 rng(3);
  for (size_t n : {0, 1, 31, 32, 33, 63, 64, 65, 1000}) {
    std::vector<uint8_t> src(4 * n + 1);
    for (auto& c : src) c = static_cast<uint8_t>(rng());
    std::vector<uint8_t> s[8];
    for (auto& v : s) v.assign(n + 1, 0);
    std::vector<uint8_t> back(4 * n + 1, 0);
    a.split32(src.data(), n, s[0].data(), s[1].data(), s[2].data(), s[3].data());
    a.merge32(s[0].data(), s[1].data(), s[2].data(), s[3].data(), n, back.data());
    EXPECT_EQ(0, std::memcmp(back.data(), src.data(), 4 * n));
    a.split16(src.data(), n, s[4].data(), s[5].data());
    a.merge16(s[4].data(), s[5].data(), n, back.data());
    EXPECT_EQ(0, std::memcmp(back.data(), src.data(), 2 * n));
    if (!b || !__builtin_cpu_supports("avx2")) continue;
    std::vector<uint8_t> t[6];
    for (auto& v : t) v.assign(n + 1, 0);
    b->split32(src.data(), n, t[0].data(), t[1].data(), t[2].data(), t[3].data());
    for (int k = 0; k < 4; ++k) EXPECT_EQ(t[k], s[k]) << "split32 n " << n << " stream " << k;
    b->merge32(t[0].data(), t[1].data(), t[2].data(), t[3].data(), n, back.data());
    EXPECT_EQ(0, std::memcmp(back.data(), src.data(), 4 * n));
    b->split16(src.data(), n, t[4].data(), t[5].data());
    EXPECT_EQ(t[4], s[4]);
    EXPECT_EQ(t[5], s[5]);
    b->merge16(t[4].data(), t[5].data(), n, back.data());
    EXPECT_EQ(0, std::memcmp(back.data(), src.data(), 2 * n));
  }
}

namespace {

// Special bit patterns per dtype: NaN payloads (quiet and signalling), +-0, subnormals, +-inf.
std::vector<uint8_t> special_values(DType d, size_t n) {
  std::vector<uint32_t> pats;
  switch (d) {
    case DType::fp32: pats = {0x7FC00000, 0x7FC00001, 0xFFBFFFFF, 0x7F800001, 0x80000000, 0, 1, 0x807FFFFF,
                              0x7F800000, 0xFF800000, 0x3F800000, 0x00400000}; break;
    case DType::bf16: pats = {0x7FC0, 0x7FC1, 0xFFFF, 0x7F81, 0x8000, 0, 1, 0x807F, 0x7F80, 0xFF80, 0x3F80}; break;
    case DType::fp16: pats = {0x7E00, 0x7E01, 0xFFFF, 0x7C01, 0x8000, 0, 1, 0x83FF, 0x7C00, 0xFC00, 0x3C00}; break;
    default: pats = {0x7F, 0xFF, 0x80, 0, 1, 0x78, 0xF8, 0x7C, 0xFC}; break;
  }
  const size_t es = dtype_size(d);
  std::vector<uint8_t> v(n * es);
  std::mt19937 rng(static_cast<uint32_t>(n));
  for (size_t i = 0; i < n; ++i) {
    const uint32_t x = (rng() % 4 == 0) ? static_cast<uint32_t>(rng()) : pats[rng() % pats.size()];
    std::memcpy(&v[i * es], &x, es);  // little-endian host
  }
  return v;
}

}  // namespace

TEST(ChunkCodec, RoundTripsDtypesLengthsLevelsAndSpecialValues) {
  ChunkEncoder enc;
  ChunkDecoder dec;
  for (int d = 0; d < kDTypeCount; ++d)
    for (size_t n : {1, 2, 3, 31, 32, 33, 4097, 65535, 65536})
      for (int level : {1, 3, 5, 9})
        for (int data : {0, 1, 2}) {
          const DType dtype = static_cast<DType>(d);
          const size_t es = dtype_size(dtype);
          std::vector<uint8_t> in;
          if (data == 0) in = special_values(dtype, n);
          else if (data == 1) in.assign(n * es, 0x42);  // constant tensor
          else in = bytes_with(n * es, static_cast<uint32_t>(n + level), 3);  // random bytes
          std::vector<uint8_t> payload;
          enc.encode(dtype, in.data(), n, level, payload);
          ASSERT_LE(payload.size(), chunk_payload_bound(dtype, n));
          std::vector<uint8_t> out(n * es + 8, 0xCD);
          dec.decode(dtype, payload, out.data(), n);
          ASSERT_EQ(0, std::memcmp(out.data(), in.data(), n * es)) << dtype_name(dtype) << " n " << n << " level " << level;
          for (int k = 0; k < 8; ++k) ASSERT_EQ(out[n * es + k], 0xCD) << "wrote past the chunk";
          const auto stats = describe_chunk(dtype, payload, n);
          if (payload[0] == static_cast<uint8_t>(StreamMode::zstd_elements)) {
            ASSERT_EQ(stats.size(), 1u);  // one zstd frame of the unsplit elements
            EXPECT_EQ(stats[0].raw_size, n * es);
          } else {
            ASSERT_EQ(static_cast<int>(stats.size()), stream_count(dtype));
          }
        }
}

TEST(ChunkCodec, EncodingIsDeterministicAndLeavesInputAlone) {
  ChunkEncoder a, b;
  auto in = special_values(DType::bf16, 30000);
  const auto copy = in;
  std::vector<uint8_t> p1, p2;
  a.encode(DType::bf16, in.data(), 30000, 3, p1);
  b.encode(DType::bf16, in.data(), 30000, 3, p2);
  a.encode(DType::bf16, in.data(), 30000, 3, p2 = {});
  EXPECT_EQ(in, copy);
  std::vector<uint8_t> p3;
  b.encode(DType::bf16, in.data(), 30000, 3, p3);
  EXPECT_EQ(p1, p3);
}

namespace {
// fp32 values drawn from a pool of `distinct` random normal-range floats: values repeat, but
// no byte stream has runs (what an STFT basis or a few-valued tensor looks like).
std::vector<uint8_t> pooled_fp32(size_t n, size_t distinct, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint32_t> pool(distinct);
  for (auto& v : pool) v = (rng() & 0x807fffffu) | ((118u + rng() % 8) << 23);
  std::vector<uint8_t> out(4 * n);
  for (size_t i = 0; i < n; ++i) std::memcpy(&out[4 * i], &pool[rng() % distinct], 4);
  return out;
}
}  // namespace

TEST(ChunkCodec, RepeatedValuesUseZstdOfTheElements) {
  ChunkEncoder enc;
  ChunkDecoder dec;
  const size_t n = 65536;
  const auto pooled = pooled_fp32(n, 3000, 5);
  std::vector<uint8_t> out(4 * n), payload;
  size_t split_size = 0;  // levels 1-2: split streams only
  for (int level : {1, 2, 3, 5, 9}) {
    payload.clear();
    enc.encode(DType::fp32, pooled.data(), n, level, payload);
    const bool elements = payload[0] == static_cast<uint8_t>(StreamMode::zstd_elements);
    EXPECT_EQ(elements, level >= 3) << "level " << level;  // levels 1-2 never try LZ
    if (level <= 2) split_size = payload.size();
    else EXPECT_LT(payload.size(), split_size * 9 / 10) << "level " << level;
    dec.decode(DType::fp32, payload, out.data(), n);
    ASSERT_EQ(0, std::memcmp(out.data(), pooled.data(), 4 * n)) << "level " << level;
  }
  // Values that repeat only because their low 16 bits are zero (bf16 stored as fp32): the
  // split streams already code them small, so the probe skips the zstd trial.
  std::vector<uint8_t> clean = pooled_fp32(n, 60000, 6);
  for (size_t i = 0; i < n; ++i) clean[4 * i] = clean[4 * i + 1] = 0;
  payload.clear();
  enc.encode(DType::fp32, clean.data(), n, 3, payload);
  EXPECT_NE(payload[0], static_cast<uint8_t>(StreamMode::zstd_elements));
  // Random mantissas never repeat: no trial, split streams.
  const auto plain = pooled_fp32(n, 1u << 24, 7);
  payload.clear();
  enc.encode(DType::fp32, plain.data(), n, 3, payload);
  EXPECT_NE(payload[0], static_cast<uint8_t>(StreamMode::zstd_elements));
  EXPECT_LT(sampled_repeat_rate32(plain.data(), n), 0.01);
  EXPECT_GT(sampled_repeat_rate32(pooled.data(), n), 0.5);
  // The slow levels try it on 2-byte dtypes too.
  std::vector<uint8_t> rows(2 * n);
  for (size_t i = 0; i < n; ++i) std::memcpy(&rows[2 * i], &pooled[4 * (i % 1000) + 2], 2);
  payload.clear();
  enc.encode(DType::bf16, rows.data(), n, 9, payload);
  dec.decode(DType::bf16, payload, out.data(), n);
  ASSERT_EQ(0, std::memcmp(out.data(), rows.data(), 2 * n));
}

// Levels 1-2 code with the split streams' own coders only; from level 3, LZ (zstd) takes a
// chunk whose rows repeat. Rows of 808 bf16 values (not a power of two) with skewed exponents.
TEST(ChunkCodec, LzIsTriedFromLevel3) {
  ChunkEncoder enc;
  ChunkDecoder dec;
  const size_t n = 65536;
  const auto pooled = pooled_fp32(808, 808, 13);
  std::vector<uint8_t> rows(2 * n), out(2 * n), payload;
  for (size_t i = 0; i < n; ++i) std::memcpy(&rows[2 * i], &pooled[4 * (i % 808) + 2], 2);
  size_t sizes[4] = {};
  for (int level : {1, 2, 3}) {
    payload.clear();
    enc.encode(DType::bf16, rows.data(), n, level, payload);
    bool lz = false;
    for (const StreamStats& s : describe_chunk(DType::bf16, payload, n))
      lz |= s.mode == static_cast<uint8_t>(StreamMode::zstd) || s.mode == static_cast<uint8_t>(StreamMode::zstd_elements);
    EXPECT_EQ(lz, level >= 3) << "level " << level;
    sizes[level] = payload.size();
    dec.decode(DType::bf16, payload, out.data(), n);
    ASSERT_EQ(0, std::memcmp(out.data(), rows.data(), 2 * n)) << "level " << level;
  }
  EXPECT_LT(sizes[3] * 4, sizes[2]) << "LZ codes 81 repeats of a row in far less than the split streams";
}

TEST(StreamCoder, ElementsZstdReplacesOnlyWhatItBeatsByTheMinimumGain) {
  StreamEncoder enc;
  const std::vector<uint8_t> src = pooled_fp32(4096, 100, 12);
  std::vector<uint8_t> probe(src.size());  // a stand-in for the split coding: as large as RAW
  ASSERT_TRUE(enc.replace_with_elements_zstd(src.data(), src.size(), 3, 0, 0.0, probe, 0));
  const size_t coded = probe.size();  // 5 + the zstd frame
  ASSERT_EQ(probe[0], static_cast<uint8_t>(StreamMode::zstd_elements));
  // A split coding of 1.9x that size: zstd saves 47%: replaced at a 40% bar, kept at 50%.
  constexpr size_t kPrefix = 3;  // bytes before `start` stay
  for (double gain : {0.4, 0.5}) {
    std::vector<uint8_t> out(kPrefix + coded * 19 / 10, 0xEE);
    for (size_t i = 0; i < kPrefix; ++i) out[i] = static_cast<uint8_t>(i + 1);
    const bool replaced = enc.replace_with_elements_zstd(src.data(), src.size(), 3, 0, gain, out, kPrefix);
    EXPECT_EQ(replaced, gain < 0.45) << gain;
    EXPECT_EQ(out.size(), kPrefix + (replaced ? coded : coded * 19 / 10)) << gain;
    for (size_t i = 0; i < kPrefix; ++i) EXPECT_EQ(out[i], i + 1);
  }
}

TEST(ChunkCodec, ElementsModeIsValidOnlyAsAWholeChunkOfTheRightSize) {
  ChunkEncoder enc;
  ChunkDecoder dec;
  const size_t n = 4096;
  const auto pooled = pooled_fp32(n, 300, 8);
  std::vector<uint8_t> payload;
  enc.encode(DType::fp32, pooled.data(), n, 3, payload);
  ASSERT_EQ(payload[0], static_cast<uint8_t>(StreamMode::zstd_elements));
  std::vector<uint8_t> out(4 * n);
  auto fails_with = [&](DType dtype, const std::vector<uint8_t>& p, size_t elems, const std::string& needle) {
    try {
      dec.decode(dtype, p, out.data(), elems);
      ADD_FAILURE() << "decoded without error; expected: " << needle;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::corrupt_input) << e.what();
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  // One element fewer or more than the frame holds.
  fails_with(DType::fp32, payload, n - 1, "does not decode to the stream's size");
  fails_with(DType::fp32, payload, n + 1, "does not decode to the stream's size");
  // The same frame read as 2-byte elements: 2x the count matches, anything else fails.
  fails_with(DType::bf16, payload, n, "does not decode to the stream's size");
  dec.decode(DType::bf16, payload, out.data(), 2 * n);
  EXPECT_EQ(0, std::memcmp(out.data(), pooled.data(), 4 * n));
  // Bytes after the frame.
  auto trailing = payload;
  trailing.push_back(0);
  fails_with(DType::fp32, trailing, n, "trailing");
  // 1-byte dtypes have a single stream: mode 4 is not valid there.
  fails_with(DType::bytes, payload, 4 * n, "only valid as a chunk's first stream");
  // Nor as a later stream of a split chunk: a RAW exponent stream, then mode 4.
  std::vector<uint8_t> later(1 + n, 0);
  later.insert(later.end(), payload.begin(), payload.end());
  fails_with(DType::fp32, later, n, "only valid as a chunk's first stream");
}

TEST(ChunkCodec, CorruptPayloadsThrowOrDecodeWithoutOverrun) {
  // Any change either throws tenzip::Error or yields some bytes (the container's checksum
  // catches those); it never reads or writes out of bounds (run under ASan).
  ChunkEncoder enc;
  ChunkDecoder dec;
  std::mt19937 rng(11);
  for (int c = 0; c < 6; ++c) {
    // The sixth case is a ZSTD_ELEMENTS chunk (fp32 values from a small pool).
    const DType dtype = std::array{DType::bf16, DType::fp32, DType::fp16, DType::fp8_e4m3, DType::bytes, DType::fp32}[c];
    const size_t n = 9000;
    const auto in = c == 5 ? pooled_fp32(n, 500, 9) : bytes_with(n * dtype_size(dtype), 5, 2);
    std::vector<uint8_t> payload;
    enc.encode(dtype, in.data(), n, 3, payload);
    if (c == 5) {
      ASSERT_EQ(payload[0], static_cast<uint8_t>(StreamMode::zstd_elements));
    }
    std::vector<uint8_t> out(n * dtype_size(dtype));
    for (int trial = 0; trial < 400; ++trial) {
      auto bad = payload;
      if (trial % 4 == 0) bad.resize(rng() % bad.size());
      else for (int f = 0; f < 1 + trial % 3; ++f) bad[rng() % bad.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
      try {
        dec.decode(dtype, bad, out.data(), n);
      } catch (const Error& e) {
        EXPECT_TRUE(e.code() == Errc::corrupt_input || e.code() == Errc::truncated_input) << e.what();
      }
    }
  }
}

TEST(ChunkCodec, RealCorpusTensorsRoundTrip) {
  namespace fs = std::filesystem;
  const fs::path root = TENZIP_CORPUS_TENSORS;
  if (!fs::exists(root / "manifest.json")) GTEST_SKIP() << "corpus tensors not extracted (ctest runs corpus.extract first)";
  ChunkEncoder enc;
  ChunkDecoder dec;
  int files = 0;
  size_t whole_chunks = 0;  // fp32 chunks coded as zstd of the elements (Silero's STFT basis)
  size_t flat7_chunks = 0;  // fp32 chunks whose top mantissa byte has a flat 7-bit code (rwkv)
  for (const char* dir : {"fp32", "fp16", "bf16"}) {
    const DType dtype = *parse_dtype(dir);
    for (const auto& entry : fs::directory_iterator(root / dir)) {
      if (entry.path().filename() == "ALL.raw") continue;
      std::ifstream f(entry.path(), std::ios::binary);
      std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), {});
      const size_t es = dtype_size(dtype), n = data.size() / es;
      size_t coded = 0, elements_chunks = 0;
      StreamDecoder streams;
      std::vector<uint8_t> out(65536 * es), payload;
      for (size_t i = 0; i < n; i += 65536) {
        const size_t m = std::min<size_t>(65536, n - i);
        payload.clear();
        enc.encode(dtype, data.data() + i * es, m, 3, payload);
        coded += payload.size();
        elements_chunks += payload[0] == static_cast<uint8_t>(StreamMode::zstd_elements);
        if (dtype == DType::fp32 && payload[0] != static_cast<uint8_t>(StreamMode::zstd_elements)) {
          // Stream 1 of fp32 is the top mantissa byte: a flat 7-bit code in clean fp32.
          std::vector<uint8_t> scratch(m);
          size_t pos = 0;
          streams.decode(payload, pos, m, scratch.data());
          streams.decode(payload, pos, m, scratch.data());
          flat7_chunks += streams.last_flat_length() == 7;
        }
        dec.decode(dtype, payload, out.data(), m);
        ASSERT_EQ(0, std::memcmp(out.data(), data.data() + i * es, m * es)) << entry.path() << " chunk at " << i;
      }
      EXPECT_LT(coded, n * es) << entry.path() << " did not shrink";
      if (dtype == DType::fp32) whole_chunks += elements_chunks;
      ++files;
    }
  }
  EXPECT_GE(files, 20);
  EXPECT_GE(whole_chunks, 4u) << "the repeat probe no longer finds the corpus's repeated-value chunks";
  EXPECT_GE(flat7_chunks, 18u) << "clean fp32 (the rwkv files) no longer gets flat codes";
}
