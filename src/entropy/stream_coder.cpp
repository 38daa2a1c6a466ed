#include "entropy/stream_coder.hpp"

#include <zstd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cmath>
#include <cstring>
#include <string>

#include "entropy/huffman_dispatch.hpp"
#include "entropy/lanes.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

namespace {

constexpr int kMaxBlocks = 64;  // clustering is quadratic in blocks: coarser blocks beyond this

// c * log2(c), cached for small counts: the clustering cost function evaluates it a lot.
// The table is fetched once per stream (nlogn_table) and passed down: a function-local
// static would check its guard on every call.
const float* nlogn_table() noexcept {
  struct Table {
    float v[65537];
    Table() { v[0] = 0; for (int c = 1; c <= 65536; ++c) v[c] = static_cast<float>(c * std::log2(static_cast<double>(c))); }
  };
  static const Table t;
  return t.v;
}
double nlogn(uint64_t c, const float* nl) noexcept {
  return c <= 65536 ? nl[c] : static_cast<double>(c) * std::log2(static_cast<double>(c));
}

void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  uint8_t b[4] = {uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  out.insert(out.end(), b, b + 4);
}
uint32_t get_u32(const uint8_t* p) { return p[0] | (p[1] << 8) | (p[2] << 16) | (uint32_t(p[3]) << 24); }

[[noreturn]] void corrupt(const std::string& what) { throw Error(Errc::corrupt_input, "stream: " + what); }
[[noreturn]] void truncated(const std::string& what) { throw Error(Errc::truncated_input, "stream: " + what); }

// The table of each block, 4 bits each (HUFF and LANES sections, doc/FORMAT.md 12.3).
void put_block_ids(std::vector<uint8_t>& out, const uint8_t* ids, size_t n_blocks) {
  for (size_t b = 0; b < n_blocks; b += 2)
    out.push_back(static_cast<uint8_t>(ids[b] | (b + 1 < n_blocks ? ids[b + 1] << 4 : 0)));
}

// Reads them at sec[p] (only if n_tables > 1; else every block uses table 0) into ids[];
// returns the position after them. `what` names the section in errors.
size_t read_block_ids(std::span<const uint8_t> sec, size_t p, size_t n_blocks, int n_tables, const char* what,
                      uint8_t* ids) {
  if (n_tables == 1) {
    std::memset(ids, 0, n_blocks);
    return p;
  }
  const size_t id_bytes = (n_blocks + 1) / 2;
  if (sec.size() - p < id_bytes) corrupt(std::string(what) + " block table ids truncated");
  for (size_t b = 0; b < n_blocks; ++b) {
    ids[b] = static_cast<uint8_t>((sec[p + b / 2] >> ((b & 1) * 4)) & 15);
    if (ids[b] >= n_tables) corrupt(std::string(what) + " block refers to a missing table");
  }
  return p + id_bytes;
}

// Block histograms for clustering, over the stream's D present symbols only (`c[k]` counts
// symbol syms[k], ascending): the cost sums skip the absent symbols inside a cluster's range,
// which add nlogn(0) = 0, so they give the same values as over all 256 bytes, in less time.
struct Cluster {
  uint32_t c[256];
  uint64_t n;
  int lo, hi;   // range of present symbols, as indices into syms[]
  double cost;  // order-0 entropy bits + table description bits
};

// What a table costs: its description, plus 128 bits for the time its decode table takes to
// build (~1.5 us, the decode time of a few thousand symbols): the clustering keeps a table
// only where it saves more than that (3.8 tables per bf16 exponent stream instead of 4.9;
// on the corpus the sets came out no larger).
double description_bits(const uint8_t* syms, int lo, int hi) noexcept {
  return 128.0 + 8.0 * (2 + (syms[hi] - syms[lo] + 2) / 2);
}

double cluster_cost(const Cluster& a, const uint8_t* syms, const float* nl) noexcept {
  double bits = nlogn(a.n, nl);
  for (int k = a.lo; k <= a.hi; ++k) bits -= nlogn(a.c[k], nl);
  return bits + description_bits(syms, a.lo, a.hi);
}

double merge_delta(const Cluster& a, const Cluster& b, const uint8_t* syms, const float* nl) noexcept {
  const int lo = std::min(a.lo, b.lo), hi = std::max(a.hi, b.hi);
  double bits = nlogn(a.n + b.n, nl);
  for (int k = lo; k <= hi; ++k) bits -= nlogn(uint64_t{a.c[k]} + b.c[k], nl);
  return bits + description_bits(syms, lo, hi) - a.cost - b.cost;
}

void set_range(Cluster& a, int d) noexcept {
  a.lo = 0; a.hi = d - 1;
  while (a.lo < d - 1 && a.c[a.lo] == 0) ++a.lo;
  while (a.hi > 0 && a.c[a.hi] == 0) --a.hi;
}

// Pair tables (HuffPairEntry) of one stream take at most this many 256-entry rows in all
// (2 KiB each; the buffer is allocated once, and only the rows used are touched).
constexpr size_t kPairRows = 512;

constexpr size_t kProbeSlice = 2048;
// zstd's fast levels match from 4 or 5 bytes, which on skewed bytes (exponents) finds a
// match almost everywhere, mostly too short to pay: from 7 bytes the frame comes out smaller
// and ~1.5x faster, so the trials decided by the probe (levels 3-4) use that.
constexpr int kSkewedMinMatch = 7;

}  // namespace

