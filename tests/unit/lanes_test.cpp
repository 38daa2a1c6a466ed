// The LANES stream mode (entropy/lanes.hpp, doc/FORMAT.md 12.6): tables, the encoder, and the
// portable and AVX-512 decoders, checked against the symbols and against each other
// (differentially: same output, same verdict on damaged streams); then through the stream
// coder, the chunk codec on the real corpus and the public API.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "codec/chunk_codec.hpp"
#include "container/format.hpp"
#include "entropy/lanes.hpp"
#include "entropy/stream_coder.hpp"
#include "split/split.hpp"
#include "tenzip/tenzip.hpp"

using namespace tenzip;
using namespace tenzip::detail;

namespace {

// kind 0: exponent-like with a long tail (escapes); 1: two symbols; 2: one symbol per block,
// a different one each block; 3: uniform over 256 (8-bit codes); 4: drifting statistics
// (several tables); 5: deep Fibonacci-like tree (lengths limited).
std::vector<uint8_t> symbols(size_t n, uint32_t seed, int kind) {
  std::mt19937 rng(seed);
  std::geometric_distribution<int> geo(0.35);
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    switch (kind) {
      case 0: v[i] = static_cast<uint8_t>(110 + std::min(geo(rng), 60)); break;
      case 1: v[i] = rng() % 5 == 0 ? 0x81 : 0x7e; break;
      case 2: v[i] = static_cast<uint8_t>(3 * (i / kLaneBlock)); break;
      case 3: v[i] = static_cast<uint8_t>(rng()); break;
      case 4: v[i] = static_cast<uint8_t>(100 + static_cast<int>((i / 5000) % 4) * 7 + std::min(geo(rng), 14)); break;
      default: {
        uint32_t r = rng();
        int s = 0;
        while (s < 40 && (r & 1)) { ++s; r >>= 1; if (!r) r = rng(); }
        v[i] = static_cast<uint8_t>(s);
      }
    }
  }
  return v;
}

// A coded section's streams, as the kernels take them.
struct Coded {
  std::vector<LaneTable> tables;
  std::vector<LaneDecTable> dec;
  std::vector<const LaneDecTable*> block_dec;
  std::vector<uint8_t> group[4];
  std::vector<uint8_t> escapes;
  LaneInput input() const {
    LaneInput in;
    for (int g = 0; g < 4; ++g) {
      in.group[g] = group[g].data();
      in.group_end[g] = group[g].data() + group[g].size();
    }
    in.escapes = escapes.data();
    in.escapes_end = escapes.data() + escapes.size();
    return in;
  }
};

// Codes steps * 128 symbols with one table per block of 4096, made from that block's counts.
Coded encode(const std::vector<uint8_t>& syms, size_t steps, LanesPass1Fn pass1 = lanes_pass1_portable,
             LanesPass2Fn pass2 = lanes_pass2_portable) {
  Coded c;
  const size_t blocks = (steps + kLaneBlockSteps - 1) / kLaneBlockSteps;
  c.tables.resize(blocks);
  c.dec.resize(blocks);
  std::vector<LaneEncTable> enc(blocks);
  std::vector<const LaneEncTable*> block_enc(blocks);
  for (size_t b = 0; b < blocks; ++b) {
    uint32_t counts[256] = {};
    for (size_t i = b * kLaneBlock; i < std::min(steps * kLaneStep, (b + 1) * kLaneBlock); ++i) ++counts[syms[i]];
    lane_make_table(counts, c.tables[b]);
    lane_build_encoder(c.tables[b], enc[b]);
    lane_build_decoder(c.tables[b], c.dec[b]);
    block_enc[b] = &enc[b];
    c.block_dec.push_back(&c.dec[b]);
  }
  uint8_t* groups[4];
  size_t sizes[4];
  for (int g = 0; g < 4; ++g) {
    c.group[g].resize(lane_group_bound(steps));
    groups[g] = c.group[g].data();
  }
  c.escapes.resize(steps * kLaneStep);
  LaneEncodeScratch scratch;
  c.escapes.resize(lanes_encode(syms.data(), steps, block_enc.data(), groups, sizes, c.escapes.data(), scratch, pass1, pass2));
  for (int g = 0; g < 4; ++g) c.group[g].resize(sizes[g]);
  return c;
}

