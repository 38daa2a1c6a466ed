// The LANES decoder and the encoder's two passes for AVX-512 VBMI/VBMI2 (lanes.hpp): a block's
// table lives in eight registers; a lookup of 64 bytes is two vpermi2b and a blend by the
// index's top bit. The decoder's 32 lanes of a group refill by one expanding load; the
// encoder's escaped symbols leave by one compressing store, its completed bytes by compresses
// in registers. Compiled with target attributes and called only after run-time detection.
#include "entropy/lanes.hpp"

#include <cstring>

#include "util/cpu.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

namespace tenzip::detail {

namespace {

#pragma GCC diagnostic push
#if !defined(__clang__)  // a GCC-only warning
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12, inside its own AVX-512 headers
#endif
#pragma GCC diagnostic ignored "-Wuninitialized"
#define TENZIP_LANES_TARGET __attribute__((target("avx512f,avx512bw,avx512vbmi,avx512vbmi2,bmi2,popcnt")))

// 64 byte lookups in the 256-entry table t[0..3] (t[k] = entries 64k..64k+63): index bits 0-6
// pick within a pair of registers, bit 7 (`top`) picks the pair.
TENZIP_LANES_TARGET inline __m512i lookup256(const __m512i* t, __m512i idx, __mmask64 top) noexcept {
  const __m512i lo = _mm512_permutex2var_epi8(t[0], idx, t[1]);
  const __m512i hi = _mm512_permutex2var_epi8(t[2], idx, t[3]);
  return _mm512_mask_blend_epi8(top, lo, hi);
}

// The mask of 32 word lanes spread to the even bytes: an expanding byte load then puts byte k
// in the low byte of the k-th selected lane.
TENZIP_LANES_TARGET inline __mmask64 even_bytes(__mmask32 m) noexcept { return _pdep_u64(m, 0x5555555555555555ull); }

// kElem 2 or 4: instead of the symbols, writes the elements they are the top bytes of
// (doc/FORMAT.md 12.1), the element's other bytes from rest[0..kElem-2] (stream 1 = the next
// byte down): element i = rotate right by 1 of (symbol i, rest[0][i], ...), 32 * kElem bytes
// of out per group. The symbols are already in 16-bit lanes, so the merge is a few loads,
// shifts and ors per 32 elements, and the exponents never go through memory.
template <int kElem>
TENZIP_LANES_TARGET inline void store_elements(__m512i sym, const uint8_t* const* rest, size_t i0,
                                               uint8_t* out) noexcept {
  if constexpr (kElem == 2) {
    const __m512i l = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(rest[0] + i0)));
    const __m512i r = _mm512_or_si512(_mm512_slli_epi16(sym, 8), l);  // drops the unused high bytes
    _mm512_storeu_si512(out + 2 * i0, _mm512_shrdi_epi16(r, r, 1));
  } else {
    for (int h = 0; h < 2; ++h) {  // 16 elements per half
      const size_t i = i0 + 16 * static_cast<size_t>(h);
      const __m256i half = h == 0 ? _mm512_castsi512_si256(sym) : _mm512_extracti64x4_epi64(sym, 1);
      __m512i b[3];
      for (int s = 0; s < 3; ++s)
        b[s] = _mm512_cvtepu8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(rest[s] + i)));
      __m512i r = _mm512_slli_epi32(_mm512_cvtepu16_epi32(half), 24);  // drops the unused high bytes
      r = _mm512_or_si512(r, _mm512_slli_epi32(b[0], 16));
      r = _mm512_or_si512(r, _mm512_slli_epi32(b[1], 8));
      r = _mm512_or_si512(r, b[2]);
      _mm512_storeu_si512(out + 4 * i, _mm512_ror_epi32(r, 1));
    }
  }
}
template <int kElem>
TENZIP_LANES_TARGET inline bool decode_impl(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                                            const uint8_t* const* rest, uint8_t* out, Prefetcher& warm) noexcept {
  __m512i S[4], Ln[4];
  const __m512i len_bits = _mm512_set1_epi16(0x0F), esc_bit = _mm512_set1_epi16(0x80), eight = _mm512_set1_epi16(8);
  __m512i buf[kLaneGroups], unread[kLaneGroups];
  const uint8_t* p[kLaneGroups];
  for (int g = 0; g < kLaneGroups; ++g) {
    if (in.group_end[g] - in.group[g] < 2 * kLanesPerGroup) return false;
    buf[g] = _mm512_loadu_si512(in.group[g]);  // lane j: its first two bytes
    p[g] = in.group[g] + 2 * kLanesPerGroup;
    unread[g] = _mm512_set1_epi16(16);
  }
  const uint8_t* e = in.escapes;
  warm.plan(steps);
  for (size_t t = 0; t < steps; ++t) {
    warm.step();
    if (t % kLaneBlockSteps == 0) {
      const LaneDecTable& T = *block_tables[t / kLaneBlockSteps];
      for (int k = 0; k < 4; ++k) {
        S[k] = _mm512_load_si512(T.sym + 64 * k);
        Ln[k] = _mm512_load_si512(T.len + 64 * k);
      }
    }
    const bool refill = t + 1 < steps;
    for (int g = 0; g < kLaneGroups; ++g) {
      // Index bytes: a lane's low byte is its next 8 bits (the high byte's lookups are unused).
      const __mmask64 top = _mm512_movepi8_mask(buf[g]);
      __m512i sym = lookup256(S, buf[g], top);
      const __m512i len_esc = lookup256(Ln, buf[g], top);
      const __m512i len = _mm512_and_si512(len_esc, len_bits);
      // Escaped lanes (rare: a branch) take their symbols from the escape stream, in lane order.
      if (const __mmask32 esc = _mm512_test_epi16_mask(len_esc, esc_bit)) {
        const unsigned c = static_cast<unsigned>(_mm_popcnt_u32(esc));
        if (c > static_cast<size_t>(in.escapes_end - e)) return false;
        sym = _mm512_mask_mov_epi16(sym, esc, _mm512_maskz_expandloadu_epi8(even_bytes(esc), e));
        e += c;
      }
      const size_t i0 = t * kLaneStep + g * kLanesPerGroup;
      if constexpr (kElem > 1) {
        store_elements<kElem>(sym, rest, i0, out);
      } else {
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i0), _mm512_cvtepi16_epi8(sym));
      }
      buf[g] = _mm512_srlv_epi16(buf[g], len);
      unread[g] = _mm512_sub_epi16(unread[g], len);
      if (!refill) continue;
      const __mmask32 need = _mm512_cmplt_epu16_mask(unread[g], eight);
      const unsigned c = static_cast<unsigned>(_mm_popcnt_u32(need));
      if (c > static_cast<size_t>(in.group_end[g] - p[g])) return false;
      const __m512i bytes = _mm512_maskz_expandloadu_epi8(even_bytes(need), p[g]);  // reads c bytes only
      p[g] += c;
      buf[g] = _mm512_or_si512(buf[g], _mm512_sllv_epi16(bytes, unread[g]));
      unread[g] = _mm512_mask_add_epi16(unread[g], need, unread[g], eight);
    }
  }
  for (int g = 0; g < kLaneGroups; ++g)
    if (p[g] != in.group_end[g]) return false;
  return e == in.escapes_end;
}
TENZIP_LANES_TARGET bool decode(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                                uint8_t* out, Prefetcher& warm) noexcept {
  return decode_impl<1>(in, steps, block_tables, nullptr, out, warm);
}
TENZIP_LANES_TARGET bool decode_merged2(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                                        const uint8_t* const* rest, uint8_t* out, Prefetcher& warm) noexcept {
  return decode_impl<2>(in, steps, block_tables, rest, out, warm);
}
TENZIP_LANES_TARGET bool decode_merged4(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                                        const uint8_t* const* rest, uint8_t* out, Prefetcher& warm) noexcept {
  return decode_impl<4>(in, steps, block_tables, rest, out, warm);
}
// lanes_pass1_portable, 32 lanes at a time: 16-bit lanes hold the bits not yet in a
// complete byte (< 8 + 8 code bits) and the decoder's unread count.
TENZIP_LANES_TARGET size_t pass1(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc,
                                 LaneSteps& out, uint8_t* escapes) noexcept {
  __m512i C[4], Ln[4];
  const __m512i low = _mm512_set1_epi16(0xFF), len_bits = _mm512_set1_epi16(0x0F), esc_bit = _mm512_set1_epi16(0x80),
                eight = _mm512_set1_epi16(8);
  __m512i acc[kLaneGroups], nb[kLaneGroups], unread[kLaneGroups];
  for (int g = 0; g < kLaneGroups; ++g) {
    acc[g] = nb[g] = _mm512_setzero_si512();
    unread[g] = _mm512_set1_epi16(16);
  }
  size_t n_esc = 0;
  for (size_t t = 0; t < steps; ++t) {
    if (t % kLaneBlockSteps == 0) {
      const LaneEncTable& T = *block_enc[t / kLaneBlockSteps];
      for (int k = 0; k < 4; ++k) {
        C[k] = _mm512_load_si512(T.code + 64 * k);
        Ln[k] = _mm512_load_si512(T.len + 64 * k);
      }
    }
    const __mmask32 refill = t + 1 < steps ? ~__mmask32{0} : 0;
    for (int g = 0; g < kLaneGroups; ++g) {
      const __m512i sym = _mm512_cvtepu8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(syms + t * kLaneStep + g * kLanesPerGroup)));
      const __mmask64 top = _mm512_movepi8_mask(sym);
      const __m512i code = _mm512_and_si512(lookup256(C, sym, top), low);
      const __m512i len_esc = lookup256(Ln, sym, top);
      const __m512i len = _mm512_and_si512(len_esc, len_bits);
      if (const __mmask32 esc = _mm512_test_epi16_mask(len_esc, esc_bit)) {
        _mm512_mask_compressstoreu_epi8(escapes + n_esc, even_bytes(esc), sym);
        n_esc += static_cast<size_t>(_mm_popcnt_u32(esc));
      }
      acc[g] = _mm512_or_si512(acc[g], _mm512_sllv_epi16(code, nb[g]));
      nb[g] = _mm512_add_epi16(nb[g], len);
      const __mmask32 full = _mm512_cmpge_epu16_mask(nb[g], eight);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.bytes + t * kLaneStep + g * kLanesPerGroup),
                          _mm512_cvtepi16_epi8(acc[g]));
      acc[g] = _mm512_mask_srli_epi16(acc[g], full, acc[g], 8);
      nb[g] = _mm512_mask_sub_epi16(nb[g], full, nb[g], eight);
      unread[g] = _mm512_sub_epi16(unread[g], len);
      const __mmask32 need = _mm512_cmplt_epu16_mask(unread[g], eight) & refill;
      unread[g] = _mm512_mask_add_epi16(unread[g], need, unread[g], eight);
      out.full[t * kLaneGroups + g] = full;
      out.need[t * kLaneGroups + g] = need;
    }
  }
  for (int g = 0; g < kLaneGroups; ++g) {
    _mm512_storeu_si512(out.last + g * kLanesPerGroup, acc[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.last_bits + g * kLanesPerGroup), _mm512_cvtepi16_epi8(nb[g]));
  }
  return n_esc;
}
// lanes_pass2_portable with each lane's pending stream positions in vectors of 16 dwords, A the
// oldest and B the next. Two suffice: a lane's decoder holds at most 16 unread bits, so at most
// two of the bytes it has taken are not yet complete (the unit test compares every byte with
// the portable pass, which keeps a ring of four). Per group step, the lanes that take a byte
// get consecutive positions by one expand per half; the completed bytes and their positions
// are compressed in registers and appended to a batch, placed by a scalar loop once per 32
// steps (placing them at once would read back each step's stores: a store-forwarding stall
// per byte).
TENZIP_LANES_TARGET void pass2(const LaneSteps& st, size_t steps, uint8_t* const group[4], size_t group_size[4]) noexcept {
  constexpr int L = kLanesPerGroup;
  constexpr size_t kBatchSteps = 32;
  const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  // Whole-register stores at the running count: room for one past the batch's last byte.
  alignas(64) uint32_t where[kBatchSteps * L + 16];
  alignas(64) uint8_t what[kBatchSteps * L + 64];
  for (int g = 0; g < kLaneGroups; ++g) {
    uint8_t* const out = group[g];
    std::memset(out, 0, lane_group_bound(steps));
    // Lane j starts with the stream's bytes 2j and 2j + 1.
    __m512i A[2], B[2];
    for (int h = 0; h < 2; ++h) {
      A[h] = _mm512_slli_epi32(_mm512_add_epi32(iota, _mm512_set1_epi32(16 * h)), 1);
      B[h] = _mm512_add_epi32(A[h], _mm512_set1_epi32(1));
    }
    uint32_t has1 = ~0u, has2 = ~0u;  // lanes with at least one, with two pending positions
    uint32_t pos = 2 * L;
    size_t n = 0;  // completed bytes in the batch
    for (size_t t = 0; t < steps; ++t) {
      const uint32_t full = st.full[t * kLaneGroups + g], need = st.need[t * kLaneGroups + g];
      const __m512i bytes = _mm512_castsi256_si512(
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(st.bytes + t * kLaneStep + g * L)));
      const __mmask16 f_lo = static_cast<__mmask16>(full), f_hi = static_cast<__mmask16>(full >> 16);
      const unsigned c_lo = static_cast<unsigned>(_mm_popcnt_u32(f_lo));
      _mm512_storeu_si512(what + n, _mm512_maskz_compress_epi8(full, bytes));
      _mm512_storeu_si512(where + n, _mm512_maskz_compress_epi32(f_lo, A[0]));
      _mm512_storeu_si512(where + n + c_lo, _mm512_maskz_compress_epi32(f_hi, A[1]));
      n += static_cast<size_t>(_mm_popcnt_u32(full));
      A[0] = _mm512_mask_mov_epi32(A[0], f_lo, B[0]);
      A[1] = _mm512_mask_mov_epi32(A[1], f_hi, B[1]);
      has1 = (has1 & ~full) | (has2 & full);
      has2 &= ~full;

      const __mmask16 n_lo = static_cast<__mmask16>(need), n_hi = static_cast<__mmask16>(need >> 16);
      const uint32_t first_hi = pos + static_cast<uint32_t>(_mm_popcnt_u32(n_lo));
      const __m512i P[2] = {
          _mm512_maskz_expand_epi32(n_lo, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(pos)))),
          _mm512_maskz_expand_epi32(n_hi, _mm512_add_epi32(iota, _mm512_set1_epi32(static_cast<int>(first_hi))))};
      const uint32_t to_a = need & ~has1, to_b = need & has1;
      for (int h = 0; h < 2; ++h) {
        A[h] = _mm512_mask_mov_epi32(A[h], static_cast<__mmask16>(to_a >> (16 * h)), P[h]);
        B[h] = _mm512_mask_mov_epi32(B[h], static_cast<__mmask16>(to_b >> (16 * h)), P[h]);
      }
      has2 |= to_b;
      has1 |= need;
      pos += static_cast<uint32_t>(_mm_popcnt_u32(need));

      if ((t + 1) % kBatchSteps == 0 || t + 1 == steps) {
        for (size_t k = 0; k < n; ++k) out[where[k]] = what[k];
        n = 0;
      }
    }
    _mm512_store_si512(where, A[0]);
    _mm512_store_si512(where + 16, A[1]);
    for (int j = 0; j < L; ++j)
      if (st.last_bits[g * L + j]) out[where[j]] = static_cast<uint8_t>(st.last[g * L + j]);
    group_size[g] = pos;
  }
}
#undef TENZIP_LANES_TARGET
#pragma GCC diagnostic pop

}  // namespace

LanesDecodeFn lanes_decode_avx512() noexcept { return cpu_has_avx512_vbmi() ? decode : nullptr; }
LanesDecodeMergedFn lanes_decode_merged_avx512(int elem_size) noexcept {
  if (!cpu_has_avx512_vbmi()) return nullptr;
  return elem_size == 2 ? decode_merged2 : elem_size == 4 ? decode_merged4 : nullptr;
}
LanesPass1Fn lanes_pass1_avx512() noexcept { return cpu_has_avx512_vbmi() ? pass1 : nullptr; }
LanesPass2Fn lanes_pass2_avx512() noexcept { return cpu_has_avx512_vbmi() ? pass2 : nullptr; }

}  // namespace tenzip::detail

#else

namespace tenzip::detail {
LanesDecodeFn lanes_decode_avx512() noexcept { return nullptr; }
LanesDecodeMergedFn lanes_decode_merged_avx512(int) noexcept { return nullptr; }
LanesPass1Fn lanes_pass1_avx512() noexcept { return nullptr; }
LanesPass2Fn lanes_pass2_avx512() noexcept { return nullptr; }
}  // namespace tenzip::detail

#endif