// ------------------------------------------------------------------------------ encoder
struct StreamEncoder::Scratch {
  Cluster clusters[kMaxBlocks];
  uint32_t block_hist[kMaxBlocks][256];
  double delta[kMaxBlocks][kMaxBlocks];
  uint32_t table_hist[kHuffMaxTables][256];
  HuffTree trees[kHuffMaxTables];
  HuffLengths lengths[kHuffMaxTables];
  HuffEncTable enc[kHuffMaxTables];
  std::unique_ptr<HuffPairEntry[]> pairs;  // kPairRows rows of pair entries, after 256 rows of room
  std::vector<uint8_t> bits[4];
  std::vector<uint8_t> lane_escapes;
  LaneEncodeScratch lanes;
  std::vector<uint8_t> zbuf;
  ZSTD_CCtx* cctx = nullptr;
  ~Scratch() { ZSTD_freeCCtx(cctx); }
  // Compresses into zbuf; returns the frame size, or 0 if zstd failed.
  // min_match > 0 overrides the level's minimum match length.
  size_t zstd(const uint8_t* src, size_t n, int level, int min_match = 0) {
    if (!cctx) cctx = ZSTD_createCCtx();
    zbuf.resize(ZSTD_compressBound(n));
    size_t z;
    if (min_match == 0) {
      z = ZSTD_compressCCtx(cctx, zbuf.data(), zbuf.size(), src, n, level);
    } else {
      ZSTD_CCtx_reset(cctx, ZSTD_reset_parameters);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
      ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, min_match);
      z = ZSTD_compress2(cctx, zbuf.data(), zbuf.size(), src, n);
    }
    return ZSTD_isError(z) ? 0 : z;
  }
  // Appends a ZSTD (or ZSTD_ELEMENTS) stream: mode, section size, the frame in zbuf.
  void emit_zstd(std::vector<uint8_t>& out, size_t z, StreamMode mode = StreamMode::zstd) const {
    out.push_back(static_cast<uint8_t>(mode));
    put_u32(out, static_cast<uint32_t>(z));
    out.insert(out.end(), zbuf.data(), zbuf.data() + z);
  }
};

