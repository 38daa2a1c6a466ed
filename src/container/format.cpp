#include "container/format.hpp"

#include <xxhash.h>
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>  // XXH3 with the widest vector unit the CPU has
#endif

#include <algorithm>
#include <cstdio>
#include <new>

namespace tenzip::detail {

namespace {

// Overflow-checked arithmetic for sizes read from a file.
bool add_ok(uint64_t a, uint64_t b, uint64_t& out) noexcept { return !__builtin_add_overflow(a, b, &out); }
bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) noexcept { return !__builtin_mul_overflow(a, b, &out); }

bool all_zero(const uint8_t* p, size_t n) noexcept {
  for (size_t i = 0; i < n; ++i)
    if (p[i]) return false;
  return true;
}

std::string num(uint64_t v) { return std::to_string(v); }

}  // namespace

// Debian's libxxhash is compiled for the x86-64 baseline: its plain XXH3_64bits runs at
// ~9 GB/s (SSE2), and checksumming every decoded chunk with it was ~24% of a bf16
// decompression. Its run-time dispatcher computes the same function with AVX2/AVX-512
// (~25-35 GB/s here).
uint64_t xxh3(std::span<const uint8_t> bytes) noexcept {
#if defined(__x86_64__)
  return XXH3_64bits_dispatch(bytes.data(), bytes.size());
#else
  return XXH3_64bits(bytes.data(), bytes.size());
#endif
}

Xxh3Stream::Xxh3Stream() : state_(XXH3_createState()) {
  if (!state_) throw std::bad_alloc();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}
Xxh3Stream::~Xxh3Stream() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }
void Xxh3Stream::update(std::span<const uint8_t> bytes) noexcept {
#if defined(__x86_64__)
  XXH3_64bits_update_dispatch(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
#else
  XXH3_64bits_update(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
#endif
}
uint64_t Xxh3Stream::digest() const noexcept { return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_)); }

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

void fail(Errc code, const std::string& where, const std::string& what) { throw Error(code, where + ": " + what); }

std::string at(const char* what, uint64_t offset) { return std::string(what) + " at offset " + num(offset); }
std::string at(const char* what, uint64_t n, uint64_t offset) {
  return std::string(what) + " " + num(n) + " at offset " + num(offset);
}

// ---------------------------------------------------------------- file header

std::array<uint8_t, kFileHeaderSize> encode_file_header(uint32_t chunk_elems, uint16_t version) noexcept {
  std::array<uint8_t, kFileHeaderSize> b{};
  std::memcpy(b.data(), kFileMagic.data(), 8);
  store_u16(&b[8], version);
  store_u16(&b[10], 0);
  store_u32(&b[12], chunk_elems);
  store_u32(&b[16], xxh3_low32({b.data(), 16}));
  return b;
}

FileHeader parse_file_header(std::span<const uint8_t> b) {
  const std::string where = "file header";
  // Magic first, on whatever is present: a short non-tenzip file is "not a container".
  if (!b.empty() && std::memcmp(b.data(), kFileMagic.data(), std::min<size_t>(b.size(), 8)) != 0)
    fail(Errc::corrupt_input, where, "bad magic (not a tenzip container)");
  if (b.size() < kFileHeaderSize)
    fail(Errc::truncated_input, where, "truncated (20 bytes needed, " + num(b.size()) + " present)");
  FileHeader h;
  h.format_version = load_u16(&b[8]);
  // Version before the check: a newer version may lay out the rest differently.
  if (h.format_version == 0) fail(Errc::corrupt_input, where, "format version 0 is invalid");
  if (h.format_version > kFormatVersion)
    fail(Errc::unsupported_version, where,
         "format version " + num(h.format_version) + " is not supported (this reader supports versions up to " +
             num(kFormatVersion) + ")");
  const uint32_t stored = load_u32(&b[16]);
  const uint32_t computed = xxh3_low32(b.first(16));
  if (stored != computed)
    fail(Errc::corrupt_input, where, "header check mismatch (stored " + hex(stored) + ", computed " + hex(computed) + ")");
  if (uint16_t flags = load_u16(&b[10]); flags != 0) fail(Errc::corrupt_input, where, "flags must be 0, got " + hex(flags));
  h.chunk_elems = load_u32(&b[12]);
  if (h.chunk_elems < 1 || h.chunk_elems > kMaxChunkElems)
    fail(Errc::corrupt_input, where, "chunk_elems " + num(h.chunk_elems) + " is outside 1.." + num(kMaxChunkElems));
  return h;
}

// ---------------------------------------------------------------- frame header

