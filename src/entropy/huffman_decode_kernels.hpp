// Huffman decoding hot loops and decode-table builds. The four LSB-first bitstreams of a
// HUFF section (doc/FORMAT.md 12.3) each code a quarter of the blocks; they are decoded in
// lockstep so that their table lookups are independent and overlap in the CPU.
// Pure loops: no allocation, no errors. Compiled portable and with AVX2/BMI2 (internal linkage).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#if defined(__BMI2__)
#include <immintrin.h>
#endif

#include "entropy/bit_io.hpp"
#include "entropy/huffman.hpp"
#include "util/prefetch.hpp"

namespace tenzip::detail::kernels {
namespace {

// Reader of one LSB-first bitstream: `buf` holds the 8 bytes at `p`, of which the low `c`
// bits are consumed; the next bits are buf >> c. A refill moves `p` by the whole consumed
// bytes and reloads (at least 57 bits unread afterwards): a few instructions that do not
// depend on the lookups' shifts, which only add to `c`.
struct BitReader {
  const uint8_t* p;
  const uint8_t* limit;  // end of readable memory (not of this stream): over-reads stay inside
  uint64_t buf = 0;
  uint64_t c = 0;        // bits of buf consumed, < 64
  size_t past_end = 0;   // bytes taken beyond `limit` as zeros (corrupt input, or the very end)

