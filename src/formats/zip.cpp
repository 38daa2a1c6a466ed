#include "formats/zip.hpp"

#include <algorithm>
#include <cstring>
#include <optional>

#include "container/format.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::formats::zip {

using detail::load_u16;
using detail::load_u32;
using detail::load_u64;

namespace {

constexpr uint32_t kLocalSig = 0x04034b50;
constexpr uint32_t kCentralSig = 0x02014b50;
constexpr uint32_t kEocdSig = 0x06054b50;
constexpr uint32_t kZip64EocdSig = 0x06064b50;
constexpr uint32_t kZip64LocatorSig = 0x07064b50;
constexpr uint32_t kDescriptorSig = 0x08074b50;
constexpr size_t kLocalSize = 30;
constexpr size_t kCentralSize = 46;
constexpr size_t kEocdSize = 22;
constexpr size_t kZip64EocdSize = 56;
constexpr size_t kZip64LocatorSize = 20;
constexpr uint16_t kZip64ExtraId = 0x0001;
constexpr uint32_t kMax32 = 0xFFFFFFFF;
constexpr uint16_t kMax16 = 0xFFFF;
// Flag bits: 0 traditional encryption, 6 strong encryption, 13 encrypted central directory.
constexpr uint16_t kEncryptedFlags = 0x0001 | 0x0040 | 0x2000;
constexpr uint16_t kDescriptorFlag = 0x0008;

std::string num(uint64_t v) { return std::to_string(v); }

class Reader {
 public:
  Reader(std::span<const uint8_t> file, std::string_view who) : f_(file), who_(who) {}
  Directory read();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::corrupt_input, std::string(who_) + ": " + what);
  }
  [[noreturn]] void fail_entry(const Entry& e, const std::string& what) const {
    fail("entry '" + printable(e.name) + "': " + what);
  }
  // Callers check that the field lies inside the file.
  const uint8_t* at(uint64_t off) const noexcept { return f_.data() + off; }

  uint64_t find_eocd() const;
  void read_zip64(uint64_t eocd, uint64_t& n_entries, uint64_t& cd_size, uint64_t& cd_offset, uint64_t& dir_end);
  Entry read_central(uint64_t& p, uint64_t cd_end, uint64_t index);
  void read_local(Entry& e, uint64_t cd_offset);
  void check_name(const Entry& e) const;

  std::span<const uint8_t> f_;
  std::string_view who_;
  Directory d_;
};

// Walks the extra-field records of a header; they must tile the field exactly. Returns the
// ZIP64 record's data, if any.
template <class Fail>
std::optional<std::span<const uint8_t>> zip64_extra(std::span<const uint8_t> extra, const Fail& fail) {
  std::optional<std::span<const uint8_t>> z64;
  size_t off = 0;
  while (off < extra.size()) {
    if (extra.size() - off < 4) fail("extra field has " + num(extra.size() - off) + " stray bytes at its end");
    const uint16_t id = load_u16(&extra[off]);
    const uint16_t size = load_u16(&extra[off + 2]);
    if (size > extra.size() - off - 4) fail("extra field record 0x" + detail::hex(id).substr(14) + " runs past the extra field");
    if (id == kZip64ExtraId) {
      if (z64) fail("two ZIP64 extra fields");
      z64 = extra.subspan(off + 4, size);
    }
    off += 4 + size;
  }
  return z64;
}

// Reads the next 8-byte ZIP64 value for a field marked 0xFFFFFFFF.
template <class Fail>
uint64_t next_zip64(std::span<const uint8_t> z64, size_t& pos, const char* field, const Fail& fail) {
  if (z64.size() - pos < 8) fail(std::string("ZIP64 extra field has no ") + field + " (" + num(z64.size()) + " bytes)");
  const uint64_t v = load_u64(&z64[pos]);
  pos += 8;
  return v;
}

uint64_t Reader::find_eocd() const {
  if (f_.size() < kEocdSize)
    fail("too short for a zip archive (" + num(f_.size()) + " bytes; the end-of-central-directory record needs 22)");
  // The record is followed only by its comment (<= 65535 bytes): search backwards that far,
  // for a signature whose comment length reaches exactly the end of the file.
  const uint64_t last = f_.size() - kEocdSize;
  const uint64_t first = last - std::min<uint64_t>(last, kMax16);
  for (uint64_t p = last + 1; p-- > first;) {
    if (load_u32(at(p)) == kEocdSig && load_u16(at(p + 20)) == last - p) return p;
  }
  fail("no end-of-central-directory record in the last " + num(f_.size() - first) + " bytes (not a zip archive, or truncated)");
}

