// A strict, read-only reader of a ZIP archive's directory (PKWARE APPNOTE 6.3). It reports
// where each entry's bytes lie in the file, which zip libraries do not expose, so that stored
// tensors can be coded in place. It never decompresses anything.
//
// What it checks, throwing Error(corrupt_input, "<who>: ...") otherwise:
// - one end-of-central-directory record at the very end (comment <= 65535 bytes), single disk;
//   a ZIP64 locator and record when present, whose values the 32-bit fields must match or mark
//   with 0xFFFF / 0xFFFFFFFF;
// - every central-directory entry (ZIP64 extra fields resolved) and the central directory's
//   exact size; every local file header matches its entry (name, method, sizes and CRC, or
//   zeros when a data descriptor follows, which must then match too);
// - entries lie before the central directory and do not overlap; stored entries have equal
//   compressed and uncompressed sizes;
// - names a safe extractor would accept: no absolute paths or drive letters, no '.' or '..'
//   components, no empty components, no backslashes, no NUL bytes, no duplicates;
// - no encrypted entries (an error, not a gap: no torch loader can read one).
// CRC-32s are not recomputed: the bytes are carried as they are, and checking them is the loader's job.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tenzip::formats::zip {

inline constexpr uint16_t kStored = 0;
inline constexpr uint16_t kDeflated = 8;

struct Entry {
  std::string name;
  uint16_t flags = 0;
  uint16_t method = 0;            // kStored, kDeflated, or anything else (kept as bytes)
  uint32_t crc32 = 0;
  uint64_t compressed_size = 0;
  uint64_t uncompressed_size = 0;
  uint64_t header_offset = 0;     // the local file header
  uint64_t data_offset = 0;       // first byte of the stored or compressed data
  uint64_t end_offset = 0;        // past the data and its data descriptor, if any
  bool stored() const noexcept { return method == kStored; }
};

struct Directory {
  std::vector<Entry> entries;     // in central-directory order
  uint64_t cd_offset = 0;         // the central directory
  uint64_t cd_size = 0;
  bool zip64 = false;             // a ZIP64 end-of-central-directory record was present
  // The entry with exactly this name, or nullptr.
  const Entry* find(std::string_view name) const noexcept;

  std::vector<uint32_t> by_name;  // entry indices sorted by name (for find)
};

// `who` prefixes every message ("pytorch-zip").
Directory read_directory(std::span<const uint8_t> file, std::string_view who);

// The name as it can be printed in a message: bytes outside printable ASCII become \xNN.
std::string printable(std::string_view name);

}  // namespace tenzip::formats::zip