  inline void refill() noexcept {
    const size_t adv = static_cast<size_t>(c >> 3);
    c &= 7;
    if (__builtin_expect(static_cast<size_t>(limit - p) >= adv + 8, 1)) {
      p += adv;
      buf = load_u64(p);
    } else {
      refill_near_end(adv);
    }
  }
  __attribute__((noinline)) void refill_near_end(size_t adv) noexcept {
    const size_t avail = static_cast<size_t>(limit - p);
    const size_t take = adv < avail ? adv : avail;
    past_end += adv - take;
    p += take;
    const size_t left = static_cast<size_t>(limit - p);
    buf = 0;
    if (left) std::memcpy(&buf, p, left < 8 ? left : 8);
  }
  uint64_t consumed(const uint8_t* start) const noexcept {
    return static_cast<uint64_t>(p - start + past_end) * 8 + c;
  }
};

// Multi entry fields (see HuffDecTable), read from memory: a byte load each, no shifts.
constexpr uint64_t kMultiMask = (uint64_t{1} << kHuffMultiBits) - 1;
inline const uint8_t* multi_entry(const uint64_t* t, uint64_t b) noexcept {
  return reinterpret_cast<const uint8_t*>(t + (b & kMultiMask));
}
inline unsigned dec_first_len(const uint8_t* e) noexcept { return e[5] & 15u; }

// Lockstep decoding of four streams. Per stream: its output and tables.
struct Lane {
  uint8_t* out;
  uint8_t* block_end;
  size_t block;
  size_t last_block;
  const uint64_t* t;
  const uint16_t* single;
  const uint32_t* pair;
};

// Rounds of K lookups per stream while every stream has room for a full round, in its block
// (output) and in readable memory (input). Multi tables give up to four symbols per lookup
// (9-bit index), pair tables up to two (kIndexBits-bit index, 10 or 11).
//
// The form needs few instructions per lookup and a short dependency chain: the bit buffer
// itself is shifted by each code (b >>= bits, the entry's low byte), so no consumed-bit
// counter is kept, and a sentinel 1 bit placed above the loaded bits tells at refill how many
// were consumed (its leading zeros). A lookup is index, one load, shift, store, so ~7 cycles
// from one lookup of a stream to its next, and only b, the output and the table of each
// stream live in registers. The index is an and with an immediate mask (the width is a
// template constant): a bzhi would hold the width in one more register, and the four
// streams' cursors already crowd the 15 (3-6% faster decoding of bf16 and fp16 on Zen 5).
// A refill reads 8 bytes at the stream's position without a bounds check: the round count
// is limited so that it stays inside `limit`.
template <int K, int kBits>
constexpr size_t kInAdvance = (7 + K * kBits) / 8;  // bytes a refill may move a stream on

// Both entry forms: the shift count in the low byte, the symbols from byte 1, their count in
// the top byte (multi entries: 8 bytes, up to four symbols; pair entries: 4 bytes, up to
// two). Stores all of an entry's symbol bytes at o (the next store overwrites those past the
// count) and moves o past the kept ones.
template <class Entry>
inline void put_symbols(Entry e, uint8_t*& o) noexcept {
  using Syms = std::conditional_t<sizeof(Entry) == 8, uint32_t, uint16_t>;
  const Syms syms = static_cast<Syms>(e >> 8);
  std::memcpy(o, &syms, sizeof(syms));
  o += e >> (8 * sizeof(Entry) - 8);
}

template <int K, bool kMulti, unsigned kIndexBits>
inline void huff_lockstep(BitReader* r, Lane* lane, Prefetcher& warm) noexcept {
  constexpr int kMaxBits = kMulti ? kHuffMultiBits : kHuffMaxBits;
  static_assert(K * kMaxBits <= 56, "a round must fit in the 56+ bits after a refill");
  constexpr uint64_t kSentinel = uint64_t{1} << 63;
  // Output: a multi lookup writes 4 bytes and keeps 1..4; a pair lookup writes 2, keeps 1..2.
  constexpr size_t kRoom = kMulti ? 4 * K + 4 : 2 * K;
  constexpr size_t kAdvance = kMulti ? 4 * K : 2 * K;
  constexpr size_t kIn = kInAdvance<K, kMaxBits>;
  for (int s = 0; s < 4; ++s) r[s].refill();  // c < 8 from here on
  // From (p, buf = the 8 bytes at p, c consumed) to the sentinel form: the 63 - c bits above
  // bit c of buf (>= 56), then the sentinel.
  auto load = [](const BitReader& rd) { return (rd.buf | kSentinel) >> rd.c; };
  uint64_t b0 = load(r[0]), b1 = load(r[1]), b2 = load(r[2]), b3 = load(r[3]);
  uint8_t *o0 = lane[0].out, *o1 = lane[1].out, *o2 = lane[2].out, *o3 = lane[3].out;
  // Counting rounds keeps the four block ends and input ends out of the hot loop.
  auto safe_rounds = [&]() -> size_t {
    size_t n = SIZE_MAX;
    const uint8_t* o[4] = {o0, o1, o2, o3};
    for (int s = 0; s < 4; ++s) {
      const size_t out_left = static_cast<size_t>(lane[s].block_end - o[s]);
      const size_t in_left = static_cast<size_t>(r[s].limit - r[s].p);
      n = std::min(n, out_left < kRoom ? 0 : (out_left - kRoom) / kAdvance + 1);
      n = std::min(n, in_left < 8 + kIn ? 0 : (in_left - 8) / kIn);  // the last refill loads 8 bytes
    }
    return n;
  };
  auto refill = [](BitReader& rd, uint64_t& b) {
    const uint64_t used = static_cast<uint64_t>(__builtin_clzll(b));  // b > 0: the sentinel
    rd.p += used >> 3;
    b = (load_u64(rd.p) | kSentinel) >> (used & 7);
  };
  using Entry = std::conditional_t<kMulti, uint64_t, uint32_t>;  // see put_symbols
  constexpr uint64_t kIndexMask = (uint64_t{1} << kIndexBits) - 1;
  auto table = [&](int s) -> const Entry* {
    if constexpr (kMulti) return lane[s].t;
    else return lane[s].pair;
  };
  const Entry *t0 = table(0), *t1 = table(1), *t2 = table(2), *t3 = table(3);
  // A local copy: the symbol stores (bytes) could alias the caller's, which would reload and
  // store its cursor every round.
  Prefetcher pf = warm;
  bool ran = false;
  for (size_t rounds; (rounds = safe_rounds()) != 0;)
    for (ran = true; rounds; --rounds) {
      pf.step();
      refill(r[0], b0); refill(r[1], b1); refill(r[2], b2); refill(r[3], b3);
#define TENZIP_STEP(b, o, t)                                        \
      {                                                             \
        const Entry e = t[b & kIndexMask];                          \
        b >>= e & 63;                                               \
        put_symbols(e, o);                                          \
      }
      for (int i = 0; i < K; ++i) {
        TENZIP_STEP(b0, o0, t0) TENZIP_STEP(b1, o1, t1) TENZIP_STEP(b2, o2, t2) TENZIP_STEP(b3, o3, t3)
      }
#undef TENZIP_STEP
    }
  if (!ran) return;  // nothing consumed: (p, buf, c) stand as the first refill left them
  warm = pf;
  // Back to (p, buf, c): the last refill loaded the 8 bytes at p (inside `limit`) and p has
  // not moved since.
  r[0].c = static_cast<uint64_t>(__builtin_clzll(b0)); r[1].c = static_cast<uint64_t>(__builtin_clzll(b1));
  r[2].c = static_cast<uint64_t>(__builtin_clzll(b2)); r[3].c = static_cast<uint64_t>(__builtin_clzll(b3));
  for (int s = 0; s < 4; ++s) r[s].buf = load_u64(r[s].p);
  lane[0].out = o0; lane[1].out = o1; lane[2].out = o2; lane[3].out = o3;
}

// One stream alone to the end of its current block (short tails, or once the other streams
// are done): whole entries while they fit, then one symbol per lookup (a multi entry's first).
inline void huff_finish_block(BitReader& r, Lane& l, uint64_t mask, int k, bool multi) noexcept {
  // Whole entries while the block has room for every symbol an entry may hold (none of them
  // then belongs to the next block, coded with another table).
  const size_t room = multi ? 4 : 2;
  while (static_cast<size_t>(l.block_end - l.out) >= room) {
    r.refill();
    for (int i = 0; i < k && static_cast<size_t>(l.block_end - l.out) >= room; ++i) {
      if (multi) {
        const uint64_t e = l.t[(r.buf >> r.c) & kMultiMask];
        r.c += e & 63;
        put_symbols(e, l.out);
      } else {
        const uint32_t e = l.pair[(r.buf >> r.c) & mask];
        r.c += e & 63;
        put_symbols(e, l.out);
      }
    }
  }
  while (l.out < l.block_end) {
    r.refill();
    for (int i = 0; i < k && l.out < l.block_end; ++i) {
      if (multi) {
        const uint8_t* e = multi_entry(l.t, r.buf >> r.c);
        r.c += dec_first_len(e);
        *l.out++ = e[1];
      } else {
        const uint16_t e = l.single[(r.buf >> r.c) & mask];
        r.c += e & 15;
        *l.out++ = static_cast<uint8_t>(e >> 8);
      }
    }
  }
}

// Decodes n symbols coded by huff_encode4. All tables share the index width `bits`
// (huff_table_bits of the longest code; tables are built at that width). stream[s] starts
// bitstream s; `limit` is the end of readable memory. consumed[s] receives the bits read
// from each stream (the caller checks).
//
// The four streams advance at different speeds, so one finishes first. Its lane then keeps
// running as a dummy (reading zeros, writing to a sink) so that the others stay in the fast
// four-way loop; only the last few symbols of each block go one lookup per symbol.
// `warm` is stepped once per round of the four-way loop.
inline void huff_decode4(const uint8_t* const stream[4], const uint8_t* limit, size_t n, size_t block_size,
                         const HuffDecTable* const* block_tables, int bits, uint8_t* __restrict dst,
                         uint64_t consumed[4], Prefetcher& warm) noexcept {
  static const uint8_t kZeros[4096] = {};  // a finished stream's dummy input: enough for many rounds
  constexpr size_t kSink = 4096;
  alignas(64) uint8_t sink[kSink + 64];
  BitReader r[4] = {{stream[0], limit}, {stream[1], limit}, {stream[2], limit}, {stream[3], limit}};
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  const uint64_t mask = (uint64_t{1} << bits) - 1;
  const int k = 57 / bits;  // lookups per refill (57+ bits buffered): 6 for multi, 5 for 10-11 bits
  const bool multi = huff_use_multi(bits);
  Lane lane[4];
  bool done[4];
  constexpr int kMultiK = 56 / kHuffMultiBits, kSingleK = 56 / kHuffMaxBits;  // lookups per round: 6, 5
  // Rounds at least: each of the four streams' K lookups gives at most 4 (multi) or 2 symbols.
  warm.plan(n / (multi ? 4 * kMultiK * 4 : 4 * kSingleK * 2));
  // Whether stream s can go on in the lockstep loop: room for one more round in its block and
  // in its input (after the up to 7 bytes its first refill moves on).
  auto can_round = [&](int s) {
    const size_t out_left = static_cast<size_t>(lane[s].block_end - lane[s].out);
    const size_t in_left = static_cast<size_t>(r[s].limit - r[s].p);
    if (multi) return out_left >= 4 * kMultiK + 4 && in_left >= 7 + 8 + kInAdvance<kMultiK, kHuffMultiBits>;
    return out_left >= 2 * kSingleK && in_left >= 7 + 8 + kInAdvance<kSingleK, kHuffMaxBits>;
  };
  auto enter_block = [&](int s, size_t b) {
    Lane& l = lane[s];
    l.block = b;
    if (b >= l.last_block) {  // stream finished: record its length, turn it into a dummy
      consumed[s] = r[s].consumed(stream[s]);
      done[s] = true;
      return;
    }
    const size_t start = b * block_size;
    l.out = dst + start;
    l.block_end = dst + (start + block_size < n ? start + block_size : n);
    l.t = block_tables[b]->multi.data();
    l.single = block_tables[b]->single.data();
    l.pair = block_tables[b]->pair.data();
  };
  for (int s = 0; s < 4; ++s) {
    done[s] = false;
    lane[s].last_block = (s + 1) * per < n_blocks ? (s + 1) * per : n_blocks;
    enter_block(s, s * per < n_blocks ? s * per : n_blocks);
  }
  if (n_blocks == 0) return;
  for (;;) {
    bool any = false;
    for (int s = 0; s < 4; ++s) {
      if (!done[s]) { any = true; continue; }
      lane[s].out = sink;
      lane[s].block_end = sink + kSink;
      lane[s].t = block_tables[0]->multi.data();
      lane[s].single = block_tables[0]->single.data();
      lane[s].pair = block_tables[0]->pair.data();
      r[s] = BitReader{kZeros, kZeros + sizeof(kZeros)};
    }
    if (!any) break;
    if (multi) huff_lockstep<kMultiK, true, kHuffMultiBits>(r, lane, warm);
    else if (bits == 10) huff_lockstep<kSingleK, false, 10>(r, lane, warm);
    else huff_lockstep<kSingleK, false, kHuffMaxBits>(r, lane, warm);  // 11: no code is longer
    for (int s = 0; s < 4; ++s) {
      Lane& l = lane[s];
      if (done[s] || can_round(s)) continue;
      huff_finish_block(r[s], l, mask, k, multi);
      enter_block(s, l.block + 1);
    }
  }
}

// ---- Flat codes: every code of the stream's tables is L bits (1 <= L <= kHuffFlatMaxBits).
// Symbol i of a bitstream then sits at bits [i*L, i*L + L): no symbol depends on the one
// before, so there is no serial bit chain. Eight fields come from one 64-bit load (8L + 7
// <= 63 bits), spread into bytes (pdep) and mapped to symbols by the block's table, map[field]
// (2^L entries; the field is the code bit-reversed, as it was written LSB-first).

// The byte-wise mask of the low L bits of each byte.
inline uint64_t flat_byte_mask(int L) noexcept { return 0x0101010101010101ull * ((1u << L) - 1); }

// Eight L-bit fields of w (from its lowest bit), one per byte.
inline uint64_t flat_spread8(uint64_t w, int L) noexcept {
#if defined(__BMI2__)
  return _pdep_u64(w, flat_byte_mask(L));
#else
  const uint64_t m = (uint64_t{1} << L) - 1;
  uint64_t f = 0;
  for (int k = 0; k < 8; ++k) f |= ((w >> (k * L)) & m) << (8 * k);
  return f;
#endif
}

// The field of the symbol at bit `pos` read safely: bytes at or past `avail` read as zero
// (a stream shorter than its symbols need is corrupt; the caller sees it in the bit count).
inline unsigned flat_field_at(const uint8_t* base, size_t avail, size_t pos, int L) noexcept {
  const size_t byte = pos >> 3;
  uint32_t v = 0;
  if (byte < avail) v = base[byte];
  if (byte + 1 < avail) v |= uint32_t{base[byte + 1]} << 8;
  return (v >> (pos & 7)) & ((1u << L) - 1);
}

#if defined(__AVX2__) && defined(__BMI2__)
// 32 fields (bytes < 2^L) to symbols: one shuffle per 16 map entries; for more than 16
// entries, each shuffle's result is kept where the field's high bits pick its 16 entries.
template <int kSubTables>
inline __m256i flat_map32(__m256i f, const __m256i* t) noexcept {
  if constexpr (kSubTables == 1) {
    return _mm256_shuffle_epi8(t[0], f);
  } else {
    const __m256i lo = _mm256_and_si256(f, _mm256_set1_epi8(15));
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(f, 4), _mm256_set1_epi8(15));
    __m256i r = _mm256_setzero_si256();
    for (int k = 0; k < kSubTables; ++k)
      r = _mm256_or_si256(r, _mm256_and_si256(_mm256_shuffle_epi8(t[k], lo),
                                              _mm256_cmpeq_epi8(hi, _mm256_set1_epi8(static_cast<char>(k)))));
    return r;
  }
}

// Symbols [0, m) of a run at bit `bit` of base, 32 at a time while the loads stay inside
// `avail` bytes; returns how many were decoded (a multiple of 32).
template <int kSubTables>
inline size_t flat_run32(const uint8_t* base, size_t avail, size_t bit, size_t m, int L, const uint8_t* map,
                         uint8_t* __restrict out) noexcept {
  __m256i t[kSubTables];
  for (int k = 0; k < kSubTables; ++k)
    t[k] = _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(map + 16 * k)));
  const uint64_t mask = flat_byte_mask(L);
  const size_t step = 8 * static_cast<size_t>(L);  // bits per eight symbols
  size_t i = 0;
  // The last of the four loads of a group starts at bit pos + 3 * step.
  for (; i + 32 <= m && ((bit + (i + 24) * L) >> 3) + 8 <= avail; i += 32) {
    const size_t p0 = bit + i * L, p1 = p0 + step, p2 = p1 + step, p3 = p2 + step;
    const uint64_t f0 = _pdep_u64(load_u64(base + (p0 >> 3)) >> (p0 & 7), mask);
    const uint64_t f1 = _pdep_u64(load_u64(base + (p1 >> 3)) >> (p1 & 7), mask);
    const uint64_t f2 = _pdep_u64(load_u64(base + (p2 >> 3)) >> (p2 & 7), mask);
    const uint64_t f3 = _pdep_u64(load_u64(base + (p3 >> 3)) >> (p3 & 7), mask);
    const __m256i f = _mm256_set_epi64x(static_cast<long long>(f3), static_cast<long long>(f2),
                                        static_cast<long long>(f1), static_cast<long long>(f0));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + i), flat_map32<kSubTables>(f, t));
  }
  return i;
}
#endif