void Reader::read_zip64(uint64_t eocd, uint64_t& n_entries, uint64_t& cd_size, uint64_t& cd_offset,
                        uint64_t& dir_end) {
  const uint64_t loc = eocd - kZip64LocatorSize;
  const uint8_t* l = at(loc);
  if (load_u32(l + 4) != 0 || load_u32(l + 16) > 1)
    fail("ZIP64 locator names disk " + num(load_u32(l + 4)) + " of " + num(load_u32(l + 16)) +
         " (multi-disk archives are not supported)");
  const uint64_t rec = load_u64(l + 8);
  if (rec > loc || loc - rec < kZip64EocdSize)
    fail("ZIP64 end-of-central-directory record offset " + num(rec) + " does not leave room for the record before its locator at " +
         num(loc));
  const uint8_t* r = at(rec);
  if (load_u32(r) != kZip64EocdSig) fail("no ZIP64 end-of-central-directory record at offset " + num(rec));
  const uint64_t size = load_u64(r + 4);
  if (size < kZip64EocdSize - 12 || size != loc - rec - 12)
    fail("ZIP64 end-of-central-directory record at offset " + num(rec) + " has size " + num(size) + ", but " +
         num(loc - rec - 12) + " bytes lie before its locator");
  if (load_u32(r + 16) != 0 || load_u32(r + 20) != 0)
    fail("ZIP64 end-of-central-directory record names disk " + num(load_u32(r + 16)) + " and " + num(load_u32(r + 20)) +
         " (multi-disk archives are not supported)");
  const uint64_t on_disk = load_u64(r + 24);
  const uint64_t total = load_u64(r + 32);
  if (on_disk != total)
    fail("ZIP64 end-of-central-directory record counts " + num(on_disk) + " entries on this disk but " + num(total) + " in all");
  // The 32-bit record must agree, or say "see ZIP64".
  const uint8_t* e = at(eocd);
  const auto agree = [&](uint64_t v32, uint64_t sentinel, uint64_t v64, const char* what) {
    if (v32 != sentinel && v32 != v64)
      fail(std::string("end-of-central-directory ") + what + " " + num(v32) + " differs from the ZIP64 record's " + num(v64));
  };
  agree(load_u16(e + 8), kMax16, total, "entries on this disk");
  agree(load_u16(e + 10), kMax16, total, "entry count");
  agree(load_u32(e + 12), kMax32, load_u64(r + 40), "central directory size");
  agree(load_u32(e + 16), kMax32, load_u64(r + 48), "central directory offset");
  n_entries = total;
  cd_size = load_u64(r + 40);
  cd_offset = load_u64(r + 48);
  dir_end = rec;
  d_.zip64 = true;
}

void Reader::check_name(const Entry& e) const {
  const std::string_view n = e.name;
  if (n.empty()) fail_entry(e, "empty name");
  if (n.find('\0') != n.npos) fail_entry(e, "name contains a NUL byte");
  if (n.find('\\') != n.npos) fail_entry(e, "name contains a backslash (unsafe path)");
  if (n.front() == '/') fail_entry(e, "absolute path");
  if (n.size() >= 2 && n[1] == ':' && ((n[0] | 0x20) >= 'a' && (n[0] | 0x20) <= 'z'))
    fail_entry(e, "absolute path (drive letter)");
  size_t start = 0;
  while (start <= n.size()) {
    const size_t end = std::min(n.find('/', start), n.size());
    const std::string_view c = n.substr(start, end - start);
    if (c == "..") fail_entry(e, "'..' path component (unsafe path)");
    if (c == ".") fail_entry(e, "'.' path component");
    // Empty components: "a//b"; a trailing '/' marks a directory and is fine.
    if (c.empty() && end != n.size()) fail_entry(e, "empty path component");
    start = end + 1;
  }
}

