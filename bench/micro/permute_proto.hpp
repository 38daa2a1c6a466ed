// Prototype, not the product: Huffman decoding with the table in registers (AVX-512 VBMI),
// 128 interleaved lanes, one symbol per lane per step (codec_bench --lanes, last rows).
//
// The gather decoders of lanes_proto.hpp lose to the scalar loop because each lookup is a
// gather from memory. With codes of at most 8 bits, a decode table has 256 entries: symbol
// and length tables of 256 bytes each fit in four zmm registers apiece, and a lookup for 64
// bytes at once is two vpermi2b and a blend by the index's top bit. So:
//  - codes are limited to 8 bits (the codec allows 9), so that one byte refills a lane to
//    the 8 bits a lookup needs (a 9-bit code can leave a lane with 0 unread bits, and 9 + 8
//    bits do not fit a 16-bit lane; 32-bit lanes would halve the symbols per lookup). What
//    the limit costs is printed by --lanes. Instead of lengthening rare symbols' codes, a
//    code may escape them: they share one code, and their values follow as bytes in the
//    group's escape stream, taken like refills (a branch: escapes are rare);
//  - lanes are 16-bit words, 32 per register, each holding 8..16 unread bits of its own
//    bitstream; four registers (groups) are decoded in turn so that their chains overlap;
//  - symbol i belongs to group (i / 32) % 4, lane i % 32: a step of a group decodes 32
//    consecutive symbols, stored with one vpmovwb, in order (no transpose);
//  - after each step, the lanes left with fewer than 8 unread bits take one byte each from
//    their group's refill stream, in lane order (vpexpandb with the lane mask spread to even
//    bytes); the encoder writes the bytes in exactly that order by running the same counts.
// A lane refills while it may still need bits, so its last refill can take a byte past its
// code bits (written as 0): that padding is counted in the bits/symbol reported. A code may
// change every block_steps steps (32 steps = a 4K block): eight registers to reload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace permute_proto {

constexpr int kLanes = 32;   // 16-bit lanes per register
constexpr int kGroups = 4;   // registers decoded in turn
constexpr size_t kStep = kLanes * kGroups;  // symbols per step of all groups

// Codes as (reversed code, length 1..8) per symbol, 0 for absent symbols; the present ones.
// An escape (esc >= 0): the code at symbol esc stands for every symbol without a code of its
// own (and for esc itself), whose value then follows as a byte in the group's escape stream.
struct Code {
  uint8_t rev[256] = {}, len[256] = {};
  int n = 0;
  uint8_t present[256];
  int esc = -1;
  bool escaped(uint8_t s) const { return esc >= 0 && (s == esc || len[s] == 0); }
  uint8_t coded_as(uint8_t s) const { return escaped(s) ? static_cast<uint8_t>(esc) : s; }
};

struct Coded {
  // Each followed by 64 zero bytes (masked loads stay inside).
  std::vector<uint8_t> stream[kGroups], escapes[kGroups];
  size_t bytes() const {
    size_t b = 0;
    for (int g = 0; g < kGroups; ++g) b += stream[g].size() + escapes[g].size() - 128;
    return b;
  }
};