namespace {
// The probe sample: four slices spread over the stream.
constexpr size_t kProbeSample = 4 * kProbeSlice;
void take_probe_sample(const uint8_t* syms, size_t n, uint8_t* sample) noexcept {
  for (int i = 0; i < 4; ++i) std::memcpy(sample + i * kProbeSlice, syms + (n / 4) * i, kProbeSlice);
}
// Whether the stream has enough LZ structure (runs, repeats of 8- or 16-byte words) for zstd
// to possibly beat the order-0 coder; only then is a zstd trial worth its cost (zstd runs at
// ~150-250 MB/s on exponent bytes, several times the cost of coding them). A repeat must
// stand for 32+ bits of order-0 information to be worth coding as a match and to be unlikely
// by chance: 8-byte words for random-looking bytes (>= 4 bits per byte), 16 bytes for skewed ones.
// On the corpus, zstd won from 2.6% of repeated words up, and lost on every stream between
// 1% and 2%: 2% keeps every win with fewer trials.
bool has_repeats(const uint8_t* syms, size_t n, double bits_per_byte, LzHint* hint) noexcept {
  if (hint && *hint != LzHint::unknown) return *hint == LzHint::repeats;
  const RepeatHits r = huff_kernels().repeat_hits(syms, std::min<size_t>(n, 8 * 65535));
  const bool yes = (bits_per_byte >= 4.0 ? r.hits8 : r.hits16) * 50 >= r.queries && r.queries > 0;
  if (hint) *hint = yes ? LzHint::repeats : LzHint::none;
  return yes;
}
// A chunk's hint comes from its first stream (the exponents), whose repeats need not show in
// near-random bytes: before a full zstd pass over those, their own 8-byte words must repeat.
// On the corpus, every such pass that won had >= 0.83% of its words repeated; of the 23 that
// lost, 15 had none and 19 fewer than 0.5%, the bar kept here.
bool repeats_here(const uint8_t* syms, size_t n) noexcept {
  const RepeatHits r = huff_kernels().repeat_hits(syms, std::min<size_t>(n, 8 * 65535));
  return r.hits8 * 200 >= r.queries && r.queries > 0;
}
// Compresses the sample; says whether zstd looks at least 10% smaller than both the order-0
// bound (which HUFF approaches) and storing.
bool probe_zstd(StreamEncoder::Scratch& S, const uint8_t* sample, size_t n, double entropy_bits, int level) {
  const size_t z = S.zstd(sample, kProbeSample, level, kSkewedMinMatch);
  if (z == 0) return false;
  const double order0 = std::min(entropy_bits / 8.0 / static_cast<double>(n), 1.0) * kProbeSample;
  return static_cast<double>(z) < 0.9 * order0;
}

// For near-random streams: a fast zstd pass (negative level: match finding only) tells
// whether the bytes repeat (e.g. tensors with repeated rows); if it saves >= 2%, compress at
// the probe level and keep the result if smaller than storing.
bool try_zstd_if_it_pays(StreamEncoder::Scratch& S, const uint8_t* syms, size_t n, const StreamPolicy& policy,
                         std::vector<uint8_t>& out) {
  const size_t fast = S.zstd(syms, n, -1);
  if (fast == 0 || static_cast<double>(fast) > 0.98 * static_cast<double>(n)) return false;
  const size_t z = S.zstd(syms, n, policy.zstd_probe_level);
  if (z == 0 || z + 5 >= n) return false;
  S.emit_zstd(out, z);
  return true;
}

// Appends a LANES stream (mode, section size, section) coding the first n / 128 * 128 symbols
// with a table made from each HUFF table's histogram H[t] and tree S.trees[t] (the blocks of
// 4096 keep the tables HUFF gave them), the rest as bytes, if it takes fewer than `limit`
// bytes. False, with nothing appended, if it does not, or if some block holds a symbol its
// table cannot code (cannot happen: each block's table covers its symbols; checked because a
// wrong code would only show when decoding).
bool emit_lanes(StreamEncoder::Scratch& S, const uint8_t* syms, size_t n, const uint32_t (*H)[256], int n_tables,
                const uint8_t* block_table, size_t limit, std::vector<uint8_t>& out) {
  LaneTable tables[kHuffMaxTables];
  LaneEncTable enc[kHuffMaxTables];
  for (int t = 0; t < n_tables; ++t) {
    lane_make_table(H[t], S.trees[t], tables[t]);
    lane_build_encoder(tables[t], enc[t]);
  }
  const size_t steps = n / kLaneStep, n_blocks = (steps + kLaneBlockSteps - 1) / kLaneBlockSteps;
  const LaneEncTable* block_enc[kMaxBlocks];
  for (size_t b = 0; b < n_blocks; ++b) {
    block_enc[b] = &enc[block_table[b]];
    for (int s = 0; s < 256; ++s)
      if (S.block_hist[b][s] && !block_enc[b]->codes(s, tables[block_table[b]])) return false;
  }
  uint8_t* groups[kLaneGroups];
  size_t sizes[kLaneGroups];
  for (int g = 0; g < kLaneGroups; ++g) {
    S.bits[g].resize(lane_group_bound(steps));
    groups[g] = S.bits[g].data();
  }
  S.lane_escapes.resize(steps * kLaneStep);
  const size_t n_esc = lanes_encode(syms, steps, block_enc, groups, sizes, S.lane_escapes.data(), S.lanes);
  const size_t tail = n - steps * kLaneStep;
  size_t section = 1 + (n_tables > 1 ? (n_blocks + 1) / 2 : 0) + 4 * (kLaneGroups + 1) + n_esc + tail;
  for (int t = 0; t < n_tables; ++t) section += lane_description_size(tables[t]);
  for (int g = 0; g < kLaneGroups; ++g) section += sizes[g];
  if (5 + section >= limit) return false;
  out.push_back(static_cast<uint8_t>(StreamMode::lanes));
  put_u32(out, static_cast<uint32_t>(section));
  [[maybe_unused]] const size_t start = out.size();
  out.push_back(static_cast<uint8_t>(n_tables));
  for (int t = 0; t < n_tables; ++t) {
    const size_t at = out.size();
    out.resize(at + lane_description_size(tables[t]));
    lane_write_description(tables[t], out.data() + at);
  }
  if (n_tables > 1) put_block_ids(out, block_table, n_blocks);
  for (int g = 0; g < kLaneGroups; ++g) put_u32(out, static_cast<uint32_t>(sizes[g]));
  put_u32(out, static_cast<uint32_t>(n_esc));
  for (int g = 0; g < kLaneGroups; ++g) out.insert(out.end(), groups[g], groups[g] + sizes[g]);
  out.insert(out.end(), S.lane_escapes.data(), S.lane_escapes.data() + n_esc);
  out.insert(out.end(), syms + steps * kLaneStep, syms + n);
  assert(out.size() - start == section);
  return true;
}
}  // namespace

StreamEncoder::StreamEncoder() : s_(std::make_unique<Scratch>()) {}
StreamEncoder::~StreamEncoder() = default;