std::array<uint8_t, kFrameHeaderSize> encode_frame_header(const FrameHeader& h) noexcept {
  std::array<uint8_t, kFrameHeaderSize> b{};
  b[0] = h.type;
  b[1] = static_cast<uint8_t>(h.dtype);
  store_u16(&b[2], 0);
  store_u32(&b[4], h.n_elems);
  store_u32(&b[8], h.payload_size);
  store_u32(&b[12], 0);
  store_u64(&b[16], h.checksum);
  store_u32(&b[24], h.segment);
  store_u32(&b[28], xxh3_low32({b.data(), 28}));
  return b;
}

FrameHeader parse_frame_header(std::span<const uint8_t> b, uint64_t frame_no, uint64_t offset, const FileHeader& fh) {
  std::string where = at("frame", frame_no, offset);
  if (b.size() < kFrameHeaderSize)
    fail(Errc::truncated_input, where, "truncated (32-byte frame header, " + num(b.size()) + " bytes present)");
  const uint32_t stored = load_u32(&b[28]);
  const uint32_t computed = xxh3_low32(b.first(28));
  if (stored != computed)
    fail(Errc::corrupt_input, where,
         "frame header check mismatch (stored " + hex(stored) + ", computed " + hex(computed) + ")");
  FrameHeader h;
  h.type = b[0];
  h.n_elems = load_u32(&b[4]);
  h.payload_size = load_u32(&b[8]);
  h.checksum = load_u64(&b[16]);
  h.segment = load_u32(&b[24]);
  if (h.type != kFrameChunk && h.type != kFrameEnd) fail(Errc::corrupt_input, where, "unknown frame type " + num(h.type));
  where = h.type == kFrameChunk ? at("chunk", frame_no, offset) : at("end frame", offset);
  if (load_u16(&b[2]) != 0 || load_u32(&b[12]) != 0)
    fail(Errc::corrupt_input, where, "reserved fields (bytes 2-3, 12-15) must be 0");
  if (h.type == kFrameChunk) {
    if (!dtype_is_valid(b[1])) fail(Errc::corrupt_input, where, "unknown dtype code " + num(b[1]));
    h.dtype = static_cast<DType>(b[1]);
    if (h.n_elems < 1 || h.n_elems > fh.chunk_elems)
      fail(Errc::corrupt_input, where,
           "n_elems " + num(h.n_elems) + " is outside 1..chunk_elems (" + num(fh.chunk_elems) + ")");
    if (h.payload_size > UINT32_MAX - kFrameHeaderSize)
      fail(Errc::corrupt_input, where, "payload_size " + num(h.payload_size) + " does not fit a frame");
  } else if (b[1] != 0 || h.n_elems != 0 || h.payload_size != 0 || h.checksum != 0 || h.segment != 0) {
    fail(Errc::corrupt_input, where, "dtype, n_elems, payload_size, checksum and segment must be 0");
  }
  return h;
}

// ---------------------------------------------------------------- index

std::vector<uint8_t> encode_index(const Index& idx) {
  std::vector<uint8_t> b(8 + kIndexSegmentSize * idx.segments.size() + 8 + kIndexChunkSize * idx.chunks.size() + 8 +
                         idx.metadata.size());
  uint8_t* p = b.data();
  store_u32(p, static_cast<uint32_t>(idx.segments.size()));
  store_u32(p + 4, 0);
  p += 8;
  for (const auto& s : idx.segments) {
    p[0] = static_cast<uint8_t>(s.dtype);  // bytes 1..7 stay 0 (reserved)
    store_u64(p + 8, s.n_chunks);
    store_u64(p + 16, s.decoded_size);
    p += kIndexSegmentSize;
  }
  store_u64(p, idx.chunks.size());
  p += 8;
  for (const auto& c : idx.chunks) {
    store_u64(p, c.frame_offset);
    store_u32(p + 8, c.frame_size);
    store_u32(p + 12, c.n_elems);
    store_u64(p + 16, c.checksum);
    p += kIndexChunkSize;
  }
  store_u64(p, idx.metadata.size());
  p += 8;
  if (!idx.metadata.empty()) std::memcpy(p, idx.metadata.data(), idx.metadata.size());
  return b;
}

uint64_t index_size_from_prefix(std::span<const uint8_t> b, uint64_t index_offset) {
  const std::string where = at("index", index_offset);
  if (b.size() < 8) return 8;
  uint64_t p1 = 0, p2 = 0, total = 0, t = 0;
  const uint32_t n_segments = load_u32(&b[0]);
  p1 = 8 + uint64_t{n_segments} * kIndexSegmentSize;  // < 2^37: no overflow
  if (b.size() < p1 + 8) return p1 + 8;
  const uint64_t n_chunks = load_u64(&b[p1]);
  if (!mul_ok(n_chunks, kIndexChunkSize, t) || !add_ok(p1 + 8, t, p2) || !add_ok(p2, 8, t))
    fail(Errc::corrupt_input, where, "n_chunks " + num(n_chunks) + " is too large");
  if (b.size() < p2 + 8) return p2 + 8;
  const uint64_t metadata_size = load_u64(&b[p2]);
  if (!add_ok(p2 + 8, metadata_size, total))
    fail(Errc::corrupt_input, where, "metadata_size " + num(metadata_size) + " is too large");
  return total;
}

