// Canonical Huffman codes over bytes, length-limited to kHuffMaxBits, for the HUFF stream
// mode (doc/FORMAT.md). Table building and (de)serialization live here; the hot loops live in
// huffman_encode_kernels.hpp and huffman_decode_kernels.hpp.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace tenzip::detail {

inline constexpr int kHuffMaxBits = 11;  // 2 KiB decode table: stays in L1 next to the data

// Code lengths per symbol: 0 = absent. A table with a single symbol gives it length 0
// (it costs no bits at all).
struct HuffLengths {
  std::array<uint8_t, 256> len{};
  int max_len = 0;
  int min_sym = 0, max_sym = 0;  // range of present symbols
};

// Encoder entry per symbol: the code bit-reversed (we write LSB-first) in the `len` bits below
// bit 63 (which stays 0), the length in the low 8 bits (as in zstd's huff0), so that appending
// a code to a bit buffer filled from the top is `acc = (acc >> e) | e` (a shift uses the
// count's low 6 bits only; the length bits land below the valid bits and are shifted out).
// 0 for an absent symbol and for the zero-length code of a one-symbol table.
using HuffEncEntry = uint64_t;
using HuffEncTable = std::array<HuffEncEntry, 256>;
// Two codes in one entry, for small alphabets: the entry of symbol a followed by symbol b sits
// at index a | b << 8 (two stream bytes loaded little-endian), in the same layout: a's code,
// then b's, below bit 63, their summed length (at most 22) in the low byte.
using HuffPairEntry = uint64_t;

// Decoder tables. When every code of a stream fits in kHuffMultiBits (9) bits (exponent
// codes average ~3 bits), `multi` is used: indexed by the next 9 bits, each entry decodes up
// to four symbols. Its bytes, so that one 8-byte load gives everything a lookup needs: [0] the
// bits used by all its symbols (the shift count), [1..4] the symbols (first at [1]; a 4-byte
// store writes them and the next store overwrites those past the count), [5..6] their code
// lengths (4 bits each, first lowest; for the table builder), [7] their count 1..4.
// Longer codes use `pair`, indexed by the next `bits` bits (10 or 11): up to two symbols per
// lookup (the first code, and the second if it fits in the index bits too; wide alphabets
// such as fp16's sign+exponent byte have codes of ~6 bits). Its bytes: [0] the bits used by
// its symbols, [1..2] the symbols, [3] their count 1..2. `single` (bits 0-3 code length,
// 8-15 symbol) decodes one symbol per lookup: the ends of blocks, and it builds `pair`.
inline constexpr int kHuffMultiBits = 9;
// Flat codes (every code of a stream's tables has the same length L, so 2^L symbols per table)
// up to this length decode as fixed-width fields, eight per 64-bit load.
inline constexpr int kHuffFlatMaxBits = 7;
struct HuffDecTable {
  std::array<uint64_t, 1u << kHuffMultiBits> multi;
  std::array<uint16_t, 1u << kHuffMaxBits> single;
  std::array<uint32_t, 1u << kHuffMaxBits> pair;
  int bits = 0;
};
// The index width of the decode tables of a stream whose longest code is `max_len` bits.
inline int huff_table_bits(int max_len) noexcept { return max_len <= kHuffMultiBits ? kHuffMultiBits : max_len; }
inline bool huff_use_multi(int bits) noexcept { return bits == kHuffMultiBits; }

// Optimal lengths for `counts` (sum > 0), limited to `limit` bits (1..kHuffMaxBits; a
// 256-symbol alphabet needs limit >= 8).
void huff_build_lengths(const uint32_t* counts, int limit, HuffLengths& out) noexcept;
// The same in two steps, to limit one tree several ways: the symbols sorted by count and the
// unlimited Huffman code's number of codes per length (a length can reach 255 in theory).
struct HuffTree {
  int n = 0;              // symbols present
  int max_depth = 0;      // longest code
  uint8_t syms[256];      // by count ascending, ties by symbol
  uint32_t bl_count[256]; // [0, max_depth]
};
void huff_build_tree(const uint32_t* counts, HuffTree& tree) noexcept;
// The same from the symbols already in that order: keys[i] = count << 8 | symbol, ascending,
// counts > 0 (n <= 256).
void huff_build_tree_sorted(const uint64_t* keys, int n, HuffTree& tree) noexcept;
void huff_tree_lengths(const HuffTree& tree, int limit, HuffLengths& out) noexcept;
// Exact coded size in bits of `counts` under `lengths`.
uint64_t huff_cost_bits(const uint32_t* counts, const HuffLengths& lengths) noexcept;
void huff_build_encoder(const HuffLengths& lengths, HuffEncTable& out) noexcept;
// Fills the pair entries of `enc` (built from `lengths`) whose two symbols both have a code:
// pairs[a | b << 8] for such b and every a in [min_sym, max_sym] (entries of an absent a are
// junk). Only indices from min_sym * 257 to max_sym * 257 are written.
void huff_build_pair_encoder(const HuffLengths& lengths, const HuffEncTable& enc, HuffPairEntry* pairs) noexcept;
// A code for the decode-table builders: bit-reversed (LSB-first) code value, length, symbol.
struct HuffCode { uint16_t rev; uint8_t len; uint8_t sym; };
// The present symbols' codes in canonical order; returns how many (0 for a one-symbol table).
int huff_canonical_codes(const HuffLengths& lengths, HuffCode* out) noexcept;

// Builds the table at index width `bits` = huff_table_bits(m) for some m >= lengths.max_len:
// `multi` if huff_use_multi(bits), else `single` and `pair`.
void huff_build_decoder(const HuffLengths& lengths, int bits, HuffDecTable& out) noexcept;

// The code length L if every code of `lengths` has the same length 1 <= L <= kHuffFlatMaxBits
// (a complete code: 2^L symbols), else 0.
int huff_flat_length(const HuffLengths& lengths) noexcept;
// For a flat code of L bits: map[field] = the symbol whose code, read LSB-first, is `field`
// (2^L entries of map[kHuffFlatMapSize]; the rest zeroed).
inline constexpr int kHuffFlatMapSize = 1 << kHuffFlatMaxBits;
void huff_build_flat_map(const HuffLengths& lengths, uint8_t* map) noexcept;

// Table description: u8 min_sym, u8 max_sym, then for max_sym > min_sym the lengths of
// symbols min_sym..max_sym as 4-bit values, two per byte, low nibble first.
size_t huff_description_size(const HuffLengths& lengths) noexcept;
size_t huff_write_description(const HuffLengths& lengths, uint8_t* dst) noexcept;
// Parses and validates (lengths <= kHuffMaxBits, a complete prefix code). Returns bytes read,
// or 0 if the description is malformed or does not fit in `src`.
size_t huff_read_description(std::span<const uint8_t> src, HuffLengths& out) noexcept;

}  // namespace tenzip::detail