StreamMode StreamEncoder::encode(const uint8_t* syms, size_t n, const StreamPolicy& policy, std::vector<uint8_t>& out,
                                 LzHint* hint) {
  Scratch& S = *s_;
  const auto& K = huff_kernels();
  const float* const nl = nlogn_table();
  const size_t mode_pos = out.size();
  auto emit_raw = [&] {
    out.resize(mode_pos);
    out.push_back(static_cast<uint8_t>(StreamMode::raw));
    out.insert(out.end(), syms, syms + n);
    return StreamMode::raw;
  };
  if (n == 0) return emit_raw();

  // Blocks for table switching: at most kMaxBlocks of them.
  int block_log = std::clamp(policy.block_log, 2, 24);
  while (((n - 1) >> block_log) + 1 > kMaxBlocks) ++block_log;
  const size_t block_size = size_t{1} << block_log;
  const int n_blocks = static_cast<int>(((n - 1) >> block_log) + 1);

  // Near-random bytes (most mantissa streams) are the common case: a histogram of an eighth
  // of the stream says so before any full pass. The sample's entropy estimate is biased low,
  // so "looks random" is safe to trust.
  if (n >= 32768 && policy.min_huff_gain >= 0.02 && !policy.skewed) {
    uint32_t sample[256] = {};
    uint8_t slices[65536 / 8];  // the slices side by side: one histogram call
    size_t taken = 0;
    for (size_t off = 0; off + 512 <= n; off += 4096) {
      if (taken == sizeof(slices)) { K.histogram(slices, taken, sample); taken = 0; }
      std::memcpy(slices + taken, syms + off, 512);
      taken += 512;
    }
    K.histogram(slices, taken, sample);
    taken = 0;
    for (int s = 0; s < 256; ++s) taken += sample[s];
    double bits = nlogn(taken, nl);
    for (int s = 0; s < 256; ++s) bits -= nlogn(sample[s], nl);
    if (bits > (1.0 - policy.min_huff_gain / 2) * 8.0 * static_cast<double>(taken)) {
      const bool hinted = hint && *hint != LzHint::unknown;
      if (policy.zstd_probe_level > 0 && has_repeats(syms, n, 8.0, hint) && (!hinted || repeats_here(syms, n)) &&
          try_zstd_if_it_pays(S, syms, n, policy, out))
        return StreamMode::zstd;
      return emit_raw();
    }
  }
  uint32_t total[256] = {};
  K.histogram_blocks(syms, n, block_size, S.block_hist, total);
  int distinct = 0, first = 256, last = 0;
  for (int s = 0; s < 256; ++s)
    if (total[s]) { ++distinct; first = std::min(first, s); last = s; }
  if (distinct == 1) {
    out.push_back(static_cast<uint8_t>(StreamMode::constant));
    out.push_back(static_cast<uint8_t>(last));
    return StreamMode::constant;
  }

  size_t best_size = n;  // RAW
  // Near-random streams (sign+mantissa bytes) stay RAW without building any table: the
  // order-0 bound, before table costs, already says HUFF cannot win by 1%.
  double entropy_bits = nlogn(n, nl);
  for (int s = 0; s < 256; ++s) entropy_bits -= nlogn(total[s], nl);
  // HUFF must save at least min_huff_gain: on near-random bytes a 1% gain is not worth a
  // decode several times slower than a copy.
  const bool huff_hopeless = entropy_bits > (1.0 - policy.min_huff_gain) * 8.0 * static_cast<double>(n);
  // ZSTD: at levels that do not always try it, a sample decides (LZ structure, e.g. repeated
  // tensors or smooth tables, is invisible to an order-0 estimate).
  int zstd_level = policy.zstd_level;
  if (zstd_level == 0 && policy.zstd_probe_level > 0 && n >= kProbeSample) {
    if (has_repeats(syms, n, entropy_bits / static_cast<double>(n), hint)) {
      uint8_t probe[kProbeSample];
      take_probe_sample(syms, n, probe);
      if (probe_zstd(S, probe, n, entropy_bits, policy.zstd_probe_level)) zstd_level = policy.zstd_probe_level;
    }
  }
  if (huff_hopeless && zstd_level == 0) return emit_raw();
  // ---- HUFF: cluster block histograms into at most max_tables tables.
  uint32_t (*H)[256] = S.table_hist;  // the tables' histograms (over all 256 bytes)
  int n_alive = n_blocks;
  const int max_tables = std::clamp(policy.max_tables, 1, kHuffMaxTables);
  if (max_tables == 1 || n_blocks == 1 || huff_hopeless) {
    std::memcpy(H[0], total, sizeof(total));
    n_alive = 1;
  } else {
    uint8_t present[256];
    int d = 0;
    for (int s = 0; s < 256; ++s)
      if (total[s]) present[d++] = static_cast<uint8_t>(s);
    Cluster* C = S.clusters;
    int alive[kMaxBlocks];
    n_alive = 0;
    auto merge_into = [&](Cluster& a, const Cluster& b) {
      for (int k = std::min(a.lo, b.lo); k <= std::max(a.hi, b.hi); ++k) a.c[k] += b.c[k];
      a.n += b.n;
      a.lo = std::min(a.lo, b.lo);
      a.hi = std::max(a.hi, b.hi);
      a.cost = cluster_cost(a, present, nl);
    };
    for (int b = 0; b < n_blocks; ++b) {
      for (int k = 0; k < d; ++k) C[b].c[k] = S.block_hist[b][present[k]];
      C[b].n = std::min(block_size, n - (size_t(b) << block_log));
      set_range(C[b], d);
      C[b].cost = cluster_cost(C[b], present, nl);
      // Neighbouring blocks usually share statistics (one tensor): merged at once when that
      // saves bits, which leaves fewer clusters for the quadratic search below.
      if (n_alive > 0 && merge_delta(C[alive[n_alive - 1]], C[b], present, nl) < 0) merge_into(C[alive[n_alive - 1]], C[b]);
      else alive[n_alive++] = b;
    }
    for (int x = 0; x < n_alive; ++x)
      for (int y = x + 1; y < n_alive; ++y) S.delta[alive[x]][alive[y]] = merge_delta(C[alive[x]], C[alive[y]], present, nl);
    // Agglomerative: merge the pair that saves most (or costs least) until no merge saves
    // bits and no more than max_tables remain.
    while (n_alive > 1) {
      int bi = -1, bj = -1;
      double best = 0;
      for (int x = 0; x < n_alive; ++x)
        for (int y = x + 1; y < n_alive; ++y) {
          const double delta = S.delta[alive[x]][alive[y]];
          if (bi < 0 || delta < best) { best = delta; bi = x; bj = y; }
        }
      if (best >= 0 && n_alive <= max_tables) break;
      merge_into(C[alive[bi]], C[alive[bj]]);
      alive[bj] = alive[--n_alive];
      for (int x = 0; x < n_alive; ++x) {
        if (x == bi) continue;
        const int p = std::min(alive[x], alive[bi]), q = std::max(alive[x], alive[bi]);
        S.delta[p][q] = merge_delta(C[p], C[q], present, nl);
      }
    }
    for (int t = 0; t < n_alive; ++t) {
      std::memset(H[t], 0, sizeof(H[t]));
      for (int k = 0; k < d; ++k) H[t][present[k]] = C[alive[t]].c[k];
    }
  }
  const int n_tables = n_alive;
  // Short codes keep decode tables small (cheap to build, L1-resident); wide alphabets
  // (fp16's exponent+mantissa byte) lose too much with them, so fall back to the full limit.
  // Codes are first built with the full limit; only if some table needs longer codes than
  // the short limit are they rebuilt short, and kept short if that costs little.
  const int short_limit = std::clamp(policy.max_code_len, 8, kHuffMaxBits);
  uint64_t cost_full = 0;
  int longest = 0;
  for (int t = 0; t < n_tables; ++t) {
    huff_build_tree(H[t], S.trees[t]);
    huff_tree_lengths(S.trees[t], kHuffMaxBits, S.lengths[t]);
    cost_full += huff_cost_bits(H[t], S.lengths[t]);
    longest = std::max(longest, S.lengths[t].max_len);
  }
  if (longest > short_limit) {
    HuffLengths shorter[kHuffMaxTables];
    uint64_t cost_short = 0;
    for (int t = 0; t < n_tables; ++t) {
      huff_tree_lengths(S.trees[t], short_limit, shorter[t]);
      cost_short += huff_cost_bits(H[t], shorter[t]);
    }
    if (static_cast<double>(cost_short) <= (1.0 + policy.short_code_tolerance) * static_cast<double>(cost_full))
      for (int t = 0; t < n_tables; ++t) S.lengths[t] = shorter[t];
  }

  // Near-uniform bytes over 2^L symbols (e.g. the top mantissa byte of bf16 values stored as
  // fp32, whose lowest bit is always zero) get Huffman lengths L-1..L+1 that save well under
  // 1%. A flat code of L bits for all of them decodes as fixed-width bit fields, without the
  // serial bit chain of a Huffman decode: several times faster.
  if (policy.flat_code_tolerance > 0) {
    int flat_len = -1;
    uint64_t cost_now = 0, cost_flat = 0;
    for (int t = 0; t < n_tables && flat_len != 0; ++t) {
      const HuffLengths& L = S.lengths[t];
      int coded = 0;
      uint64_t count = 0;
      for (int s = L.min_sym; s <= L.max_sym; ++s) {
        coded += L.len[s] != 0;
        count += H[t][s];
      }
      const int l = std::countr_zero(static_cast<unsigned>(coded));
      if (coded < 2 || coded != (1 << l) || l > kHuffFlatMaxBits || (flat_len > 0 && l != flat_len)) flat_len = 0;
      else flat_len = l;
      cost_now += huff_cost_bits(H[t], L);
      cost_flat += count * static_cast<uint64_t>(l);
    }
    if (flat_len > 0 && static_cast<double>(cost_flat) <= (1.0 + policy.flat_code_tolerance) * static_cast<double>(cost_now))
      for (int t = 0; t < n_tables; ++t) {
        HuffLengths& L = S.lengths[t];
        for (int s = L.min_sym; s <= L.max_sym; ++s) L.len[s] = L.len[s] ? static_cast<uint8_t>(flat_len) : 0;
        L.max_len = flat_len;
      }
  }

  // Give each block the table that codes it in the fewest bits (among those covering it).
  uint8_t block_table[kMaxBlocks];
  uint64_t huff_bits = 0;
  for (int b = 0; b < n_blocks; ++b) {
    const uint32_t* h = n_tables == 1 ? total : S.block_hist[b];
    uint64_t best_bits = UINT64_MAX;
    int best_t = 0;
    int lo = first, hi = last;  // the block's symbol range: within the stream's
    while (!h[lo]) ++lo;
    while (!h[hi]) --hi;
    for (int t = 0; t < n_tables; ++t) {
      const HuffLengths& L = S.lengths[t];
      bool covers = L.min_sym <= lo && hi <= L.max_sym;
      uint64_t bits = 0;
      if (L.max_len == 0) {  // one symbol, zero-length code
        covers = covers && lo == hi;
      } else if (covers) {   // branch-free: count the bits and any symbol the table lacks
        uint32_t missing = 0;
        for (int s = lo; s <= hi; ++s) {
          bits += uint64_t{h[s]} * L.len[s];
          missing |= L.len[s] == 0 ? h[s] : 0;
        }
        covers = missing == 0;
      }
      if (covers && bits < best_bits) { best_bits = bits; best_t = t; }
    }
    block_table[b] = static_cast<uint8_t>(best_t);
    huff_bits += best_bits;
    if (n_tables == 1) { for (int c = 1; c < n_blocks; ++c) block_table[c] = 0; break; }
  }
  size_t header = 1 + 4 + 2 + 12 + (n_tables > 1 ? (n_blocks + 1) / 2 : 0);
  for (int t = 0; t < n_tables; ++t) header += huff_description_size(S.lengths[t]);
  const size_t huff_estimate = header + huff_bits / 8 + 4;

  // ---- ZSTD, when the level asks for it: catches structure an order-0 coder cannot see.
  // Tried before HUFF: a frame smaller than any HUFF section can be (its header and code
  // bits) wins outright, without coding the Huffman bitstreams.
  size_t z = 0;
  if (zstd_level > 0) {
    z = S.zstd(syms, n, zstd_level, zstd_level == policy.zstd_level ? 0 : kSkewedMinMatch);
    if (z != 0 && 5 + z < std::min(best_size, header + huff_bits / 8)) {
      S.emit_zstd(out, z);
      return StreamMode::zstd;
    }
  }

  const bool lanes = policy.lanes && block_log == kLaneBlockLog && n >= kLaneStep;
  if (lanes && !huff_hopeless && huff_estimate < best_size) {
    if (emit_lanes(S, syms, n, H, n_tables, block_table, best_size, out)) best_size = out.size() - mode_pos;
  } else if (!huff_hopeless && huff_estimate < best_size) {
    // Pair tables halve the coding loop's work. One has a row per coded symbol (the second
    // of a pair) over the table's symbol range (the first): cheap to build for small
    // alphabets (exponents: ~25 symbols, a few hundred cells), not for wide ones. At ~1.5
    // instructions a cell against ~2.5 saved per symbol, they are built where all the
    // tables' cells are at most a quarter of the symbols.
    size_t rows = 0, cells = 0;
    for (int t = 0; t < n_tables; ++t) {
      const HuffLengths& L = S.lengths[t];
      huff_build_encoder(L, S.enc[t]);
      const size_t range = static_cast<size_t>(L.max_sym - L.min_sym + 1);
      size_t coded = 0;
      for (int s = L.min_sym; s <= L.max_sym; ++s) coded += L.len[s] != 0;
      rows += range;
      cells += range * coded;
    }
    const bool use_pairs = rows <= kPairRows && cells <= n / 4;
    const HuffPairEntry* pair_tables[kHuffMaxTables];
    if (use_pairs) {
      if (!S.pairs) S.pairs = std::make_unique_for_overwrite<HuffPairEntry[]>((256 + kPairRows) * 256);
      // Table t's entries lie at indices [min_sym * 257, max_sym * 257] from its base: the
      // bases are offset so that the tables' used rows follow each other (in bounds: >= 1 row
      // of room before each).
      size_t row = 256;
      for (int t = 0; t < n_tables; ++t) {
        const HuffLengths& L = S.lengths[t];
        HuffPairEntry* base = S.pairs.get() + (row - static_cast<size_t>(L.min_sym)) * 256;
        huff_build_pair_encoder(L, S.enc[t], base);
        pair_tables[t] = base;
        row += static_cast<size_t>(L.max_sym - L.min_sym + 1);
      }
    }
    const HuffEncEntry* bt[kMaxBlocks];
    const HuffPairEntry* bp[kMaxBlocks];
    for (int b = 0; b < n_blocks; ++b) {
      bt[b] = S.enc[block_table[b]].data();
      bp[b] = use_pairs ? pair_tables[block_table[b]] : nullptr;
    }
    uint8_t* bufs[4];
    // A stream codes whole blocks: up to ceil(n_blocks / 4) of them.
    const size_t max_stream_syms = std::min(n, ((n_blocks + 3) / 4) * block_size);
    for (int s = 0; s < 4; ++s) {
      S.bits[s].resize(max_stream_syms * kHuffMaxBits / 8 + 32);
      bufs[s] = S.bits[s].data();
    }
    size_t sizes[4];
    K.encode4(syms, n, block_size, bt, use_pairs ? bp : nullptr, bufs, sizes);
    const size_t total_size = header - 5 + sizes[0] + sizes[1] + sizes[2] + sizes[3];  // after mode + u32
    if (5 + total_size < best_size) {
      out.push_back(static_cast<uint8_t>(StreamMode::huff));
      put_u32(out, static_cast<uint32_t>(total_size));
      out.push_back(static_cast<uint8_t>(block_log));
      out.push_back(static_cast<uint8_t>(n_tables));
      for (int t = 0; t < n_tables; ++t) {
        const size_t at = out.size();
        out.resize(at + huff_description_size(S.lengths[t]));
        huff_write_description(S.lengths[t], out.data() + at);
      }
      if (n_tables > 1) put_block_ids(out, block_table, static_cast<size_t>(n_blocks));
      for (int s = 0; s < 3; ++s) put_u32(out, static_cast<uint32_t>(sizes[s]));
      for (int s = 0; s < 4; ++s) out.insert(out.end(), bufs[s], bufs[s] + sizes[s]);
      best_size = out.size() - mode_pos;
    }
  }

  if (z != 0 && 5 + z < best_size) {  // (zbuf still holds the frame)
    out.resize(mode_pos);
    S.emit_zstd(out, z);
    return StreamMode::zstd;
  }
  if (out.size() == mode_pos) return emit_raw();
  return static_cast<StreamMode>(out[mode_pos]);
}