std::vector<LanesDecodeFn> decoders() {
  std::vector<LanesDecodeFn> d = {lanes_decode_portable};
  if (LanesDecodeFn f = lanes_decode_avx512()) d.push_back(f);
  if (LanesDecodeFn f = lanes_decode_avx2()) d.push_back(f);
  return d;
}

TEST(Lanes, TablesAreCompleteEightBitCodesThatEscapeRareSymbols) {
  for (int kind = 0; kind < 6; ++kind) {
    const auto syms = symbols(kLaneBlock, 7 + kind, kind);
    uint32_t counts[256] = {};
    for (uint8_t s : syms) ++counts[s];
    LaneTable t;
    lane_make_table(counts, t);
    EXPECT_LE(t.lengths.max_len, kLaneBits);
    LaneEncTable enc;
    lane_build_encoder(t, enc);
    LaneDecTable dec;
    lane_build_decoder(t, dec);
    for (int s = 0; s < 256; ++s) {
      if (!counts[s]) continue;
      const uint32_t code = enc.code[s], len = enc.len[s] & 15;
      const bool esc = enc.len[s] & 0x80;
      ASSERT_TRUE(len > 0 || t.lengths.max_len == 0) << "kind " << kind << " symbol " << s << " has no code";
      // Every 8-bit window that starts with the code decodes to it.
      for (uint32_t x = code; x < 256; x += 1u << len) {
        ASSERT_EQ(dec.len[x] & 15, len);
        ASSERT_EQ((dec.len[x] & 0x80) != 0, esc);
        if (!esc) {
          ASSERT_EQ(dec.sym[x], s);
        }
      }
    }
    // The description round-trips.
    uint8_t desc[300];
    const size_t size = lane_write_description(t, desc);
    ASSERT_EQ(size, lane_description_size(t));
    LaneTable back;
    ASSERT_EQ(lane_read_description({desc, size}, back), size);
    EXPECT_EQ(back.escape, t.escape);
    EXPECT_EQ(back.lengths.len, t.lengths.len);
  }
}

// Eight common symbols and 40 seen once: escaping the 40 beats giving them 8-bit codes.
TEST(Lanes, ALongTailOfSingletonsIsEscaped) {
  uint32_t counts[256] = {};
  for (int s = 0; s < 8; ++s) counts[100 + s] = 500;
  for (int s = 0; s < 40; ++s) counts[20 + s] = 1;
  LaneTable t;
  const uint64_t bits = lane_make_table(counts, t);
  ASSERT_GE(t.escape, 0);
  EXPECT_EQ(t.lengths.len[20], 0);
  EXPECT_NE(t.lengths.len[t.escape], 0);
  HuffLengths limited;
  huff_build_lengths(counts, kLaneBits, limited);
  EXPECT_LT(bits, huff_cost_bits(counts, limited));
}