// Symbols [0, m) of one block: its fields start at bit `bit` of base (avail readable bytes).
inline void flat_run(const uint8_t* base, size_t avail, size_t bit, size_t m, int L, const uint8_t* map,
                     uint8_t* __restrict out) noexcept {
  size_t i = 0;
#if defined(__AVX2__) && defined(__BMI2__)
  if (L <= 4) i = flat_run32<1>(base, avail, bit, m, L, map, out);
  else if (L == 5) i = flat_run32<2>(base, avail, bit, m, L, map, out);
  else if (L == 6) i = flat_run32<4>(base, avail, bit, m, L, map, out);
  else i = flat_run32<8>(base, avail, bit, m, L, map, out);
#endif
  for (; i + 8 <= m; i += 8) {
    const size_t pos = bit + i * L;
    if ((pos >> 3) + 8 > avail) break;
    const uint64_t f = flat_spread8(load_u64(base + (pos >> 3)) >> (pos & 7), L);
    for (int k = 0; k < 8; ++k) out[i + k] = map[(f >> (8 * k)) & 0xFF];
  }
  for (; i < m; ++i) out[i] = map[flat_field_at(base, avail, bit + i * L, L)];
}

// Decodes n symbols coded by huff_encode4 with flat codes of L bits. As huff_decode4, with
// block_maps[b] the map of block b's table (at least 16 bytes, readable past 2^L). The bits
// each stream holds are known up front (L per symbol): consumed[s] receives them, for the
// caller's check against the stream sizes.
inline void huff_decode_flat4(const uint8_t* const stream[4], const uint8_t* limit, size_t n, size_t block_size,
                              const uint8_t* const* block_maps, int L, uint8_t* __restrict dst,
                              uint64_t consumed[4]) noexcept {
  const size_t n_blocks = n == 0 ? 0 : (n - 1) / block_size + 1;
  const size_t per = (n_blocks + 3) / 4;
  for (int s = 0; s < 4; ++s) {
    const size_t first = std::min(s * per, n_blocks), last = std::min((s + 1) * per, n_blocks);
    const size_t avail = static_cast<size_t>(limit - stream[s]);
    size_t bit = 0;
    for (size_t b = first; b < last; ++b) {
      const size_t start = b * block_size, m = std::min(block_size, n - start);
      flat_run(stream[s], avail, bit, m, L, block_maps[b], dst + start);
      bit += m * static_cast<size_t>(L);
    }
    consumed[s] = bit;
  }
}

