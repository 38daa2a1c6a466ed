#include "entropy/huffman.hpp"

#include "entropy/huffman_dispatch.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tenzip::detail {

namespace {

// Bit reversal by bytes: two lookups instead of a loop per bit.
constexpr auto kRev8 = [] {
  std::array<uint8_t, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int i = 0; i < 8; ++i) t[b] = static_cast<uint8_t>(t[b] | (((b >> i) & 1) << (7 - i)));
  return t;
}();
// The len low bits of code in reverse order (len <= 16).
uint32_t reverse_bits(uint32_t code, int len) noexcept {
  const uint32_t rev16 = (uint32_t{kRev8[code & 255]} << 8) | kRev8[(code >> 8) & 255];
  return rev16 >> (16 - len);
}

// The present symbols in canonical order (by length, then symbol) with their canonical codes
// (MSB-first, as in DEFLATE) bit-reversed, as we read and write LSB-first; returns how many.
// One bit set per symbol and length first, then each length's symbols in turn: the next code
// stays in a register. (Counting codes per length in an array indexed by the length chains
// the increments of neighbouring symbols, which mostly share a length, through memory.)
int canonical_present(const HuffLengths& h, HuffCode* out) noexcept {
  constexpr int kGroups = 256 / 16;
  uint16_t mask[kHuffMaxBits + 1][kGroups] = {};  // mask[l][g] bit i: symbol 16g + i has length l
  const int g0 = h.min_sym / 16, g1 = h.max_sym / 16;
  for (int g = g0; g <= g1; ++g) {
#if defined(__SSE2__)
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(h.len.data() + 16 * g));
    for (int l = 1; l <= h.max_len; ++l)
      mask[l][g] = static_cast<uint16_t>(_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(static_cast<char>(l)))));
#else
    for (int i = 0; i < 16; ++i) {
      const int l = h.len[16 * g + i];
      if (l) mask[l][g] = static_cast<uint16_t>(mask[l][g] | (1u << i));
    }
#endif
  }
  int n = 0;
  uint32_t code = 0;
  for (int l = 1; l <= h.max_len; ++l) {
    for (int g = g0; g <= g1; ++g)
      for (uint32_t m = mask[l][g]; m; m &= m - 1) {
        out[n++] = {static_cast<uint16_t>(reverse_bits(code, l)), static_cast<uint8_t>(l),
                    static_cast<uint8_t>(16 * g + __builtin_ctz(m))};
        ++code;
      }
    code <<= 1;
  }
  return n;
}

}  // namespace

int huff_canonical_codes(const HuffLengths& lengths, HuffCode* out) noexcept {
  return lengths.max_len == 0 ? 0 : canonical_present(lengths, out);
}

void huff_build_tree(const uint32_t* counts, HuffTree& t) noexcept {
  // Symbols sorted by count ascending, ties by symbol (deterministic): one integer key each.
  uint64_t keys[256];
  int n = 0;
  for (int s = 0; s < 256; ++s)
    if (counts[s]) keys[n++] = (uint64_t{counts[s]} << 8) | static_cast<uint64_t>(s);
  std::sort(keys, keys + n);
  huff_build_tree_sorted(keys, n, t);
}

void huff_build_tree_sorted(const uint64_t* keys, int n, HuffTree& t) noexcept {
  t.n = n;
  t.max_depth = 0;
  if (n == 0) return;
  for (int i = 0; i < n; ++i) t.syms[i] = static_cast<uint8_t>(keys[i]);
  if (n < 2) return;  // one symbol: zero-length code, no bits at all
  // Two-queue Huffman (leaves sorted; internal nodes are created in non-decreasing order).
  uint64_t weight[512];
  int parent[512];
  for (int i = 0; i < n; ++i) weight[i] = keys[i] >> 8;
  int leaf = 0, inner = n, inner_end = n;
  auto pick = [&]() {
    if (leaf < n && (inner >= inner_end || weight[leaf] <= weight[inner])) return leaf++;
    return inner++;
  };
  for (int k = 0; k < n - 1; ++k) {
    int a = pick(), b = pick();
    weight[inner_end] = weight[a] + weight[b];
    parent[a] = parent[b] = inner_end;
    inner_end++;
  }
  // Depths: the root is node 2n - 2 (n <= 256), with depth 0; count the leaves per depth.
  uint8_t depth[512];
  const int root = 2 * n - 2;
  depth[root] = 0;
  for (int i = root - 1; i >= 0; --i) depth[i] = static_cast<uint8_t>(depth[parent[i]] + 1);
  for (int i = 0; i < n; ++i) t.max_depth = std::max<int>(t.max_depth, depth[i]);
  std::memset(t.bl_count, 0, sizeof(t.bl_count[0]) * (t.max_depth + 1));
  for (int i = 0; i < n; ++i) t.bl_count[depth[i]]++;
}