Index parse_index(std::span<const uint8_t> b, uint64_t index_offset, const FileHeader& fh) {
  const std::string where = at("index", index_offset);
  const uint64_t size = b.size();
  if (size < 8) fail(Errc::corrupt_input, where, "index size " + num(size) + " is too small");
  const uint32_t n_segments = load_u32(&b[0]);
  if (load_u32(&b[4]) != 0) fail(Errc::corrupt_input, where, "reserved field at index byte 4 must be 0");
  if (n_segments == 0) fail(Errc::corrupt_input, where, "n_segments must be at least 1");
  const uint64_t seg_end = 8 + uint64_t{n_segments} * kIndexSegmentSize;
  if (size < seg_end + 8)
    fail(Errc::corrupt_input, where, "index size " + num(size) + " is too small for " + num(n_segments) + " segments");

  Index idx;
  idx.segments.resize(n_segments);
  uint64_t chunk_sum = 0;
  for (uint32_t s = 0; s < n_segments; ++s) {
    const uint8_t* p = &b[8 + uint64_t{s} * kIndexSegmentSize];
    const std::string sw = where + ": segment " + num(s);
    if (!dtype_is_valid(p[0])) fail(Errc::corrupt_input, sw, "unknown dtype code " + num(p[0]));
    if (!all_zero(p + 1, 7)) fail(Errc::corrupt_input, sw, "reserved bytes 1-7 must be 0");
    auto& seg = idx.segments[s];
    seg.dtype = static_cast<DType>(p[0]);
    seg.n_chunks = load_u64(p + 8);
    seg.decoded_size = load_u64(p + 16);
    if (!add_ok(chunk_sum, seg.n_chunks, chunk_sum)) fail(Errc::corrupt_input, sw, "n_chunks overflows");
  }
  const uint64_t n_chunks = load_u64(&b[seg_end]);
  if (n_chunks != chunk_sum)
    fail(Errc::corrupt_input, where,
         "n_chunks " + num(n_chunks) + " differs from the sum over segments (" + num(chunk_sum) + ")");
  uint64_t chunk_bytes = 0, chunk_end = 0;
  if (!mul_ok(n_chunks, kIndexChunkSize, chunk_bytes) || !add_ok(seg_end + 8, chunk_bytes, chunk_end) ||
      chunk_end > size - 8)
    fail(Errc::corrupt_input, where, "index size " + num(size) + " is too small for " + num(n_chunks) + " chunks");
  const uint64_t metadata_size = load_u64(&b[chunk_end]);
  if (metadata_size != size - chunk_end - 8)
    fail(Errc::corrupt_input, where,
         "metadata_size " + num(metadata_size) + " does not match the index size " + num(size));

  idx.chunks.resize(n_chunks);  // n_chunks * 24 <= size: bounded by the bytes we hold
  uint64_t expect = kFileHeaderSize;  // frames are contiguous from the end of the file header
  uint64_t i = 0;
  for (uint32_t s = 0; s < n_segments; ++s) {
    const auto& seg = idx.segments[s];
    const uint64_t esize = dtype_size(seg.dtype);
    uint64_t total = 0;
    for (uint64_t k = 0; k < seg.n_chunks; ++k, ++i) {
      const uint8_t* p = &b[seg_end + 8 + i * kIndexChunkSize];
      auto& c = idx.chunks[i];
      c.frame_offset = load_u64(p);
      c.frame_size = load_u32(p + 8);
      c.n_elems = load_u32(p + 12);
      c.checksum = load_u64(p + 16);
      const std::string cw = where + ": chunk " + num(i);
      if (c.frame_offset != expect)
        fail(Errc::corrupt_input, cw,
             "frame_offset " + num(c.frame_offset) + ", expected " + num(expect) + " (frames are contiguous)");
      if (c.frame_size < kFrameHeaderSize)
        fail(Errc::corrupt_input, cw, "frame_size " + num(c.frame_size) + " is smaller than a frame header");
      if (c.n_elems < 1 || c.n_elems > fh.chunk_elems)
        fail(Errc::corrupt_input, cw,
             "n_elems " + num(c.n_elems) + " is outside 1..chunk_elems (" + num(fh.chunk_elems) + ")");
      if (k + 1 < seg.n_chunks && c.n_elems != fh.chunk_elems)
        fail(Errc::corrupt_input, cw,
             "n_elems " + num(c.n_elems) + " but only the last chunk of segment " + num(s) +
                 " may hold fewer than chunk_elems (" + num(fh.chunk_elems) + ")");
      if (!add_ok(expect, c.frame_size, expect)) fail(Errc::corrupt_input, cw, "frame_size overflows");
      total += c.n_elems * esize;  // <= 2^64 / 2^26 chunks before overflow, but check anyway
      if (total < c.n_elems * esize) fail(Errc::corrupt_input, cw, "decoded size overflows");
    }
    if (total != seg.decoded_size)
      fail(Errc::corrupt_input, where + ": segment " + num(s),
           "decoded_size " + num(seg.decoded_size) + " differs from its chunks' total " + num(total));
  }
  uint64_t end_frame_end = 0;
  if (!add_ok(expect, kFrameHeaderSize, end_frame_end) || end_frame_end != index_offset)
    fail(Errc::corrupt_input, where,
         "chunk frames end at offset " + num(expect) + ", so the 32-byte end frame cannot end where the index starts");
  idx.metadata.assign(b.begin() + static_cast<ptrdiff_t>(chunk_end + 8), b.end());
  return idx;
}