// lane_make_table builds each escape threshold's tree from the sorted symbols of the full
// tree; here each is built from scratch, from its own counts. Both must pick the same code.
TEST(Lanes, EscapeThresholdsMatchTablesBuiltFromScratch) {
  uint32_t state = 12345;
  auto next = [&] { state = state * 1664525u + 1013904223u; return state >> 8; };
  int escaped_tables = 0;
  for (int trial = 0; trial < 400; ++trial) {
    // Skewed heads and tails of rare symbols (counts 1..20), at random places in 0..255.
    uint32_t counts[256] = {};
    const int head = 2 + static_cast<int>(next() % 30), tail = static_cast<int>(next() % 60);
    for (int i = 0; i < head; ++i) counts[next() % 256] += 1 + (next() % 4000) / (1 + i);
    for (int i = 0; i < tail; ++i) counts[next() % 256] += 1 + next() % 20;
    LaneTable t;
    const uint64_t bits = lane_make_table(counts, t);
    HuffLengths limited;
    huff_build_lengths(counts, kLaneBits, limited);
    uint64_t best = huff_cost_bits(counts, limited);
    LaneTable want;
    want.lengths = limited;
    HuffTree full;
    huff_build_tree(counts, full);
    if (full.n > 1 && full.max_depth > kLaneBits)
      for (uint32_t rare : {1u, 2u, 4u, 8u, 16u}) {
        uint32_t kept[256] = {};
        uint64_t escaped = 0;
        int lo = 256, hi = -1;
        for (int s = 0; s < 256; ++s)
          if (counts[s] > rare) { kept[s] = counts[s]; lo = std::min(lo, s); hi = s; }
          else escaped += counts[s];
        if (escaped == 0 || hi < 0) continue;
        const int esc = hi < 255 ? hi + 1 : lo > 0 ? lo - 1 : -1;
        if (esc < 0) continue;
        kept[esc] = static_cast<uint32_t>(escaped);
        HuffLengths l;
        huff_build_lengths(kept, kLaneBits, l);
        const uint64_t b = huff_cost_bits(kept, l) + 8 * escaped;
        if (b < best) { best = b; want.lengths = l; want.escape = esc; }
      }
    ASSERT_EQ(bits, best) << "trial " << trial;
    ASSERT_EQ(t.escape, want.escape) << "trial " << trial;
    ASSERT_EQ(t.lengths.len, want.lengths.len) << "trial " << trial;
    escaped_tables += t.escape >= 0;
  }
  EXPECT_GT(escaped_tables, 50);  // the escape paths were taken, not only the plain code
}

TEST(Lanes, DescriptionsRejectLongCodesAndBadEscapes) {
  uint32_t counts[256] = {};
  for (int s = 0; s < 20; ++s) counts[s] = 1u << s;  // an unlimited code would be 19 bits deep
  LaneTable t;
  lane_make_table(counts, t);
  uint8_t desc[300];
  size_t size = lane_write_description(t, desc);
  ASSERT_GT(lane_read_description({desc, size}, t), 0u);
  for (size_t cut = 0; cut < size; ++cut) EXPECT_EQ(lane_read_description({desc, cut}, t), 0u) << cut;
  // A 9-bit length: a valid HUFF table, not a LANES one.
  HuffLengths nine;
  huff_build_lengths(counts, 11, nine);
  ASSERT_GT(nine.max_len, 8);
  size = huff_write_description(nine, desc);
  desc[size] = 0;
  EXPECT_EQ(lane_read_description({desc, size + 1}, t), 0u);
  // has_escape 2, and an escape on a symbol without a code.
  lane_make_table(counts, t);
  size = lane_write_description(t, desc);
  const size_t flag = huff_description_size(t.lengths);
  desc[flag] = 2;
  EXPECT_EQ(lane_read_description({desc, size}, t), 0u);
  desc[flag] = 1;
  desc[flag + 1] = 200;  // outside the table's range
  EXPECT_EQ(lane_read_description({desc, flag + 2}, t), 0u);
}