void huff_tree_lengths(const HuffTree& t, int limit, HuffLengths& out) noexcept {
  out = HuffLengths{};
  if (t.n == 0) return;
  if (t.n == 1) {
    out.min_sym = out.max_sym = t.syms[0];
    out.max_len = 0;
    return;
  }
  // Limit to `limit` bits (the miniz/JPEG Kraft repair): overlong codes are clamped, and the
  // Kraft excess is paid by lengthening shorter codes.
  uint32_t bl_count[256];
  int max_len = t.max_depth;
  std::memcpy(bl_count, t.bl_count, sizeof(bl_count[0]) * (max_len + 1));
  if (max_len > limit) {
    for (int l = limit + 1; l <= max_len; ++l) { bl_count[limit] += bl_count[l]; bl_count[l] = 0; }
    uint64_t total = 0;
    for (int l = 1; l <= limit; ++l) total += static_cast<uint64_t>(bl_count[l]) << (limit - l);
    while (total > (uint64_t{1} << limit)) {
      bl_count[limit]--;
      for (int l = limit - 1; l > 0; --l)
        if (bl_count[l]) { bl_count[l]--; bl_count[l + 1] += 2; break; }
      total--;
    }
    max_len = limit;
  }
  // Assign lengths: the rarest symbols (front of `syms`) get the longest codes.
  int idx = 0;
  for (int l = max_len; l > 0; --l)
    for (uint32_t c = 0; c < bl_count[l]; ++c) out.len[t.syms[idx++]] = static_cast<uint8_t>(l);
  while (max_len > 1 && bl_count[max_len] == 0) --max_len;  // (the repair may empty the limit)
  out.max_len = max_len;
  out.min_sym = *std::min_element(t.syms, t.syms + t.n);
  out.max_sym = *std::max_element(t.syms, t.syms + t.n);
}

void huff_build_lengths(const uint32_t* counts, int limit, HuffLengths& out) noexcept {
  HuffTree t;
  huff_build_tree(counts, t);
  huff_tree_lengths(t, limit, out);
}

uint64_t huff_cost_bits(const uint32_t* counts, const HuffLengths& h) noexcept {
  uint64_t bits = 0;
  if (h.max_sym < h.min_sym) return 0;
  for (int s = h.min_sym; s <= h.max_sym; ++s) bits += static_cast<uint64_t>(counts[s]) * h.len[s];
  return bits;
}

void huff_build_encoder(const HuffLengths& h, HuffEncTable& out) noexcept {
  std::memset(out.data(), 0, sizeof(out));
  if (h.max_sym < h.min_sym) return;
  HuffCode present[256];
  const int n = canonical_present(h, present);
  for (int c = 0; c < n; ++c) out[present[c].sym] = (uint64_t{present[c].rev} << (63 - present[c].len)) | present[c].len;
}

void huff_build_pair_encoder(const HuffLengths& h, const HuffEncTable& enc, HuffPairEntry* pairs) noexcept {
  const int lo = h.min_sym, hi = h.max_sym;
  for (int b = lo; b <= hi; ++b) {
    if (h.len[b] == 0 && h.max_len > 0) continue;  // (a one-symbol code has length 0)
    const uint64_t eb = enc[b];
    const unsigned lb = static_cast<unsigned>(eb & 255);
    HuffPairEntry* row = pairs + (b << 8);
    // a's code moves down by b's length to make room for b's; the low bytes add up.
    for (int a = lo; a <= hi; ++a) row[a] = (((enc[a] & ~uint64_t{255}) >> lb) | eb) + (enc[a] & 255);
  }
}