bool StreamEncoder::replace_with_elements_zstd(const uint8_t* src, size_t bytes, int level, int min_match,
                                               double min_gain, std::vector<uint8_t>& out, size_t start) {
  const size_t z = s_->zstd(src, bytes, level, min_match);
  const size_t split = out.size() - start, coded = 5 + z;
  // Strictly smaller than the split coding, and by at least min_gain of it.
  if (z == 0 || z > UINT32_MAX || coded >= split ||
      static_cast<double>(coded) > (1.0 - min_gain) * static_cast<double>(split))
    return false;
  out.resize(start);
  s_->emit_zstd(out, z, StreamMode::zstd_elements);
  return true;
}

// ------------------------------------------------------------------------------ decoder
struct StreamDecoder::Scratch {
  HuffDecTable tables[kHuffMaxTables];
  const HuffDecTable* block_tables[kHuffMaxBlocks];
  uint8_t flat_maps[kHuffMaxTables][kHuffFlatMapSize];
  const uint8_t* block_maps[kHuffMaxBlocks];
  uint8_t block_ids[kHuffMaxBlocks];
  LaneDecTable lane_tables[kHuffMaxTables];
  const LaneDecTable* lane_blocks[kHuffMaxBlocks];
  ZSTD_DCtx* dctx = nullptr;
  int last_flat = 0;
  ~Scratch() { ZSTD_freeDCtx(dctx); }
};

