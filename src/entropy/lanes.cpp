// LANES tables, descriptions, the encoder and the portable decoder (lanes.hpp).
#include "entropy/lanes.hpp"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "util/cpu.hpp"

namespace tenzip::detail {

namespace {
HuffLengths one_symbol(int s) noexcept {
  HuffLengths l;
  l.min_sym = l.max_sym = s;
  return l;
}
}  // namespace

uint64_t lane_make_table(const uint32_t* counts, LaneTable& out) noexcept {
  HuffTree tree;
  huff_build_tree(counts, tree);
  return lane_make_table(counts, tree, out);
}

uint64_t lane_make_table(const uint32_t* counts, const HuffTree& tree, LaneTable& out) noexcept {
  out = LaneTable{};
  if (tree.n <= 1) {
    out.lengths = one_symbol(tree.n == 1 ? tree.syms[0] : 0);
    return 0;
  }
  huff_tree_lengths(tree, kLaneBits, out.lengths);
  uint64_t best = huff_cost_bits(counts, out.lengths);
  if (tree.max_depth <= kLaneBits) return best;  // the optimal code fits: nothing to escape
  // Symbols seen at most `rare` times share one escape code (at a value next to the kept
  // range, so the description grows by at most one length) and follow as bytes: the 8-bit
  // limit then lengthens fewer codes. Keep whichever threshold costs least. The tree's symbols
  // are sorted by count, so the kept ones are a suffix of them: each threshold's tree is built
  // from that suffix with the escape inserted in order, without sorting again. A threshold
  // that escapes no more than the one before gives the same code: skipped.
  uint64_t keys[256];  // at least one symbol is escaped, and the escape is added
  int escaped_n = 0;  // tree.syms[0, escaped_n) are escaped
  uint64_t escaped = 0;
  for (uint32_t rare : {1u, 2u, 4u, 8u, 16u}) {
    const int before = escaped_n;
    while (escaped_n < tree.n && counts[tree.syms[escaped_n]] <= rare) escaped += counts[tree.syms[escaped_n++]];
    if (escaped_n == before || escaped_n == tree.n) continue;
    int lo = 256, hi = -1;
    for (int i = escaped_n; i < tree.n; ++i) {
      lo = std::min<int>(lo, tree.syms[i]);
      hi = std::max<int>(hi, tree.syms[i]);
    }
    const int esc = hi < 255 ? hi + 1 : lo > 0 ? lo - 1 : -1;
    if (esc < 0) continue;
    const uint64_t esc_key = (escaped << 8) | static_cast<uint64_t>(esc);
    int n = 0;
    bool placed = false;
    for (int i = escaped_n; i < tree.n; ++i) {
      const uint64_t key = (uint64_t{counts[tree.syms[i]]} << 8) | tree.syms[i];
      if (!placed && esc_key < key) { keys[n++] = esc_key; placed = true; }
      keys[n++] = key;
    }
    if (!placed) keys[n++] = esc_key;
    HuffTree kept_tree;
    huff_build_tree_sorted(keys, n, kept_tree);
    HuffLengths l;
    huff_tree_lengths(kept_tree, kLaneBits, l);
    uint64_t bits = 8 * escaped + escaped * l.len[esc];
    for (int i = escaped_n; i < tree.n; ++i) bits += uint64_t{counts[tree.syms[i]]} * l.len[tree.syms[i]];
    if (bits < best) {
      best = bits;
      out.lengths = l;
      out.escape = esc;
    }
  }
  return best;
}

void lane_build_encoder(const LaneTable& t, LaneEncTable& enc) noexcept {
  std::memset(enc.code, 0, 256);
  std::memset(enc.len, 0, 256);
  HuffCode codes[256];
  const int n = huff_canonical_codes(t.lengths, codes);
  for (int i = 0; i < n; ++i) {
    enc.code[codes[i].sym] = static_cast<uint8_t>(codes[i].rev);
    enc.len[codes[i].sym] = codes[i].len;
  }
  if (t.escape < 0) return;
  const uint8_t code = enc.code[t.escape], len = static_cast<uint8_t>(enc.len[t.escape] | 0x80);
  const bool single = t.lengths.max_len == 0;
  for (int s = 0; s < 256; ++s)
    if (s == t.escape || (!single && t.lengths.len[s] == 0) || (single && s != t.lengths.min_sym)) {
      enc.code[s] = code;
      enc.len[s] = len;
    }
}

void lane_build_decoder(const LaneTable& t, LaneDecTable& out) noexcept {
  const auto flag = [&](int s) { return static_cast<uint8_t>(s == t.escape ? 0x80 : 0); };
  if (t.lengths.max_len == 0) {
    std::memset(out.sym, t.lengths.min_sym, 256);
    std::memset(out.len, flag(t.lengths.min_sym), 256);
    return;
  }
  HuffCode codes[256];
  const int n = huff_canonical_codes(t.lengths, codes);
  for (int i = 0; i < n; ++i)
    for (unsigned x = codes[i].rev; x < 256; x += 1u << codes[i].len) {
      out.sym[x] = codes[i].sym;
      out.len[x] = static_cast<uint8_t>(codes[i].len | flag(codes[i].sym));
    }
}

size_t lane_description_size(const LaneTable& t) noexcept {
  return huff_description_size(t.lengths) + (t.escape >= 0 ? 2 : 1);
}

size_t lane_write_description(const LaneTable& t, uint8_t* dst) noexcept {
  size_t n = huff_write_description(t.lengths, dst);
  dst[n++] = t.escape >= 0 ? 1 : 0;
  if (t.escape >= 0) dst[n++] = static_cast<uint8_t>(t.escape);
  return n;
}

size_t lane_read_description(std::span<const uint8_t> src, LaneTable& out) noexcept {
  out = LaneTable{};
  size_t n = huff_read_description(src, out.lengths);
  if (n == 0 || out.lengths.max_len > kLaneBits || src.size() - n < 1) return 0;
  const uint8_t has_escape = src[n++];
  if (has_escape > 1) return 0;
  if (has_escape) {
    if (src.size() - n < 1) return 0;
    const int e = src[n++];
    const bool coded = out.lengths.max_len == 0 ? e == out.lengths.min_sym : out.lengths.len[e] != 0;
    if (!coded) return 0;
    out.escape = e;
  }
  return n;
}

// ------------------------------------------------------------------------------ encoder
size_t lanes_pass1_portable(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc, LaneSteps& out,
                            uint8_t* escapes) noexcept {
  constexpr int L = kLanesPerGroup;
  uint32_t acc[kLaneStep] = {}, nb[kLaneStep] = {}, unread[kLaneStep];
  for (uint32_t& u : unread) u = 16;
  size_t n_esc = 0;
  for (size_t t = 0; t < steps; ++t) {
    const LaneEncTable& T = *block_enc[t / kLaneBlockSteps];
    const uint32_t refill = t + 1 < steps;  // no refill after the last step
    for (int g = 0; g < kLaneGroups; ++g) {
      uint32_t full = 0, need = 0;
      for (int j = 0; j < L; ++j) {
        const int lane = g * L + j;
        const uint8_t sym = syms[t * kLaneStep + lane];
        const uint32_t l = T.len[sym], len = l & 15;
        if (__builtin_expect(l & 0x80, 0)) escapes[n_esc++] = sym;
        const uint32_t a = acc[lane] | uint32_t{T.code[sym]} << nb[lane], b = nb[lane] + len;
        out.bytes[t * kLaneStep + lane] = static_cast<uint8_t>(a);
        const uint32_t f = b >> 3;  // 0 or 1: b < 16
        full |= f << j;
        acc[lane] = a >> (8 * f);
        nb[lane] = b - 8 * f;
        const uint32_t u = unread[lane] - len, n = refill & (u < 8);
        need |= n << j;
        unread[lane] = u + 8 * n;
      }
      out.full[t * kLaneGroups + g] = full;
      out.need[t * kLaneGroups + g] = need;
    }
  }
  for (size_t lane = 0; lane < kLaneStep; ++lane) {
    out.last[lane] = static_cast<uint16_t>(acc[lane]);
    out.last_bits[lane] = static_cast<uint8_t>(nb[lane]);
  }
  return n_esc;
}

// Each lane keeps the stream positions of the bytes it has taken and not yet completed (at most
// two: a ring of four), oldest first.
void lanes_pass2_portable(const LaneSteps& st, size_t steps, uint8_t* const group[4], size_t group_size[4]) noexcept {
  constexpr int L = kLanesPerGroup;
  for (int g = 0; g < kLaneGroups; ++g) {
    uint8_t* const out = group[g];
    std::memset(out, 0, lane_group_bound(steps));
    uint32_t slot[L][4], done[L], given[L];
    for (int j = 0; j < L; ++j) {
      slot[j][0] = static_cast<uint32_t>(2 * j);
      slot[j][1] = static_cast<uint32_t>(2 * j + 1);
      done[j] = 0;
      given[j] = 2;
    }
    uint32_t pos = 2 * L;
    for (size_t t = 0; t < steps; ++t) {
      const uint8_t* bytes = st.bytes + t * kLaneStep + g * L;
      for (uint32_t m = st.full[t * kLaneGroups + g]; m; m &= m - 1) {
        const int j = __builtin_ctz(m);
        out[slot[j][done[j]++ & 3]] = bytes[j];
      }
      for (uint32_t m = st.need[t * kLaneGroups + g]; m; m &= m - 1) {
        const int j = __builtin_ctz(m);
        slot[j][given[j]++ & 3] = pos++;
      }
    }
    for (int j = 0; j < L; ++j)
      if (st.last_bits[g * L + j]) out[slot[j][done[j] & 3]] = static_cast<uint8_t>(st.last[g * L + j]);
    group_size[g] = pos;
  }
}

size_t lanes_encode(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc, uint8_t* const group[4],
                    size_t group_size[4], uint8_t* escapes, LaneEncodeScratch& scratch, LanesPass1Fn pass1,
                    LanesPass2Fn pass2) {
  if (!pass1) {
    static const LanesPass1Fn best = [] {
      const LanesPass1Fn f = lanes_pass1_avx512();
      return f ? f : lanes_pass1_portable;
    }();
    pass1 = best;
  }
  if (!pass2) {
    static const LanesPass2Fn best = [] {
      const LanesPass2Fn f = lanes_pass2_avx512();
      return f ? f : lanes_pass2_portable;
    }();
    pass2 = best;
  }
  scratch.bytes.resize(steps * kLaneStep);
  scratch.masks.resize(2 * steps * kLaneGroups);
  LaneSteps st;
  st.bytes = scratch.bytes.data();
  st.full = scratch.masks.data();
  st.need = scratch.masks.data() + steps * kLaneGroups;
  const size_t n_esc = pass1(syms, steps, block_enc, st, escapes);
  pass2(st, steps, group, group_size);
  return n_esc;
}

// ------------------------------------------------------------------------------ decoder
// The 32 lanes of a group are independent, so their lookups overlap. A group step whose
// stream has 32 bytes left refills without bounds checks; nearer the end each byte is checked.
bool lanes_decode_portable(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                           uint8_t* out, Prefetcher& warm) noexcept {
  constexpr int L = kLanesPerGroup;
  uint32_t buf[kLaneGroups][L], unread[kLaneGroups][L];
  const uint8_t* p[kLaneGroups];
  for (int g = 0; g < kLaneGroups; ++g) {
    if (in.group_end[g] - in.group[g] < 2 * L) return false;
    for (int j = 0; j < L; ++j) {
      buf[g][j] = in.group[g][2 * j] | uint32_t{in.group[g][2 * j + 1]} << 8;
      unread[g][j] = 16;
    }
    p[g] = in.group[g] + 2 * L;
  }
  const uint8_t* e = in.escapes;
  warm.plan(steps);
  for (size_t t = 0; t < steps; ++t) {
    warm.step();
    const LaneDecTable& T = *block_tables[t / kLaneBlockSteps];
    const uint32_t refill = t + 1 < steps;
    for (int g = 0; g < kLaneGroups; ++g) {
      uint8_t* o = out + t * kLaneStep + g * L;
      const uint8_t* pg = p[g];
      const uint8_t* const end = in.group_end[g];
      const bool room = end - pg >= L;
      for (int j = 0; j < L; ++j) {
        const uint32_t x = buf[g][j] & 255, l = T.len[x], len = l & 15;
        uint8_t sym = T.sym[x];
        if (__builtin_expect(l & 0x80, 0)) {
          if (e == in.escapes_end) return false;
          sym = *e++;
        }
        o[j] = sym;
        const uint32_t u = unread[g][j] - len, need = refill & (u < 8);
        uint32_t next = 0;
        if (room) {
          next = (uint32_t{*pg} << u) & (0u - need);
        } else if (need) {
          if (pg == end) return false;
          next = uint32_t{*pg} << u;
        }
        buf[g][j] = (buf[g][j] >> len) | next;
        pg += need;
        unread[g][j] = u + 8 * need;
      }
      p[g] = pg;
    }
  }
  for (int g = 0; g < kLaneGroups; ++g)
    if (p[g] != in.group_end[g]) return false;
  return e == in.escapes_end;
}

// TENZIP_LANES_DECODER=avx2 or =portable caps the choice (to measure the decoders side by side).
LanesDecodeFn lanes_decoder() noexcept {
  static const LanesDecodeFn f = []() -> LanesDecodeFn {
    const char* cap = std::getenv("TENZIP_LANES_DECODER");
    const std::string_view c = cap ? cap : "";
    if (c != "avx2" && c != "portable")
      if (const LanesDecodeFn v = lanes_decode_avx512()) return v;
    if (c != "portable")
      if (const LanesDecodeFn v = lanes_decode_avx2()) return v;
    return lanes_decode_portable;
  }();
  return f;
}

LanesDecodeMergedFn lanes_decoder_merged(int elem_size) noexcept {
  static const bool fused = [] {
    const char* off = std::getenv("TENZIP_NO_FUSED_MERGE");
    return !(off && std::string_view(off) == "1") && lanes_decoder() == lanes_decode_avx512();
  }();
  return fused ? lanes_decode_merged_avx512(elem_size) : nullptr;
}

}  // namespace tenzip::detail