void huff_build_decoder(const HuffLengths& h, int bits, HuffDecTable& out) noexcept {
  out.bits = bits;
  const bool multi = huff_use_multi(bits);
  const uint32_t size = 1u << bits;
  if (h.max_len == 0) {  // single symbol, zero-length code: every lookup yields it four times
    const uint64_t sym = static_cast<uint64_t>(h.min_sym);
    const uint64_t e = (uint64_t{4} << 56) | (sym * 0x0101010100ull);
    for (uint32_t i = 0; i < size; ++i) {
      if (multi) {
        out.multi[i] = e;
      } else {
        out.single[i] = static_cast<uint16_t>(sym << 8);  // code length 0
        out.pair[i] = static_cast<uint32_t>((2u << 24) | (sym << 16) | (sym << 8));
      }
    }
    return;
  }
  HuffCode present[256];
  const int n_present = canonical_present(h, present);
  if (multi) {
    huff_kernels().build_multi(present, n_present, out.multi.data());
    return;
  }
  // One symbol per index: a valid table is a complete code, so every entry gets written.
  uint16_t* single = out.single.data();
  for (int c = 0; c < n_present; ++c) {
    const uint16_t e = static_cast<uint16_t>(present[c].len | (present[c].sym << 8));
    for (uint32_t i = present[c].rev; i < size; i += 1u << present[c].len) single[i] = e;
  }
  // pair[j]: the first code of j, then the code of the bits above it if it fits in the `bits`
  // known bits (the unknown bits above j are zeros in j >> l1: a code no longer than the known
  // bits does not depend on them).
  for (uint32_t j = 0; j < size; ++j) {
    const uint32_t e1 = single[j], l1 = e1 & 15;
    const uint32_t e2 = single[j >> l1], l2 = e2 & 15;
    out.pair[j] = l1 + l2 <= static_cast<uint32_t>(bits)
                      ? (2u << 24) | ((e2 >> 8) << 16) | ((e1 >> 8) << 8) | (l1 + l2)
                      : (1u << 24) | ((e1 >> 8) << 8) | l1;
  }
}

int huff_flat_length(const HuffLengths& h) noexcept {
  const int L = h.max_len;
  if (L < 1 || L > kHuffFlatMaxBits) return 0;
  for (int s = h.min_sym; s <= h.max_sym; ++s)
    if (h.len[s] != 0 && h.len[s] != L) return 0;
  return L;
}

void huff_build_flat_map(const HuffLengths& h, uint8_t* map) noexcept {
  std::memset(map, 0, kHuffFlatMapSize);
  HuffCode present[256];
  const int n = canonical_present(h, present);
  for (int c = 0; c < n; ++c) map[present[c].rev] = present[c].sym;
}

size_t huff_description_size(const HuffLengths& h) noexcept {
  return h.max_sym == h.min_sym ? 2 : 2 + (static_cast<size_t>(h.max_sym - h.min_sym + 1) + 1) / 2;
}

size_t huff_write_description(const HuffLengths& h, uint8_t* dst) noexcept {
  dst[0] = static_cast<uint8_t>(h.min_sym);
  dst[1] = static_cast<uint8_t>(h.max_sym);
  if (h.max_sym == h.min_sym) return 2;
  const int n = h.max_sym - h.min_sym + 1;
  for (int i = 0; i < n; i += 2) {
    uint8_t lo = h.len[h.min_sym + i];
    uint8_t hi = i + 1 < n ? h.len[h.min_sym + i + 1] : 0;
    dst[2 + i / 2] = static_cast<uint8_t>(lo | (hi << 4));
  }
  return 2 + static_cast<size_t>(n + 1) / 2;
}

size_t huff_read_description(std::span<const uint8_t> src, HuffLengths& out) noexcept {
  out = HuffLengths{};
  if (src.size() < 2) return 0;
  const int lo = src[0], hi = src[1];
  if (hi < lo) return 0;
  out.min_sym = lo; out.max_sym = hi;
  if (hi == lo) return 2;  // single symbol, length 0
  const size_t n = static_cast<size_t>(hi - lo + 1);
  const size_t size = 2 + (n + 1) / 2;
  if (src.size() < size) return 0;
  uint64_t kraft = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint8_t b = src[2 + i / 2];
    const int len = (i & 1) ? (b >> 4) : (b & 15);
    if (len > kHuffMaxBits) return 0;
    out.len[lo + i] = static_cast<uint8_t>(len);
    if (len) kraft += 1u << (kHuffMaxBits - len);
    out.max_len = std::max(out.max_len, len);
  }
  // The end symbols must be present and the code complete, so every decode-table entry is defined.
  if (out.len[lo] == 0 || out.len[hi] == 0) return 0;
  if (kraft != (1u << kHuffMaxBits)) return 0;
  return size;
}

}  // namespace tenzip::detail