StreamDecoder::StreamDecoder() : s_(std::make_unique<Scratch>()) {}
StreamDecoder::~StreamDecoder() = default;
int StreamDecoder::last_flat_length() const noexcept { return s_->last_flat; }

StreamHeader peek_stream(std::span<const uint8_t> in, size_t pos, size_t n, bool chunk_level) {
  if (pos >= in.size()) truncated("missing stream header");
  const uint8_t mode = in[pos];
  switch (mode) {
    case uint8_t(StreamMode::raw): return {StreamMode::raw, 1 + n};
    case uint8_t(StreamMode::constant): return {StreamMode::constant, 2};
    case uint8_t(StreamMode::zstd_elements):
      if (!chunk_level) corrupt("mode 4 (zstd of the elements) is only valid as a chunk's first stream");
      [[fallthrough]];
    case uint8_t(StreamMode::huff):
    case uint8_t(StreamMode::zstd):
    case uint8_t(StreamMode::lanes): {
      if (in.size() - pos < 5) truncated("missing section size");
      return {StreamMode(mode), 5 + size_t{get_u32(in.data() + pos + 1)}};
    }
    default: corrupt("unknown mode " + std::to_string(mode));
  }
}

const uint8_t* StreamDecoder::decode(std::span<const uint8_t> in, size_t& pos, size_t n, uint8_t* dst,
                                     bool chunk_level, Prefetcher* warm) {
  Prefetcher none;
  Prefetcher& pf = warm ? *warm : none;
  s_->last_flat = 0;
  const StreamHeader h = peek_stream(in, pos, n, chunk_level);
  if (h.coded_size > in.size() - pos) truncated("section runs past the end of the chunk");
  const uint8_t* base = in.data() + pos;
  pos += h.coded_size;
  switch (h.mode) {
    case StreamMode::raw: return base + 1;
    case StreamMode::constant: std::memset(dst, base[1], n); return dst;
    case StreamMode::zstd:
    case StreamMode::zstd_elements: {
      Scratch& S = *s_;
      if (!S.dctx) S.dctx = ZSTD_createDCtx();
      const size_t r = ZSTD_decompressDCtx(S.dctx, dst, n, base + 5, h.coded_size - 5);
      if (ZSTD_isError(r) || r != n) corrupt("zstd section does not decode to the stream's size");
      return dst;
    }
    case StreamMode::lanes: return decode_lanes({base + 5, h.coded_size - 5}, n, dst, pf);
    case StreamMode::huff: break;
  }
  Scratch& S = *s_;
  std::span<const uint8_t> sec(base + 5, h.coded_size - 5);
  if (sec.size() < 2) corrupt("huffman header too short");
  const int block_log = sec[0];
  const int n_tables = sec[1];
  if (block_log < 2 || block_log > 24) corrupt("huffman block size out of range");
  if (n_tables < 1 || n_tables > kHuffMaxTables) corrupt("huffman table count out of range");
  const size_t n_blocks = n == 0 ? 0 : ((n - 1) >> block_log) + 1;
  if (n_blocks > kHuffMaxBlocks) corrupt("more than 4096 huffman blocks");
  size_t p = 2;
  HuffLengths lengths[kHuffMaxTables];
  int bits = 0;  // one index width for all tables of the stream: the decode loop shares its mask
  for (int t = 0; t < n_tables; ++t) {
    const size_t used = huff_read_description(sec.subspan(p), lengths[t]);
    if (used == 0) corrupt("invalid huffman table");
    bits = std::max(bits, lengths[t].max_len);
    p += used;
  }
  bits = huff_table_bits(bits);
  // Flat codes (all tables: every code L bits) decode as fixed-width fields, through maps
  // instead of decode tables.
  int flat = huff_flat_length(lengths[0]);
  for (int t = 1; t < n_tables && flat; ++t)
    if (huff_flat_length(lengths[t]) != flat) flat = 0;
  for (int t = 0; t < n_tables; ++t) {
    if (flat) huff_build_flat_map(lengths[t], S.flat_maps[t]);
    else huff_build_decoder(lengths[t], bits, S.tables[t]);
  }
  p = read_block_ids(sec, p, n_blocks, n_tables, "huffman", S.block_ids);
  for (size_t b = 0; b < n_blocks; ++b) {
    S.block_tables[b] = &S.tables[S.block_ids[b]];
    S.block_maps[b] = S.flat_maps[S.block_ids[b]];
  }
  if (sec.size() - p < 12) corrupt("huffman stream sizes truncated");
  size_t sizes[4];
  for (int s = 0; s < 3; ++s) sizes[s] = get_u32(sec.data() + p + 4 * s);
  p += 12;
  const size_t remaining = sec.size() - p;
  if (sizes[0] > remaining || sizes[1] > remaining - sizes[0] || sizes[2] > remaining - sizes[0] - sizes[1])
    corrupt("huffman stream sizes exceed the section");
  sizes[3] = remaining - sizes[0] - sizes[1] - sizes[2];
  const uint8_t* streams[4];
  streams[0] = sec.data() + p;
  for (int s = 1; s < 4; ++s) streams[s] = streams[s - 1] + sizes[s - 1];
  uint64_t consumed[4];
  S.last_flat = flat;
  if (flat) huff_kernels().decode_flat4(streams, sec.data() + sec.size(), n, size_t{1} << block_log, S.block_maps, flat, dst, consumed);
  else huff_kernels().decode4(streams, sec.data() + sec.size(), n, size_t{1} << block_log, S.block_tables, bits, dst, consumed,
                                   pf);
  for (int s = 0; s < 4; ++s)
    if ((consumed[s] + 7) / 8 != sizes[s]) corrupt("huffman bitstream length does not match its contents");
  return dst;
}

