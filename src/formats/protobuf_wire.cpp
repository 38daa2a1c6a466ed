#include "formats/protobuf_wire.hpp"

#include <iterator>

#include "tenzip/tenzip.hpp"

namespace tenzip::formats::pb {

namespace {
std::string num(uint64_t v) { return std::to_string(v); }
}  // namespace

std::string_view wire_name(Wire w) noexcept {
  switch (w) {
    case Wire::varint: return "varint";
    case Wire::i64: return "fixed64";
    case Wire::len: return "length-delimited";
    case Wire::i32: return "fixed32";
  }
  return "?";
}

std::string quoted(std::string_view name) {
  constexpr size_t kMax = 80;
  std::string s = "'";
  for (size_t i = 0; i < name.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(name[i]);
    s += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  if (name.size() > kMax) s += "...";
  return s + "'";
}

std::string describe(const Path* path) {
  std::string s;
  // Frames point to their parent: walk up, then print root first.
  const Path* frames[256];
  size_t n = 0;
  for (const Path* p = path; p; p = p->parent) {
    if (n == std::size(frames)) break;  // deeper than any parser goes; keep the innermost frames
    frames[n++] = p;
  }
  while (n--) {
    const Path* p = frames[n];
    if (p->kind.empty()) continue;
    if (!s.empty()) s += ' ';
    s += p->kind;
    if (!p->name.empty()) s += ' ' + quoted(p->name);
    else if (p->index != kNoIndex) s += " #" + num(p->index);
  }
  return s;
}

void fail(std::string_view format, const Path* path, const std::string& what) {
  const std::string where = describe(path);
  throw Error(Errc::corrupt_input, std::string(format) + ": " + (where.empty() ? "" : where + ": ") + what);
}

Reader::Reader(std::span<const uint8_t> file, uint64_t begin, uint64_t end, std::string_view format,
               const Path* path)
    : file_(file), pos_(begin), end_(end), format_(format), path_(path) {
  if (begin > end || end > file.size()) fail("message [" + num(begin) + ", " + num(end) + ") lies outside the file");
}

Reader Reader::sub(const Field& f, const Path* path) const {
  if (f.wire != Wire::len) fail("field " + num(f.number) + " at offset " + num(f.offset) + " is not a message");
  return Reader(file_, f.data_offset, f.data_offset + f.size, format_, path);
}

uint64_t Reader::varint(uint64_t& pos, uint64_t end) const {
  const uint64_t start = pos;
  uint64_t v = 0;
  for (unsigned i = 0;; ++i) {
    if (pos >= end)
      fail("varint at offset " + num(start) + " runs past the end of its message (at offset " + num(end) + ")");
    const uint8_t b = file_[pos++];
    // The 10th byte holds bit 63 only and must end the varint.
    if (i == 9 && (b & 0x80)) fail("varint at offset " + num(start) + " is longer than 10 bytes");
    if (i == 9 && b > 1) fail("varint at offset " + num(start) + " overflows 64 bits");
    v |= uint64_t{b & 0x7fu} << (7 * i);
    if (!(b & 0x80)) return v;
  }
}

bool Reader::next(Field& f) {
  if (pos_ >= end_) return false;
  f = Field{};
  f.offset = pos_;
  const uint64_t tag = varint(pos_, end_);
  if (tag > UINT32_MAX) fail("tag at offset " + num(f.offset) + " does not fit 32 bits");
  f.number = static_cast<uint32_t>(tag >> 3);
  const unsigned wire = tag & 7;
  if (f.number == 0) fail("field number 0 at offset " + num(f.offset));
  const auto field = [&] { return "field " + num(f.number) + " at offset " + num(f.offset); };
  switch (wire) {
    case 0:
      f.wire = Wire::varint;
      f.data_offset = pos_;
      f.value = varint(pos_, end_);
      return true;
    case 1:
    case 5: {
      f.wire = wire == 1 ? Wire::i64 : Wire::i32;
      const unsigned n = wire == 1 ? 8 : 4;
      if (end_ - pos_ < n)
        fail(field() + ": its " + std::string(wire_name(f.wire)) + " value runs past the end of its message (at offset " +
             num(end_) + ")");
      f.data_offset = pos_;
      for (unsigned i = 0; i < n; ++i) f.value |= uint64_t{file_[pos_ + i]} << (8 * i);
      pos_ += n;
      return true;
    }
    case 2: {
      f.wire = Wire::len;
      f.size = varint(pos_, end_);
      f.data_offset = pos_;
      if (f.size > end_ - pos_)
        fail(field() + ": length " + num(f.size) + " runs past the end of its message (" + num(end_ - pos_) +
             " bytes left)");
      pos_ += f.size;
      return true;
    }
    case 3:
    case 4: fail(field() + ": groups (wire type " + num(wire) + ") are not supported");
    default: fail(field() + ": invalid wire type " + num(wire));
  }
}

void Reader::expect(const Field& f, Wire w, std::string_view field_name) const {
  if (f.wire != w)
    fail("field " + std::string(field_name) + " (" + num(f.number) + ") at offset " + num(f.offset) + " has wire type " +
         std::string(wire_name(f.wire)) + ", expected " + std::string(wire_name(w)));
}

std::string_view Reader::string(const Field& f) const {
  if (f.wire != Wire::len) return {};
  return {reinterpret_cast<const char*>(file_.data() + f.data_offset), static_cast<size_t>(f.size)};
}

}  // namespace tenzip::formats::pb