// Step t (symbols [t * kStep, (t + 1) * kStep)) is coded with codes[t / block_steps].
inline Coded encode(const uint8_t* syms, size_t n, const Code* codes, size_t block_steps) {
  Coded c;
  const size_t steps = n / kStep;
  for (int g = 0; g < kGroups; ++g) {
    // Each lane's bitstream (LSB-first), then the bytes in the decoder's order of reading.
    std::vector<uint8_t> lane_bytes[kLanes];
    for (int j = 0; j < kLanes; ++j) {
      uint32_t acc = 0;
      int nb = 0;
      for (size_t t = 0; t < steps; ++t) {
        const Code& code = codes[t / block_steps];
        const uint8_t s = code.coded_as(syms[t * kStep + g * kLanes + j]);
        acc |= uint32_t{code.rev[s]} << nb;
        nb += code.len[s];
        for (; nb >= 8; nb -= 8, acc >>= 8) lane_bytes[j].push_back(static_cast<uint8_t>(acc));
      }
      if (nb) lane_bytes[j].push_back(static_cast<uint8_t>(acc));
    }
    size_t next[kLanes] = {};
    auto take = [&](int j) { return next[j] < lane_bytes[j].size() ? lane_bytes[j][next[j]++] : (next[j]++, uint8_t{0}); };
    std::vector<uint8_t>& out = c.stream[g];
    int unread[kLanes];
    for (int j = 0; j < kLanes; ++j) {
      out.push_back(take(j));
      out.push_back(take(j));
      unread[j] = 16;
    }
    for (size_t t = 0; t < steps; ++t) {
      const Code& code = codes[t / block_steps];
      for (int j = 0; j < kLanes; ++j) {
        const uint8_t s = syms[t * kStep + g * kLanes + j];
        if (code.escaped(s)) c.escapes[g].push_back(s);
        unread[j] -= code.len[code.coded_as(s)];
      }
      if (t + 1 == steps) break;  // no refill after the last step
      for (int j = 0; j < kLanes; ++j)
        if (unread[j] < 8) {
          out.push_back(take(j));
          unread[j] += 8;
        }
    }
    out.insert(out.end(), 64, 0);
    c.escapes[g].insert(c.escapes[g].end(), 64, 0);
  }
  return c;
}

// A code's decode table by the next 8 bits (LSB-first): symbol | length << 8, bit 7 of the
// length set for the escape; a complete code fills every entry.
inline void build_entries(const Code& code, uint16_t* entry) noexcept {
  for (int i = 0; i < code.n; ++i) {
    const uint8_t s = code.present[i];
    const uint16_t v = static_cast<uint16_t>(s | (code.len[s] | (s == code.esc ? 0x80 : 0)) << 8);
    for (unsigned x = code.rev[s]; x < 256; x += 1u << code.len[s]) entry[x] = v;
  }
}

// The layout as a machine without AVX-512 would decode it: plain C++, one table entry per
// lookup, branch-free refills; the 32 lanes of a group are independent, so their lookups
// overlap.
inline void decode_portable(const Coded& c, const Code* codes, size_t block_steps, size_t n, uint8_t* out) {
  uint16_t entry[256];
  uint32_t buf[kGroups][kLanes], unread[kGroups][kLanes];
  const uint8_t* p[kGroups];
  const uint8_t* e[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    p[g] = c.stream[g].data();
    e[g] = c.escapes[g].data();
    for (int j = 0; j < kLanes; ++j) {
      buf[g][j] = p[g][0] | unsigned{p[g][1]} << 8;
      p[g] += 2;
      unread[g][j] = 16;
    }
  }
  for (size_t t = 0; t < n / kStep; ++t) {
    if (t % block_steps == 0) build_entries(codes[t / block_steps], entry);
    for (int g = 0; g < kGroups; ++g) {
      uint8_t* o = out + t * kStep + g * kLanes;
      const uint8_t* pg = p[g];
      for (int j = 0; j < kLanes; ++j) {  // a lane's refill right after its lookup: same order
        const uint32_t v = entry[buf[g][j] & 255], len = (v >> 8) & 15;
        if (__builtin_expect(v & 0x8000, 0)) o[j] = *e[g]++;
        else o[j] = static_cast<uint8_t>(v);
        const uint32_t u = unread[g][j] - len, need = u < 8;
        buf[g][j] = (buf[g][j] >> len) | ((uint32_t{*pg} << u) & (0u - need));
        pg += need;
        unread[g][j] = u + 8 * need;
      }
      p[g] = pg;
    }
  }
}

#if defined(__x86_64__)
#pragma GCC diagnostic push
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12, inside its own AVX-512 headers
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#define TENZIP_PERMUTE_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,bmi2,popcnt")))

