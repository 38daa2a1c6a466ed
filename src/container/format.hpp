// Container format v1: byte layout, encoders and validating parsers (doc/FORMAT.md).
// Pure functions over byte spans: no I/O, no threads. Parsers throw tenzip::Error whose
// message names the structure and file offset ("chunk 3 at offset 123456: ...").
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

inline constexpr std::array<uint8_t, 8> kFileMagic = {0x89, 'T', 'N', 'Z', '\r', '\n', 0x1a, '\n'};
inline constexpr std::array<uint8_t, 4> kFooterMagic = {'T', 'N', 'Z', 'F'};
inline constexpr size_t kFileHeaderSize = 20;
inline constexpr size_t kFrameHeaderSize = 32;
inline constexpr size_t kFooterSize = 32;
inline constexpr size_t kIndexSegmentSize = 24;
inline constexpr size_t kIndexChunkSize = 24;
inline constexpr uint32_t kMaxChunkElems = uint32_t{1} << 24;
inline constexpr uint8_t kFrameChunk = 1;
inline constexpr uint8_t kFrameEnd = 2;
// Smallest possible file: header, end frame, index with one empty segment, footer.
inline constexpr size_t kMinContainerSize = kFileHeaderSize + kFrameHeaderSize + 8 + kIndexSegmentSize + 8 + 8 + kFooterSize;

// ---------------------------------------------------------------- little-endian access
inline uint16_t load_u16(const uint8_t* p) noexcept { return uint16_t(p[0] | (p[1] << 8)); }
inline uint32_t load_u32(const uint8_t* p) noexcept {
  return uint32_t(p[0]) | (uint32_t(p[1]) << 8) | (uint32_t(p[2]) << 16) | (uint32_t(p[3]) << 24);
}
inline uint64_t load_u64(const uint8_t* p) noexcept { return uint64_t(load_u32(p)) | (uint64_t(load_u32(p + 4)) << 32); }
inline void store_u16(uint8_t* p, uint16_t v) noexcept { p[0] = uint8_t(v); p[1] = uint8_t(v >> 8); }
inline void store_u32(uint8_t* p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = uint8_t(v >> (8 * i));
}
inline void store_u64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = uint8_t(v >> (8 * i));
}

uint64_t xxh3(std::span<const uint8_t> bytes) noexcept;
inline uint32_t xxh3_low32(std::span<const uint8_t> bytes) noexcept { return uint32_t(xxh3(bytes)); }

// xxh3() of bytes given in pieces (a whole file's hash as its parts go by), with the same
// vector-unit dispatch. Throws std::bad_alloc if its state cannot be allocated.
class Xxh3Stream {
 public:
  Xxh3Stream();
  ~Xxh3Stream();
  Xxh3Stream(const Xxh3Stream&) = delete;
  Xxh3Stream& operator=(const Xxh3Stream&) = delete;
  void update(std::span<const uint8_t> bytes) noexcept;
  uint64_t digest() const noexcept;

 private:
  void* state_;  // XXH3_state_t, kept out of this header
};

// ---------------------------------------------------------------- messages
std::string hex(uint64_t v);
[[noreturn]] void fail(Errc code, const std::string& where, const std::string& what);
std::string at(const char* what, uint64_t offset);                    // "footer at offset 77"
std::string at(const char* what, uint64_t n, uint64_t offset);        // "chunk 3 at offset 77"

// ---------------------------------------------------------------- file header (20 bytes)
struct FileHeader {
  uint16_t format_version = kFormatVersionDefault;
  uint32_t chunk_elems = 0;
};
std::array<uint8_t, kFileHeaderSize> encode_file_header(uint32_t chunk_elems, uint16_t version = kFormatVersionDefault) noexcept;
// `bytes` may be shorter than 20 (then: truncated_input).
FileHeader parse_file_header(std::span<const uint8_t> bytes);

// ---------------------------------------------------------------- frame header (32 bytes)
struct FrameHeader {
  uint8_t type = kFrameChunk;
  DType dtype = DType::bytes;
  uint32_t n_elems = 0;
  uint32_t payload_size = 0;
  uint64_t checksum = 0;
  uint32_t segment = 0;
};
std::array<uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& h) noexcept;
inline std::array<uint8_t, kFrameHeaderSize> encode_end_frame() noexcept {
  FrameHeader h;
  h.type = kFrameEnd;
  return encode_frame_header(h);
}
// Validates one frame header on its own: check, type, reserved fields, ranges. `frame_no` and
// `offset` only name it in messages. `bytes` may be short (then: truncated_input).
FrameHeader parse_frame_header(std::span<const uint8_t> bytes, uint64_t frame_no, uint64_t offset, const FileHeader& fh);

// ---------------------------------------------------------------- index
struct IndexSegment {
  DType dtype = DType::bytes;
  uint64_t n_chunks = 0;
  uint64_t decoded_size = 0;
};
struct IndexChunk {
  uint64_t frame_offset = 0;
  uint32_t frame_size = 0;  // header included
  uint32_t n_elems = 0;
  uint64_t checksum = 0;
};
struct Index {
  std::vector<IndexSegment> segments;
  std::vector<IndexChunk> chunks;
  std::vector<uint8_t> metadata;
};
std::vector<uint8_t> encode_index(const Index& idx);
// Size of the index that starts with `prefix`, read field by field; returns 0 while `prefix` is
// too short to tell, else the total size. Throws corrupt_input if the sizes overflow.
uint64_t index_size_from_prefix(std::span<const uint8_t> prefix, uint64_t index_offset);
// Parses and validates an index on its own: reserved zero, dtypes, exact size, chunk frames
// contiguous from offset 20 ending where the end frame (index_offset - 32) starts,
// n_elems in 1..chunk_elems, all chunks but a segment's last full, per-segment sums.
Index parse_index(std::span<const uint8_t> bytes, uint64_t index_offset, const FileHeader& fh);

// The frame header `h` found at `offset` for chunk i must agree with the index entry.
void check_frame_matches_index(uint64_t i, uint64_t offset, const FrameHeader& h, const IndexChunk& e, uint32_t segment,
                               DType dtype);

// ---------------------------------------------------------------- footer (last 32 bytes)
struct Footer {
  uint64_t index_offset = 0;
  uint64_t index_size = 0;
  uint64_t index_check = 0;
  uint16_t format_version = kFormatVersionDefault;
};
std::array<uint8_t, kFooterSize> encode_footer(const Footer& f) noexcept;
// Validates magic, version (must equal the file header's), reserved, and that the index ends
// where the footer starts. `bytes` may be short (then: truncated_input).
Footer parse_footer(std::span<const uint8_t> bytes, uint64_t footer_offset, const FileHeader& fh);
// Index bytes against the footer's index_check.
void check_index_hash(std::span<const uint8_t> index_bytes, const Footer& f);

}  // namespace tenzip::detail