StreamDecoder::LanesSection StreamDecoder::parse_lanes(std::span<const uint8_t> sec, size_t n) {
  Scratch& S = *s_;
  if (n < kLaneStep) corrupt("lanes stream shorter than one step (128 symbols)");
  const size_t steps = n / kLaneStep, n_blocks = (steps + kLaneBlockSteps - 1) / kLaneBlockSteps;
  if (n_blocks > kHuffMaxBlocks) corrupt("more than 4096 lanes blocks");
  if (sec.empty()) corrupt("lanes header too short");
  const int n_tables = sec[0];
  if (n_tables < 1 || n_tables > kHuffMaxTables) corrupt("lanes table count out of range");
  size_t p = 1;
  for (int t = 0; t < n_tables; ++t) {
    LaneTable table;
    const size_t used = lane_read_description(sec.subspan(p), table);
    if (used == 0) corrupt("invalid lanes table");
    lane_build_decoder(table, S.lane_tables[t]);
    p += used;
  }
  p = read_block_ids(sec, p, n_blocks, n_tables, "lanes", S.block_ids);
  for (size_t b = 0; b < n_blocks; ++b) S.lane_blocks[b] = &S.lane_tables[S.block_ids[b]];
  if (sec.size() - p < 4 * (kLaneGroups + 1)) corrupt("lanes stream sizes truncated");
  uint64_t sizes[kLaneGroups + 1], sum = 0;
  for (int g = 0; g <= kLaneGroups; ++g) sum += sizes[g] = get_u32(sec.data() + p + 4 * g);
  p += 4 * (kLaneGroups + 1);
  const size_t tail = n - steps * kLaneStep;
  if (sum + tail != sec.size() - p) corrupt("lanes stream sizes do not add up to the section");
  LanesSection out;
  out.steps = steps;
  const uint8_t* at = sec.data() + p;
  for (int g = 0; g < kLaneGroups; ++g) {
    out.in.group[g] = at;
    at += sizes[g];
    out.in.group_end[g] = at;
  }
  out.in.escapes = at;
  at += sizes[kLaneGroups];
  out.in.escapes_end = at;
  out.tail = at;
  return out;
}