Entry Reader::read_central(uint64_t& p, uint64_t cd_end, uint64_t index) {
  if (cd_end - p < kCentralSize)
    fail("central directory entry " + num(index) + " at offset " + num(p) + " runs past the central directory");
  const uint8_t* h = at(p);
  if (load_u32(h) != kCentralSig) fail("no central directory entry " + num(index) + " at offset " + num(p));
  Entry e;
  e.flags = load_u16(h + 8);
  e.method = load_u16(h + 10);
  e.crc32 = load_u32(h + 16);
  e.compressed_size = load_u32(h + 20);
  e.uncompressed_size = load_u32(h + 24);
  const uint64_t name_len = load_u16(h + 28), extra_len = load_u16(h + 30), comment_len = load_u16(h + 32);
  uint64_t disk = load_u16(h + 34);
  e.header_offset = load_u32(h + 42);
  if (cd_end - p - kCentralSize < name_len + extra_len + comment_len)
    fail("central directory entry " + num(index) + " at offset " + num(p) + ": name, extra field and comment run past the central directory");
  e.name.assign(reinterpret_cast<const char*>(h + kCentralSize), name_len);
  const auto efail = [&](const std::string& what) { fail_entry(e, what); };
  check_name(e);
  if (e.flags & kEncryptedFlags) fail_entry(e, "encrypted entries are not supported");
  const auto z64 = zip64_extra(f_.subspan(p + kCentralSize + name_len, extra_len), efail);
  if (z64) {
    // Only the fields whose 32-bit value is all ones are present, in this order.
    size_t pos = 0;
    if (e.uncompressed_size == kMax32) e.uncompressed_size = next_zip64(*z64, pos, "uncompressed size", efail);
    if (e.compressed_size == kMax32) e.compressed_size = next_zip64(*z64, pos, "compressed size", efail);
    if (e.header_offset == kMax32) e.header_offset = next_zip64(*z64, pos, "local header offset", efail);
    if (disk == kMax16) {
      if (z64->size() - pos < 4) efail("ZIP64 extra field has no disk number");
      disk = load_u32(&(*z64)[pos]);
    }
  }
  if (disk != 0) fail_entry(e, "starts on disk " + num(disk) + " (multi-disk archives are not supported)");
  if (e.stored() && e.compressed_size != e.uncompressed_size)
    fail_entry(e, "stored entry has compressed size " + num(e.compressed_size) + " but uncompressed size " +
                      num(e.uncompressed_size));
  p += kCentralSize + name_len + extra_len + comment_len;
  return e;
}

void Reader::read_local(Entry& e, uint64_t cd_offset) {
  const std::string where = "local header at offset " + num(e.header_offset);
  if (e.header_offset > cd_offset || cd_offset - e.header_offset < kLocalSize)
    fail_entry(e, where + " does not lie before the central directory (offset " + num(cd_offset) + ")");
  const uint8_t* h = at(e.header_offset);
  if (load_u32(h) != kLocalSig) fail_entry(e, "no " + where);
  const uint16_t flags = load_u16(h + 6);
  const uint16_t method = load_u16(h + 8);
  const uint32_t crc = load_u32(h + 14);
  uint64_t csize = load_u32(h + 18), usize = load_u32(h + 22);
  const uint64_t name_len = load_u16(h + 26), extra_len = load_u16(h + 28);
  const uint64_t name_off = e.header_offset + kLocalSize;
  if (cd_offset - name_off < name_len + extra_len)
    fail_entry(e, where + ": name and extra field run into the central directory");
  const std::string_view name(reinterpret_cast<const char*>(at(name_off)), name_len);
  if (name != e.name) fail_entry(e, where + " names '" + printable(name) + "' instead (central directory and local header disagree)");
  if (method != e.method)
    fail_entry(e, where + " has compression method " + num(method) + ", the central directory " + num(e.method));
  if ((flags & kEncryptedFlags) != 0) fail_entry(e, where + " is encrypted");
  if ((flags & kDescriptorFlag) != (e.flags & kDescriptorFlag))
    fail_entry(e, where + " and the central directory disagree on whether a data descriptor follows");
  const auto efail = [&](const std::string& what) { fail_entry(e, where + ": " + what); };
  const auto z64 = zip64_extra(f_.subspan(name_off + name_len, extra_len), efail);
  if (z64) {
    size_t pos = 0;
    if (usize == kMax32) usize = next_zip64(*z64, pos, "uncompressed size", efail);
    if (csize == kMax32) csize = next_zip64(*z64, pos, "compressed size", efail);
  }
  // With a data descriptor the local values may be zero; otherwise they must match.
  const bool descriptor = (flags & kDescriptorFlag) != 0;
  const auto same = [&](uint64_t local, uint64_t central, const char* what) {
    if (local != central && !(descriptor && local == 0))
      efail(std::string(what) + " " + num(local) + " differs from the central directory's " + num(central));
  };
  same(crc, e.crc32, "CRC-32");
  same(csize, e.compressed_size, "compressed size");
  same(usize, e.uncompressed_size, "uncompressed size");

  e.data_offset = name_off + name_len + extra_len;
  if (e.compressed_size > cd_offset - e.data_offset)
    fail_entry(e, "data [" + num(e.data_offset) + ", +" + num(e.compressed_size) + ") runs into the central directory at offset " +
                      num(cd_offset));
  e.end_offset = e.data_offset + e.compressed_size;
  if (descriptor) {
    // [signature] crc32, compressed size, uncompressed size: 8-byte sizes when the local header
    // has a ZIP64 field.
    uint64_t p = e.end_offset;
    const uint64_t room = cd_offset - p;
    const uint64_t width = z64 ? 8 : 4;
    const bool sig = room >= 4 && load_u32(at(p)) == kDescriptorSig;
    const uint64_t size = (sig ? 4 : 0) + 4 + 2 * width;
    if (room < size) fail_entry(e, "data descriptor at offset " + num(p) + " runs into the central directory");
    p += sig ? 4 : 0;
    const uint64_t dcrc = load_u32(at(p));
    const uint64_t dcsize = width == 8 ? load_u64(at(p + 4)) : load_u32(at(p + 4));
    const uint64_t dusize = width == 8 ? load_u64(at(p + 4 + width)) : load_u32(at(p + 4 + width));
    if (dcrc != e.crc32 || dcsize != e.compressed_size || dusize != e.uncompressed_size)
      fail_entry(e, "data descriptor at offset " + num(e.end_offset) + " (CRC-32 " + num(dcrc) + ", sizes " + num(dcsize) + "/" +
                        num(dusize) + ") differs from the central directory (" + num(e.crc32) + ", " + num(e.compressed_size) +
                        "/" + num(e.uncompressed_size) + ")");
    e.end_offset += size;
  }
}