void check_frame_matches_index(uint64_t i, uint64_t offset, const FrameHeader& h, const IndexChunk& e, uint32_t segment,
                               DType dtype) {
  const std::string where = at("chunk", i, offset);
  auto mismatch = [&](const char* field, uint64_t frame_v, uint64_t index_v, bool as_hex = false) {
    if (frame_v != index_v)
      fail(Errc::corrupt_input, where,
           std::string("frame and index disagree on ") + field + " (frame " + (as_hex ? hex(frame_v) : num(frame_v)) +
               ", index " + (as_hex ? hex(index_v) : num(index_v)) + ")");
  };
  if (h.type != kFrameChunk) fail(Errc::corrupt_input, where, "the index lists a chunk here, but the frame is not a chunk");
  mismatch("frame_offset", offset, e.frame_offset);
  mismatch("frame_size", uint64_t{h.payload_size} + kFrameHeaderSize, e.frame_size);
  mismatch("n_elems", h.n_elems, e.n_elems);
  mismatch("checksum", h.checksum, e.checksum, true);
  mismatch("segment", h.segment, segment);
  mismatch("dtype", static_cast<uint8_t>(h.dtype), static_cast<uint8_t>(dtype));
}

// ---------------------------------------------------------------- footer

std::array<uint8_t, kFooterSize> encode_footer(const Footer& f) noexcept {
  std::array<uint8_t, kFooterSize> b{};
  store_u64(&b[0], f.index_offset);
  store_u64(&b[8], f.index_size);
  store_u64(&b[16], f.index_check);
  store_u16(&b[24], f.format_version);
  store_u16(&b[26], 0);
  std::memcpy(&b[28], kFooterMagic.data(), 4);
  return b;
}

Footer parse_footer(std::span<const uint8_t> b, uint64_t footer_offset, const FileHeader& fh) {
  const std::string where = at("footer", footer_offset);
  if (b.size() < kFooterSize)
    fail(Errc::truncated_input, where, "truncated (32 bytes needed, " + num(b.size()) + " present)");
  if (std::memcmp(&b[28], kFooterMagic.data(), 4) != 0) fail(Errc::corrupt_input, where, "bad magic (expected \"TNZF\")");
  Footer f;
  f.index_offset = load_u64(&b[0]);
  f.index_size = load_u64(&b[8]);
  f.index_check = load_u64(&b[16]);
  f.format_version = load_u16(&b[24]);
  if (f.format_version != fh.format_version)
    fail(Errc::corrupt_input, where,
         "format version " + num(f.format_version) + " differs from the file header's (" + num(fh.format_version) + ")");
  if (load_u16(&b[26]) != 0) fail(Errc::corrupt_input, where, "reserved field at footer byte 26 must be 0");
  uint64_t end = 0;
  if (!add_ok(f.index_offset, f.index_size, end) || end != footer_offset ||
      f.index_offset < kFileHeaderSize + kFrameHeaderSize)
    fail(Errc::corrupt_input, where,
         "index_offset " + num(f.index_offset) + " and index_size " + num(f.index_size) +
             " do not describe an index that ends at the footer");
  return f;
}

void check_index_hash(std::span<const uint8_t> index_bytes, const Footer& f) {
  const uint64_t computed = xxh3(index_bytes);
  if (computed != f.index_check)
    fail(Errc::corrupt_input, at("index", f.index_offset),
         "index check mismatch (stored " + hex(f.index_check) + ", computed " + hex(computed) + ")");
}

}  // namespace tenzip::detail
