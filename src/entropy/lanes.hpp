// The LANES stream mode (doc/FORMAT.md 12.6, format version 3): Huffman codes of at most 8
// bits over 128 interleaved bitstreams ("lanes"), laid out so that an AVX-512 (VBMI) decoder
// holds a whole decode table in registers and decodes 32 symbols per lookup, and for float
// dtypes merges them with the other bytes into elements in the same registers: about 1.5x
// faster whole-chunk bf16 decodes than HUFF's four bitstreams (codec_bench --lanes-e2e, Zen 5);
// with AVX2 only (gathers; TENZIP_LANES_DECODER=avx2 there), 0.48x; portable, 0.27x. Hence opt-in.
//
// Symbol i of the first steps * 128 belongs to step i / 128, group (i % 128) / 32, lane i % 32.
// Each lane holds 8..16 unread bits; a step decodes one symbol per lane from its low 8 bits,
// then each lane left with < 8 bits takes the next byte of its group's byte stream, lanes in
// order. Rare symbols may share an escape code, their values following in the escape stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "entropy/huffman.hpp"
#include "util/prefetch.hpp"

namespace tenzip::detail {

inline constexpr int kLaneBits = 8;          // longest code: a decode table has 256 entries
inline constexpr int kLanesPerGroup = 32;    // 16-bit lanes of one 512-bit register
inline constexpr int kLaneGroups = 4;        // registers decoded in turn (their chains overlap)
inline constexpr size_t kLaneStep = kLanesPerGroup * kLaneGroups;  // symbols per step
inline constexpr size_t kLaneBlockSteps = 32;                      // steps per table block
inline constexpr size_t kLaneBlock = kLaneStep * kLaneBlockSteps;  // 4096 symbols
inline constexpr int kLaneBlockLog = 12;

// One table: code lengths (<= 8 bits, a complete code, or one symbol of length 0) and the
// symbol whose code is the escape (-1: none).
struct LaneTable {
  HuffLengths lengths;
  int escape = -1;
};

// Encoder table by symbol: the code reversed (written LSB-first), and its length (bits 0-3)
// with bit 7 set if the symbol is coded by the escape (its value then goes to the escape
// stream). An absent symbol of a table without escape has 0 and 0: never coded. 64-byte
// aligned halves, as the decoder's: an AVX-512 encoder looks codes up in registers.
struct LaneEncTable {
  alignas(64) uint8_t code[256];
  alignas(64) uint8_t len[256];
  // Whether `s` has a code in this table (a one-symbol table's symbol has one of length 0).
  bool codes(int s, const LaneTable& t) const noexcept {
    return len[s] != 0 || (t.lengths.max_len == 0 && s == t.lengths.min_sym);
  }
};
// Decoder table by the next 8 bits: the symbol, and the code length (bits 0-3) with bit 7 set
// for the escape code. 64-byte aligned halves: four AVX-512 registers each.
struct LaneDecTable {
  alignas(64) uint8_t sym[256];
  alignas(64) uint8_t len[256];
};

// The table for a block histogram: optimal lengths limited to 8 bits, or, when cheaper, the
// symbols seen at most a few times escaped. Returns the bits the counts cost (escaped values'
// bytes included).
uint64_t lane_make_table(const uint32_t* counts, LaneTable& out) noexcept;
// The same, given the Huffman tree of `counts` (huff_build_tree), which the stream coder has.
uint64_t lane_make_table(const uint32_t* counts, const HuffTree& tree, LaneTable& out) noexcept;
void lane_build_encoder(const LaneTable& table, LaneEncTable& enc) noexcept;
void lane_build_decoder(const LaneTable& table, LaneDecTable& out) noexcept;
// Description: a HUFF table description (12.4) with lengths <= 8, then u8 has_escape (0 or 1)
// and, if 1, u8 escape (a symbol with a code).
size_t lane_description_size(const LaneTable& table) noexcept;
size_t lane_write_description(const LaneTable& table, uint8_t* dst) noexcept;
// Parses and validates; returns bytes read, or 0 if malformed or not fitting in `src`.
size_t lane_read_description(std::span<const uint8_t> src, LaneTable& out) noexcept;

// Bytes a group stream can take at most for `steps` steps: two per lane, then at most one
// per lane per step after the first.
inline size_t lane_group_bound(size_t steps) noexcept { return 2 * kLanesPerGroup + steps * kLanesPerGroup; }

// The encoder in two passes. The first runs the lanes' bit buffers as the decoder will: per
// step and group, each lane's code appended to its buffer, the low byte of the buffer after
// that (complete if the lane's `full` bit is set), and which lanes take a refill byte (`need`);
// escaped values in decoding order. The second places each lane's completed bytes where its
// refills take them (the decoder reads ahead, so a byte's place is known before its bits).
struct LaneSteps {
  uint8_t* bytes;      // [steps][128]
  uint32_t* full;      // [steps][4]: lanes whose low byte is complete after the step
  uint32_t* need;      // [steps][4]: lanes that take a byte after the step
  uint16_t last[128];  // each lane's unwritten bits after the last step
  uint8_t last_bits[128];
};
// Returns the number of escaped values written to `escapes`.
using LanesPass1Fn = size_t (*)(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc,
                                LaneSteps& out, uint8_t* escapes);
size_t lanes_pass1_portable(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc, LaneSteps& out,
                            uint8_t* escapes) noexcept;
LanesPass1Fn lanes_pass1_avx512() noexcept;  // null without AVX-512 VBMI (or TENZIP_NO_SIMD=1)

// The second pass: group g's bytes into group[g] (lane_group_bound(steps) bytes, zeroed by the
// callee), its size into group_size[g].
using LanesPass2Fn = void (*)(const LaneSteps& st, size_t steps, uint8_t* const group[4], size_t group_size[4]);
void lanes_pass2_portable(const LaneSteps& st, size_t steps, uint8_t* const group[4], size_t group_size[4]) noexcept;
LanesPass2Fn lanes_pass2_avx512() noexcept;  // null without AVX-512 VBMI2 (or TENZIP_NO_SIMD=1)

struct LaneEncodeScratch {
  std::vector<uint8_t> bytes;
  std::vector<uint32_t> masks;
};
// Codes steps * 128 symbols, step t with block_enc[t / 32]: group g's bytes into group[g]
// (lane_group_bound(steps) bytes, zeroed by the callee), sizes into group_size[g]; escaped
// values to escapes (room for steps * 128); returns their count. A null pass: the fastest.
size_t lanes_encode(const uint8_t* syms, size_t steps, const LaneEncTable* const* block_enc, uint8_t* const group[4],
                    size_t group_size[4], uint8_t* escapes, LaneEncodeScratch& scratch,
                    LanesPass1Fn pass1 = nullptr, LanesPass2Fn pass2 = nullptr);

// A section's byte streams, each [begin, end).
struct LaneInput {
  const uint8_t* group[4];
  const uint8_t* group_end[4];
  const uint8_t* escapes;
  const uint8_t* escapes_end;
};
// Decodes steps * 128 symbols (steps >= 1) into out, step t with block_tables[t / 32]. False if
// a stream runs out or is not read to its end exactly (the section is then corrupt); never
// reads outside the streams nor writes past out + steps * 128. `warm` is stepped once a step.
using LanesDecodeFn = bool (*)(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                               uint8_t* out, Prefetcher& warm);
bool lanes_decode_portable(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                           uint8_t* out, Prefetcher& warm) noexcept;
// The AVX-512 VBMI/VBMI2 and AVX2 builds, or null where the CPU lacks them (or TENZIP_NO_SIMD=1).
LanesDecodeFn lanes_decode_avx512() noexcept;
LanesDecodeFn lanes_decode_avx2() noexcept;
// The fastest available (TENZIP_LANES_DECODER=avx2 or =portable caps it, for measurements).
LanesDecodeFn lanes_decoder() noexcept;
// The decoder with the merge of elements (doc/FORMAT.md 12.1) folded in: for the exponent
// stream (stream 0) of 2- or 4-byte elements, writes elements 0 .. steps * 128 - 1 to out,
// element i from symbol i and rest[0][i], ..., rest[elem_size - 2][i] (streams 1, 2, 3), as
// merge() would; the same checks and result as the plain decoder. AVX-512 only: null
// elsewhere, for other sizes, when lanes_decoder() is not the AVX-512 one, or with
// TENZIP_NO_FUSED_MERGE=1 (callers then decode and merge apart).
using LanesDecodeMergedFn = bool (*)(const LaneInput& in, size_t steps, const LaneDecTable* const* block_tables,
                                     const uint8_t* const* rest, uint8_t* out, Prefetcher& warm);
LanesDecodeMergedFn lanes_decode_merged_avx512(int elem_size) noexcept;
LanesDecodeMergedFn lanes_decoder_merged(int elem_size) noexcept;

}  // namespace tenzip::detail