// 64 byte lookups in a 256-entry table held in t[0..3] (t[k] = entries 64k..64k+63).
TENZIP_PERMUTE_TARGET inline __m512i lookup256(const __m512i* t, __m512i idx, __mmask64 top) noexcept {
  const __m512i lo = _mm512_permutex2var_epi8(t[0], idx, t[1]);
  const __m512i hi = _mm512_permutex2var_epi8(t[2], idx, t[3]);
  return _mm512_mask_blend_epi8(top, lo, hi);
}

// The symbol and length tables of a code (build_entries, split in registers): four
// registers each.
TENZIP_PERMUTE_TARGET inline void load_tables(const Code& code, __m512i* S, __m512i* L) {
  alignas(64) uint16_t entry[256];
  build_entries(code, entry);
  for (int k = 0; k < 4; ++k) {
    const __m512i w0 = _mm512_load_si512(entry + 64 * k), w1 = _mm512_load_si512(entry + 64 * k + 32);
    S[k] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(w0)), _mm512_cvtepi16_epi8(w1), 1);
    L[k] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm512_cvtepi16_epi8(_mm512_srli_epi16(w0, 8))),
                              _mm512_cvtepi16_epi8(_mm512_srli_epi16(w1, 8)), 1);
  }
}

// Decodes n symbols (a multiple of kStep) into out, step t with codes[t / block_steps]
// (its tables built when its first step comes).
TENZIP_PERMUTE_TARGET inline void decode(const Coded& c, const Code* codes, size_t block_steps, size_t n, uint8_t* out) {
  __m512i S[4], L[4];
  const __m512i len_bits = _mm512_set1_epi16(0x0F), esc_bit = _mm512_set1_epi16(0x80), eight = _mm512_set1_epi16(8);
  __m512i buf[kGroups], unread[kGroups];
  const uint8_t* p[kGroups];
  const uint8_t* e[kGroups];
  for (int g = 0; g < kGroups; ++g) {
    p[g] = c.stream[g].data();
    e[g] = c.escapes[g].data();
    buf[g] = _mm512_loadu_si512(p[g]);  // lane j: its first two bytes
    p[g] += 64;
    unread[g] = _mm512_set1_epi16(16);
  }
  const size_t steps = n / kStep;
  for (size_t t = 0; t < steps; ++t) {
    if (t % block_steps == 0) load_tables(codes[t / block_steps], S, L);
    for (int g = 0; g < kGroups; ++g) {
      // Index bytes: a lane's low byte is its next 8 bits (the high byte's lookups are unused).
      const __mmask64 top = _mm512_movepi8_mask(buf[g]);
      __m512i sym = lookup256(S, buf[g], top);
      const __m512i len_esc = lookup256(L, buf[g], top);
      const __m512i len = _mm512_and_si512(len_esc, len_bits);
      // Escaped lanes (rare: a branch) take their symbols from the escape stream, in lane order.
      if (const __mmask32 esc = _mm512_test_epi16_mask(len_esc, esc_bit)) {
        sym = _mm512_mask_mov_epi16(sym, esc, _mm512_maskz_expandloadu_epi8(_pdep_u64(esc, 0x5555555555555555ull), e[g]));
        e[g] += _mm_popcnt_u32(esc);
      }
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + t * kStep + g * kLanes), _mm512_cvtepi16_epi8(sym));
      buf[g] = _mm512_srlv_epi16(buf[g], len);
      unread[g] = _mm512_sub_epi16(unread[g], len);
      const __mmask32 need = _mm512_cmplt_epu16_mask(unread[g], eight);
      const __m512i bytes = _mm512_maskz_expandloadu_epi8(_pdep_u64(need, 0x5555555555555555ull), p[g]);
      p[g] += _mm_popcnt_u32(need);
      buf[g] = _mm512_or_si512(buf[g], _mm512_sllv_epi16(bytes, unread[g]));
      unread[g] = _mm512_mask_add_epi16(unread[g], need, unread[g], eight);
    }
  }
}
#undef TENZIP_PERMUTE_TARGET
#pragma GCC diagnostic pop
#endif

}  // namespace permute_proto