// Decode-table build step: E[rev | (m << len)] = the entry for symbol `sym` (code length
// `len`) followed by the up-to-three first symbols of R[m]. Four entries at a time with GCC
// vector extensions (AVX2 in the AVX2 build); stores are strided.
inline void huff_compose_run(const uint64_t* __restrict R, uint32_t count, uint32_t len, uint32_t rev, uint32_t sym,
                             uint64_t* __restrict E) noexcept {
  // The head: one symbol; the rest's symbols and lengths shift up by one (8 bits, 4 bits),
  // its bits used and count add. A full rest (four symbols) first drops its fourth: its byte,
  // its length nibble, its bits from the total, one from the count.
  const uint64_t head = len | (uint64_t{sym} << 8) | (uint64_t{len} << 40) | (uint64_t{1} << 56);
  constexpr uint64_t kFourth = 0x00F000FF00000000ull;  // fourth length nibble and symbol byte
  constexpr uint64_t kFirst3 = 0xFFFFFF00ull, kLens3 = 0xFFFull << 40, kCount = 0xFFull << 56;
  auto compose = [head](uint64_t rest) {
    const uint64_t full = (rest >> 56) == 4 ? ~uint64_t{0} : 0;
    const uint64_t r = (rest & ~(full & kFourth)) - (full & (((rest >> 52) & 15) | (uint64_t{1} << 56)));
    return head + ((r & kFirst3) << 8) + (r & 0xFF) + ((r & kLens3) << 4) + (r & kCount);
  };
  uint32_t m = 0;
#if defined(__GNUC__)
  typedef uint64_t v4 __attribute__((vector_size(32)));
  const v4 vhead = {head, head, head, head};
  for (; m + 4 <= count; m += 4) {
    v4 rest;
    std::memcpy(&rest, R + m, sizeof(rest));
    const v4 full = (v4)((rest >> 56) == 4);
    const v4 r = (rest & ~(full & kFourth)) - (full & (((rest >> 52) & 15) | (uint64_t{1} << 56)));
    const v4 e = vhead + ((r & kFirst3) << 8) + (r & 0xFF) + ((r & kLens3) << 4) + (r & kCount);
    E[rev | (m << len)] = e[0];
    E[rev | ((m + 1) << len)] = e[1];
    E[rev | ((m + 2) << len)] = e[2];
    E[rev | ((m + 3) << len)] = e[3];
  }
#endif
  for (; m < count; ++m) E[rev | (m << len)] = compose(R[m]);
}