TEST(Lanes, KernelsRoundTripAndAgree) {
  for (int kind = 0; kind < 6; ++kind)
    for (size_t steps : {1, 2, 31, 32, 33, 64, 100, 512}) {
      SCOPED_TRACE(testing::Message() << "kind " << kind << " steps " << steps);
      const auto syms = symbols(steps * kLaneStep, static_cast<uint32_t>(steps * 31 + kind), kind);
      const Coded c = encode(syms, steps);
      // The AVX-512 encoder's passes, each alone and both, give the same bytes as the portable ones.
      if (LanesPass1Fn simd = lanes_pass1_avx512()) {
        const Coded s = encode(syms, steps, simd);
        for (int g = 0; g < 4; ++g) ASSERT_EQ(s.group[g], c.group[g]) << "group " << g;
        ASSERT_EQ(s.escapes, c.escapes);
      }
      if (LanesPass2Fn simd = lanes_pass2_avx512()) {
        for (LanesPass1Fn first : {LanesPass1Fn{lanes_pass1_portable}, lanes_pass1_avx512()}) {
          if (!first) continue;
          const Coded s = encode(syms, steps, first, simd);
          for (int g = 0; g < 4; ++g) ASSERT_EQ(s.group[g], c.group[g]) << "group " << g;
          ASSERT_EQ(s.escapes, c.escapes);
        }
      }
      for (LanesDecodeFn decode : decoders()) {
        std::vector<uint8_t> out(steps * kLaneStep + 64, 0xAB);
        std::vector<uint8_t> merged(2 * syms.size());  // what a bf16 chunk's merge would write next
        Prefetcher warm(merged.data(), merged.size());
        ASSERT_TRUE(decode(c.input(), steps, c.block_dec.data(), out.data(), warm));
        EXPECT_TRUE(warm.done()) << "one step per step covers the range";
        ASSERT_EQ(0, std::memcmp(out.data(), syms.data(), syms.size()));
        EXPECT_EQ(out[syms.size()], 0xAB) << "wrote past the output";
      }
      // The decoder with the merge folded in writes what merge() makes of the symbols and the
      // other streams of 2- and 4-byte elements (exactly: compared with the portable merge).
      for (int es : {2, 4}) {
        const LanesDecodeMergedFn fused = lanes_decode_merged_avx512(es);
        if (!fused) continue;
        std::vector<std::vector<uint8_t>> rest;
        const uint8_t* streams[4] = {syms.data()};
        for (int s = 1; s < es; ++s) {
          rest.push_back(symbols(syms.size(), static_cast<uint32_t>(steps + 7 * kind + s), 3));
          streams[s] = rest.back().data();
        }
        std::vector<uint8_t> expect(es * syms.size());
        if (es == 2) split_kernels_scalar().merge16(streams[0], streams[1], syms.size(), expect.data());
        else split_kernels_scalar().merge32(streams[0], streams[1], streams[2], streams[3], syms.size(), expect.data());
        std::vector<uint8_t> out(expect.size() + 64, 0xAB);
        Prefetcher warm(out.data(), expect.size());
        ASSERT_TRUE(fused(c.input(), steps, c.block_dec.data(), streams + 1, out.data(), warm)) << es;
        ASSERT_EQ(0, std::memcmp(out.data(), expect.data(), expect.size())) << es;
        EXPECT_EQ(out[expect.size()], 0xAB) << "wrote past the output";
      }
    }
}