Directory Reader::read() {
  const uint64_t eocd = find_eocd();
  const uint8_t* r = at(eocd);
  if (load_u16(r + 4) != 0 || load_u16(r + 6) != 0)
    fail("end-of-central-directory record names disk " + num(load_u16(r + 4)) + " and " + num(load_u16(r + 6)) +
         " (multi-disk archives are not supported)");
  uint64_t n_entries = load_u16(r + 10);
  if (load_u16(r + 8) != n_entries)
    fail("end-of-central-directory record counts " + num(load_u16(r + 8)) + " entries on this disk but " + num(n_entries) + " in all");
  uint64_t cd_size = load_u32(r + 12), cd_offset = load_u32(r + 16), dir_end = eocd;
  if (eocd >= kZip64LocatorSize && load_u32(at(eocd - kZip64LocatorSize)) == kZip64LocatorSig)
    read_zip64(eocd, n_entries, cd_size, cd_offset, dir_end);
  if (cd_offset > dir_end || cd_size > dir_end - cd_offset)
    fail("central directory [" + num(cd_offset) + ", +" + num(cd_size) + ") does not end before the end-of-central-directory record at " +
         num(dir_end));
  if (n_entries > cd_size / kCentralSize)
    fail(num(n_entries) + " entries cannot fit a central directory of " + num(cd_size) + " bytes");
  d_.cd_offset = cd_offset;
  d_.cd_size = cd_size;

  const uint64_t cd_end = cd_offset + cd_size;
  d_.entries.reserve(n_entries);
  uint64_t p = cd_offset;
  for (uint64_t i = 0; i < n_entries; ++i) d_.entries.push_back(read_central(p, cd_end, i));
  if (p != cd_end) fail("central directory has " + num(cd_end - p) + " bytes after its " + num(n_entries) + " entries");

  d_.by_name.resize(d_.entries.size());
  for (uint32_t i = 0; i < d_.by_name.size(); ++i) d_.by_name[i] = i;
  std::sort(d_.by_name.begin(), d_.by_name.end(),
            [&](uint32_t a, uint32_t b) { return d_.entries[a].name < d_.entries[b].name; });
  for (size_t i = 1; i < d_.by_name.size(); ++i)
    if (d_.entries[d_.by_name[i]].name == d_.entries[d_.by_name[i - 1]].name)
      fail_entry(d_.entries[d_.by_name[i]], "appears twice in the central directory");

  for (Entry& e : d_.entries) read_local(e, cd_offset);
  std::vector<const Entry*> by_offset;
  by_offset.reserve(d_.entries.size());
  for (const Entry& e : d_.entries) by_offset.push_back(&e);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const Entry* a, const Entry* b) { return a->header_offset < b->header_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const Entry& a = *by_offset[i - 1];
    const Entry& b = *by_offset[i];
    if (b.header_offset < a.end_offset)
      fail_entry(b, "local header at offset " + num(b.header_offset) + " overlaps entry '" + printable(a.name) + "' [" +
                        num(a.header_offset) + ", " + num(a.end_offset) + ")");
  }
  return std::move(d_);
}

}  // namespace

const Entry* Directory::find(std::string_view name) const noexcept {
  const auto it = std::lower_bound(by_name.begin(), by_name.end(), name,
                                   [&](uint32_t i, std::string_view n) { return entries[i].name < n; });
  return it != by_name.end() && entries[*it].name == name ? &entries[*it] : nullptr;
}

std::string printable(std::string_view name) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  s.reserve(name.size());
  for (const char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && u != '\\') {
      s += c;
    } else {
      s += "\\x";
      s += digits[u >> 4];
      s += digits[u & 15];
    }
  }
  return s;
}

Directory read_directory(std::span<const uint8_t> file, std::string_view who) { return Reader(file, who).read(); }

}  // namespace tenzip::formats::zip