// The multi-symbol table at width kHuffMultiBits for the codes of a complete code (every
// code <= 9 bits; codes[i].rev is the bit-reversed code). By width: E_w[j] greedily decodes
// the w-bit value j whose bits above w are unknown. Its first code is the one whose
// bit-reversed value matches the low bits of j; it fits if its length l <= w, and then
// E_w[j] is that symbol followed by E_{w-l}[j >> l] trimmed to three symbols (E_w[j] = 0,
// no symbol, if the first code is longer than w). Code by code, the reads of E_{w-l} are
// contiguous. The final table reads E_w for w <= 9 - shortest code only; narrower than the
// shortest code, E_w is all zeros.
inline void huff_build_multi(const HuffCode* codes, int n_codes, uint64_t* __restrict out) noexcept {
  constexpr int W = kHuffMultiBits;
  int min_len = W, max_len = 0;
  for (int c = 0; c < n_codes; ++c) {
    min_len = std::min<int>(min_len, codes[c].len);
    max_len = std::max<int>(max_len, codes[c].len);
  }
  alignas(32) uint64_t scratch[2u << W];  // E_w at scratch + 2^w for w < W
  alignas(32) static const uint64_t kNone[1u << W] = {};
  const uint64_t* by_width[W + 1];
  for (int w = 0; w < min_len && w < W; ++w) by_width[w] = kNone;
  for (int w = min_len; w <= W; ++w) {
    if (w > W - min_len && w < W) continue;
    uint64_t* E = w == W ? out : scratch + (1u << w);
    const uint32_t wsize = 1u << w;
    if (max_len > w) std::memset(E, 0, wsize * sizeof(uint64_t));
    for (int c = 0; c < n_codes; ++c) {
      const uint32_t l = codes[c].len;
      if (l <= static_cast<uint32_t>(w)) huff_compose_run(by_width[w - l], wsize >> l, l, codes[c].rev, codes[c].sym, E);
    }
    by_width[w] = E;
  }
}

}  // namespace
}  // namespace tenzip::detail::kernels