// Shortened, lengthened or garbled streams: both decoders say no (or, for garbled bytes that
// still parse, give the same output), never read outside the streams (ASan in CI).
TEST(Lanes, KernelsRejectDamagedStreamsAlike) {
  const size_t steps = 40;
  const auto syms = symbols(steps * kLaneStep, 5, 0);
  const Coded good = encode(syms, steps);
  ASSERT_FALSE(good.escapes.empty());
  std::mt19937 rng(3);
  for (int trial = 0; trial < 200; ++trial) {
    Coded c = good;
    const int what = trial % 4;
    std::vector<uint8_t>& s = what == 3 ? c.escapes : c.group[trial % 4 == 2 ? rng() % 4 : trial % 4];
    if (what == 0 && !s.empty()) s.pop_back();
    else if (what == 1) s.push_back(0);
    else if (!s.empty()) s[rng() % s.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    // Exact-size copies, so that ASan sees any over-read.
    Coded exact = c;
    for (auto& g : exact.group) g.shrink_to_fit();
    exact.escapes.shrink_to_fit();
    std::vector<std::vector<uint8_t>> outs;
    std::vector<bool> verdicts;
    for (LanesDecodeFn decode : decoders()) {
      std::vector<uint8_t> out(steps * kLaneStep);
      Prefetcher none;
      verdicts.push_back(decode(exact.input(), steps, good.block_dec.data(), out.data(), none));
      outs.push_back(out);
    }
    for (int es : {2, 4}) {  // the fused decoders, by their elements' top bytes
      const LanesDecodeMergedFn fused = lanes_decode_merged_avx512(es);
      if (!fused) continue;
      const size_t m = steps * kLaneStep;
      const std::vector<uint8_t> other(m, 0x5A);
      const uint8_t* rest[3] = {other.data(), other.data(), other.data()};
      std::vector<uint8_t> elems(es * m), top(m), b1(m), b2(m), b3(m);
      Prefetcher none;
      verdicts.push_back(fused(exact.input(), steps, good.block_dec.data(), rest, elems.data(), none));
      if (es == 2) split_kernels_scalar().split16(elems.data(), m, top.data(), b1.data());
      else split_kernels_scalar().split32(elems.data(), m, top.data(), b1.data(), b2.data(), b3.data());
      outs.push_back(top);
    }
    if (what <= 1) {
      EXPECT_FALSE(verdicts[0]) << "trial " << trial;
    }
    for (size_t d = 1; d < verdicts.size(); ++d) {
      ASSERT_EQ(verdicts[d], verdicts[0]) << "trial " << trial;
      if (verdicts[0]) {
        ASSERT_EQ(outs[d], outs[0]) << "trial " << trial;
      }
    }
  }
}

TEST(StreamCoder, LanesWhereAskedRoundTrip) {
  StreamEncoder enc;
  StreamDecoder dec;
  StreamPolicy p;
  p.lanes = true;
  p.skewed = true;
  for (int kind : {0, 1, 2, 4, 5})
    for (size_t n : {size_t{128}, size_t{129}, size_t{1000}, size_t{4095}, size_t{4096}, size_t{4097}, size_t{65536},
                     size_t{65536 + 77}, size_t{300000}}) {
      SCOPED_TRACE(testing::Message() << "kind " << kind << " n " << n);
      const auto in = symbols(n, static_cast<uint32_t>(n + kind), kind);
      std::vector<uint8_t> coded;
      const StreamMode mode = enc.encode(in.data(), n, p, coded);
      // Up to 64 blocks of 4096 (blocks grow beyond): LANES, unless CONST (one symbol) wins,
      // or RAW (the lanes' first 256 bytes outweigh the gain of a few hundred symbols).
      if (n > 64 * kLaneBlock) {
        EXPECT_NE(mode, StreamMode::lanes);
      } else if (n >= 1000 && (kind != 2 || n > kLaneBlock)) {
        EXPECT_EQ(mode, StreamMode::lanes);
      }
      std::vector<uint8_t> out(n + 1, 0xAB);
      size_t pos = 0;
      const uint8_t* got = dec.decode(coded, pos, n, out.data());
      ASSERT_EQ(pos, coded.size());
      ASSERT_EQ(0, std::memcmp(got, in.data(), n));
      EXPECT_EQ(out[n], 0xAB);
      const StreamHeader h = peek_stream(coded, 0, n);
      EXPECT_EQ(h.coded_size, coded.size());
    }
}

// Every byte of a LANES stream flipped, and every truncation: a clear error or a decode (a
// chunk checksum catches wrong bytes), never a crash or an out-of-bounds access.
TEST(StreamCoder, DamagedLanesStreamsFailCleanly) {
  StreamEncoder enc;
  StreamDecoder dec;
  StreamPolicy p;
  p.lanes = true;
  p.skewed = true;
  const size_t n = 5000;
  const auto in = symbols(n, 9, 0);
  std::vector<uint8_t> coded;
  ASSERT_EQ(enc.encode(in.data(), n, p, coded), StreamMode::lanes);
  std::vector<uint8_t> out(n);
  int errors = 0;
  for (size_t i = 0; i < coded.size(); ++i)
    for (uint8_t flip : {0x01, 0x80}) {
      std::vector<uint8_t> bad = coded;
      bad[i] ^= flip;
      size_t pos = 0;
      try {
        dec.decode(bad, pos, n, out.data());
      } catch (const Error& e) {
        EXPECT_TRUE(e.code() == Errc::corrupt_input || e.code() == Errc::truncated_input) << e.what();
        ++errors;
      }
    }
  EXPECT_GT(errors, static_cast<int>(coded.size()) / 2);
  for (size_t cut = 0; cut < coded.size(); ++cut) {
    const std::vector<uint8_t> bad(coded.begin(), coded.begin() + static_cast<ptrdiff_t>(cut));
    size_t pos = 0;
    EXPECT_THROW(dec.decode(bad, pos, n, out.data()), Error) << cut;
  }
}

// A chunk decode's result: the elements, or the error.
struct ChunkResult {
  bool threw = false;
  Errc code = Errc::internal;
  std::string what;
  std::vector<uint8_t> out;
};
template <class F>
ChunkResult chunk_result(size_t bytes, F&& f) {
  ChunkResult r;
  r.out.assign(bytes, 0);
  try {
    f(r.out.data());
  } catch (const Error& e) {
    r.threw = true;
    r.code = e.code();
    r.what = e.what();
    r.out.clear();
  }
  return r;
}

// Where the CPU has the LANES decoder with the merge folded in, bf16, fp16 and fp32 chunks
// decode through it: its result must be the plain path's (the streams in order, then merge()),
// the same elements or the same error, for every bit flip and every truncation of a chunk
// whose other streams are RAW and of one where they are coded (so that any stream can be the
// bad one).
TEST(ChunkCodec, FusedLanesMergeDecodesAndFailsAsThePlainPath) {
  if (!lanes_decoder_merged(2)) GTEST_SKIP() << "no fused LANES decoder on this CPU";
  std::mt19937 rng(11);
  for (DType dtype : {DType::bf16, DType::fp16, DType::fp32})
    for (bool coded : {false, true}) {
      SCOPED_TRACE(testing::Message() << dtype_name(dtype) << (coded ? " coded low bytes" : " raw low bytes"));
      const size_t es = dtype_size(dtype);
      const size_t n = 3000 + 77;  // 24 steps and a tail
      std::vector<uint8_t> src(es * n);
      for (size_t i = 0; i < n; ++i) {
        for (size_t b = 0; b + 1 < es; ++b) src[es * i + b] = static_cast<uint8_t>(coded ? 0x10 * (rng() % 3) : rng());
        // Exponent-like top bytes; a random sign makes the rotated low byte uniform (RAW).
        src[es * i + es - 1] = static_cast<uint8_t>(
            (0x3c + std::min<int>(std::geometric_distribution<int>(0.4)(rng), 9)) | (coded ? 0 : rng() & 0x80));
      }
      ChunkEncoder enc;
      std::vector<uint8_t> payload;
      enc.encode(dtype, src.data(), n, 3, payload, /*lanes=*/true);
      ASSERT_EQ(payload[0], static_cast<uint8_t>(StreamMode::lanes));
      size_t at = peek_stream(payload, 0, n).coded_size;
      bool any_coded = false;
      for (size_t s = 1; s < es; ++s) {
        const StreamHeader h = peek_stream(payload, at, n);
        any_coded |= h.mode != StreamMode::raw;
        at += h.coded_size;
      }
      ASSERT_EQ(any_coded, coded);
      ChunkDecoder fused;
      auto plain = [&](std::span<const uint8_t> p, uint8_t* dst) {
        StreamDecoder dec;
        std::vector<uint8_t> bufs[4];
        const uint8_t* streams[4];
        size_t pos = 0;
        for (size_t s = 0; s < es; ++s) {
          bufs[s].resize(n);
          streams[s] = dec.decode(p, pos, n, bufs[s].data());
        }
        if (pos != p.size()) throw Error(Errc::corrupt_input, "trailing bytes");
        merge(dtype, streams, n, dst);
      };
      // Only payloads whose first stream is LANES take the fused path (the rest share the code).
      auto check = [&](std::span<const uint8_t> p, const std::string& what) {
        if (!StreamDecoder::can_decode_merged(p, 0, static_cast<int>(es))) return;
        const ChunkResult a = chunk_result(es * n, [&](uint8_t* dst) { fused.decode(dtype, p, dst, n); });
        const ChunkResult b = chunk_result(es * n, [&](uint8_t* dst) { plain(p, dst); });
        ASSERT_EQ(a.threw, b.threw) << what << ": " << a.what << " | " << b.what;
        if (!a.threw) {
          ASSERT_EQ(a.out, b.out) << what;
        } else {
          ASSERT_EQ(errc_name(a.code), errc_name(b.code)) << what << ": " << a.what << " | " << b.what;
          if (b.what != "trailing bytes") {
            ASSERT_EQ(a.what, b.what) << what;
          }
        }
      };
      check(payload, "intact");
      const ChunkResult ok = chunk_result(es * n, [&](uint8_t* dst) { fused.decode(dtype, payload, dst, n); });
      ASSERT_EQ(ok.out, src);
      for (size_t i = 0; i < payload.size(); ++i)
        for (uint8_t flip : {0x01, 0x80}) {
          std::vector<uint8_t> bad = payload;
          bad[i] ^= flip;
          check(bad, "flip " + std::to_string(flip) + " at " + std::to_string(i));
        }
      for (size_t cut = 0; cut < payload.size(); ++cut) {
        const std::vector<uint8_t> bad(payload.begin(), payload.begin() + static_cast<ptrdiff_t>(cut));
        check(bad, "cut at " + std::to_string(cut));
      }
    }
}

TEST(ChunkCodec, RealCorpusTensorsRoundTripAsLanes) {
  namespace fs = std::filesystem;
  const fs::path root = TENZIP_CORPUS_TENSORS;
  if (!fs::exists(root / "manifest.json")) GTEST_SKIP() << "corpus tensors not extracted (ctest runs corpus.extract first)";
  ChunkEncoder enc;
  ChunkDecoder dec;
  size_t lanes_chunks = 0, plain = 0, with_lanes = 0;
  for (const char* dir : {"bf16", "fp32", "fp16"}) {
    const DType dtype = *parse_dtype(dir);
    std::ifstream f(root / dir / "ALL.raw", std::ios::binary);
    const std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), {});
    const size_t es = dtype_size(dtype), n = data.size() / es;
    std::vector<uint8_t> out(65536 * es), payload, reference;
    for (size_t i = 0; i < n; i += 65536) {
      const size_t m = std::min<size_t>(65536, n - i);
      payload.clear();
      enc.encode(dtype, data.data() + i * es, m, 3, payload, /*lanes=*/true);
      lanes_chunks += payload[0] == static_cast<uint8_t>(StreamMode::lanes);
      dec.decode(dtype, payload, out.data(), m);
      ASSERT_EQ(0, std::memcmp(out.data(), data.data() + i * es, m * es)) << dir << " chunk at " << i;
      reference.clear();
      enc.encode(dtype, data.data() + i * es, m, 3, reference);
      with_lanes += payload.size();
      plain += reference.size();
    }
  }
  EXPECT_GE(lanes_chunks, 200u);
  // What the layout costs in size (codes of <= 8 bits, escapes, the lanes' last bytes): < 0.5%.
  EXPECT_LT(static_cast<double>(with_lanes), 1.005 * static_cast<double>(plain));
}

