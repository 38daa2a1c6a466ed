// A minimal, strict reader of the protobuf wire format. Hand-written because the ONNX parser
// needs the byte offset of every field inside the file (where `raw_data` lies), which
// libprotobuf does not expose; it also keeps the library free of a protobuf dependency.
//
// Strict means: varints of at most 10 bytes that fit 64 bits, tags that fit 32 bits, field
// numbers 1..2^29-1, length-delimited fields inside their message, no groups (wire types 3/4,
// deprecated and unused by ONNX) and no wire types 6/7. Anything else throws
// Error(corrupt_input) naming the offset and the message being read.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace tenzip::formats::pb {

enum class Wire : uint8_t { varint = 0, i64 = 1, len = 2, i32 = 5 };
std::string_view wire_name(Wire w) noexcept;  // "varint", "fixed64", "length-delimited", "fixed32"

// Where a parser is, for error messages: frames live on the parser's stack and the text is
// built only when an error is thrown ("graph 'main' node 'Constant_3' attribute 'value'").
inline constexpr uint64_t kNoIndex = UINT64_MAX;
struct Path {
  const Path* parent = nullptr;
  std::string_view kind;        // "graph", "node", ...; empty frames are left out
  std::string_view name;        // shown quoted; when empty, "#index" is shown instead
  uint64_t index = kNoIndex;    // kNoIndex: neither is shown
};
std::string describe(const Path* path);
// A name as shown in a message: at most 80 bytes, control characters replaced by '?'.
std::string quoted(std::string_view name);

// Throws Error(corrupt_input, "<format>: <path>: <what>").
[[noreturn]] void fail(std::string_view format, const Path* path, const std::string& what);

struct Field {
  uint32_t number = 0;
  Wire wire = Wire::varint;
  uint64_t value = 0;        // varint, fixed32 or fixed64 value
  uint64_t offset = 0;       // file offset of the tag
  uint64_t data_offset = 0;  // file offset of the value; for `len`, of the payload
  uint64_t size = 0;         // `len` payload bytes (0 for the other wire types)
};

// Reads the fields of one message, file[begin, end), in order. Offsets are file offsets.
class Reader {
 public:
  Reader(std::span<const uint8_t> file, uint64_t begin, uint64_t end, std::string_view format, const Path* path);
  // The message held by a length-delimited field `f` (which must be one).
  Reader sub(const Field& f, const Path* path) const;

  // Next field; false at the end of the message. Throws on malformed bytes.
  bool next(Field& f);

  // Throws unless `f` has wire type `w` ("tensor: field raw_data (9) has wire type varint, expected ...").
  void expect(const Field& f, Wire w, std::string_view field_name) const;
  std::string_view string(const Field& f) const;  // payload of a len field, as bytes
  // Calls `each(value)` for every varint of a packed repeated field; returns how many there were.
  template <class F>
  uint64_t packed_varints(const Field& f, F&& each) const {
    uint64_t pos = f.data_offset, n = 0;
    const uint64_t end = f.data_offset + f.size;
    while (pos < end) {
      each(varint(pos, end));
      ++n;
    }
    return n;
  }

  std::string_view format() const noexcept { return format_; }
  const Path* path() const noexcept { return path_; }
  [[noreturn]] void fail(const std::string& what) const { pb::fail(format_, path_, what); }

 private:
  uint64_t varint(uint64_t& pos, uint64_t end) const;

  std::span<const uint8_t> file_;
  uint64_t pos_, end_;
  std::string_view format_;
  const Path* path_;
};

}  // namespace tenzip::formats::pb