const uint8_t* StreamDecoder::decode_lanes(std::span<const uint8_t> sec, size_t n, uint8_t* dst, Prefetcher& warm) {
  const LanesSection L = parse_lanes(sec, n);
  if (!lanes_decoder()(L.in, L.steps, s_->lane_blocks, dst, warm)) corrupt("lanes streams do not match their contents");
  std::memcpy(dst + L.steps * kLaneStep, L.tail, n - L.steps * kLaneStep);
  return dst;
}

bool StreamDecoder::can_decode_merged(std::span<const uint8_t> in, size_t pos, int elem_size) noexcept {
  return pos < in.size() && in[pos] == static_cast<uint8_t>(StreamMode::lanes) &&
         lanes_decoder_merged(elem_size) != nullptr;
}

const uint8_t* StreamDecoder::decode_merged(std::span<const uint8_t> in, size_t& pos, size_t n, int elem_size,
                                            const uint8_t* const* rest, uint8_t* dst, Prefetcher* warm) {
  Prefetcher none;
  s_->last_flat = 0;
  const StreamHeader h = peek_stream(in, pos, n);
  if (h.coded_size > in.size() - pos) truncated("section runs past the end of the chunk");
  const LanesDecodeMergedFn fused = lanes_decoder_merged(elem_size);
  if (h.mode != StreamMode::lanes || !fused) throw Error(Errc::internal, "decode_merged: not a fused LANES stream");
  const LanesSection L = parse_lanes({in.data() + pos + 5, h.coded_size - 5}, n);
  if (!fused(L.in, L.steps, s_->lane_blocks, rest, dst, warm ? *warm : none))
    corrupt("lanes streams do not match their contents");
  pos += h.coded_size;
  return L.tail;
}

}  // namespace tenzip::detail