TEST(Api, LanesFilesAreVersion3AndRoundTrip) {
  std::mt19937 rng(17);
  std::vector<uint8_t> src(3 * 65536 * 2 + 1000);
  for (size_t i = 0; i < src.size(); i += 2) {  // bf16-like: exponent bytes skewed, the rest random
    src[i] = static_cast<uint8_t>(rng());
    src[i + 1] = static_cast<uint8_t>(0x3c + std::min<int>(std::geometric_distribution<int>(0.4)(rng), 6));
  }
  src.push_back(0x5a);  // a byte that fills no element: a bytes tail segment
  for (DType dtype : {DType::bf16, DType::fp16, DType::fp32, DType::fp8_e4m3, DType::bytes})
    for (unsigned threads : {1u, 2u}) {
      SCOPED_TRACE(testing::Message() << dtype_name(dtype) << " threads " << threads);
      CompressOptions o;
      o.dtype = dtype;
      o.threads = threads;
      o.lanes = true;
      const auto packed = compress(src, o);
      EXPECT_EQ(load_u16(&packed[8]), 3u);
      EXPECT_EQ(decompress(packed, threads), src);
      o.lanes = false;
      EXPECT_EQ(load_u16(&compress(src, o)[8]), kFormatVersionDefault);
    }
}

}  // namespace
