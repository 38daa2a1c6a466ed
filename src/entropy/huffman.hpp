// Canonical Huffman codes over bytes, length-limited to kHuffMaxBits, for the HUFF stream
// mode (doc/FORMAT.md). Table building and (de)serialization live here; the hot loops live in
// huffman_kernels.hpp.
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

// Encoder entry per symbol: the code bit-reversed (we write LSB-first) and its length.
struct HuffEncEntry {
  uint16_t code;
  uint8_t len;
  uint8_t pad;
};
using HuffEncTable = std::array<HuffEncEntry, 256>;

// Decoder: 2^bits entries indexed by the next `bits` bits (bits = longest code length).
// Each entry decodes up to two symbols: bits 0-7 first symbol, 8-15 second symbol,
// 16-23 bits used by both, 24-27 bits used by the first alone, 28-31 symbol count (1 or 2).
// Two symbols per lookup halves the dependent work: exponent codes average ~3 bits.
struct HuffDecTable {
  std::array<uint32_t, 1u << kHuffMaxBits> entry;
  int bits = 0;
};

// Optimal lengths for `counts` (sum > 0), limited to kHuffMaxBits.
void huff_build_lengths(const uint32_t* counts, HuffLengths& out) noexcept;
// Exact coded size in bits of `counts` under `lengths`.
uint64_t huff_cost_bits(const uint32_t* counts, const HuffLengths& lengths) noexcept;
void huff_build_encoder(const HuffLengths& lengths, HuffEncTable& out) noexcept;
void huff_build_decoder(const HuffLengths& lengths, HuffDecTable& out) noexcept;

// Table description: u8 min_sym, u8 max_sym, then for max_sym > min_sym the lengths of
// symbols min_sym..max_sym as 4-bit values, two per byte, low nibble first.
size_t huff_description_size(const HuffLengths& lengths) noexcept;
size_t huff_write_description(const HuffLengths& lengths, uint8_t* dst) noexcept;
// Parses and validates (lengths <= kHuffMaxBits, a complete prefix code). Returns bytes read,
// or 0 if the description is malformed or does not fit in `src`.
size_t huff_read_description(std::span<const uint8_t> src, HuffLengths& out) noexcept;

}  // namespace tenzip::detail
