// GGUF (ggml's model file), versions 2 and 3, little-endian:
//   "GGUF", u32 version, u64 tensor_count, u64 kv_count,
//   kv_count x (string key, u32 value_type, value),
//   tensor_count x (string name, u32 n_dims, u64 dims[n_dims] innermost first, u32 ggml_type,
//                   u64 offset into the data section),
//   padding to `general.alignment` (default 32), the data section.
// A string is a u64 length and that many bytes; an array is a u32 element type, a u64 count and
// the elements (arrays of arrays nest).
//
// Rules follow ggml's gguf.cpp (the loader llama.cpp uses) and the gguf Python package's
// GGUFReader: v1 and byte-swapped (big-endian) files are refused; keys are non-empty and unique;
// general.alignment is a u32 power of two; at most 4 dims, each < 2^63, element count < 2^63;
// the row (dims[0]) is a whole number of blocks; tensor names are unique. Tensor data must be
// aligned, inside the file and non-overlapping. ggml also requires the tensors to be packed in
// info order; we do not need that (gaps are coded as bytes), so we do not require it. Nested
// metadata arrays (which GGUFReader reads and ggml refuses) are skipped with a depth cap.
#include <algorithm>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "formats/layout.hpp"

namespace tenzip::formats {

namespace {

constexpr uint64_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;                            // GGML_MAX_DIMS
constexpr uint64_t kMaxStringLength = uint64_t{1} << 30;    // GGUF_MAX_STRING_LENGTH
constexpr uint64_t kMaxArrayElements = uint64_t{1} << 30;   // GGUF_MAX_ARRAY_ELEMENTS
constexpr int kMaxArrayDepth = 16;                          // arrays of arrays of ...
constexpr uint64_t kMaxDim = uint64_t{INT64_MAX};          // ggml reads dims as int64

enum ValueType : uint32_t {
  kU8 = 0, kI8 = 1, kU16 = 2, kI16 = 3, kU32 = 4, kI32 = 5, kF32 = 6, kBool = 7,
  kString = 8, kArray = 9, kU64 = 10, kI64 = 11, kF64 = 12,
};
constexpr const char* kValueTypeNames[] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32",
                                           "bool", "string", "array", "u64", "i64", "f64"};
constexpr uint64_t kValueTypeSizes[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};  // 0: not fixed

std::string value_type_name(uint32_t t) {
  return t < std::size(kValueTypeNames) ? kValueTypeNames[t] : "unknown type " + std::to_string(t);
}

struct GgmlType {
  uint32_t id;
  const char* name;
  uint32_t block;      // elements per block
  uint32_t type_size;  // bytes per block
  DType codec;
};
// ggml's type traits (gguf-py GGML_QUANT_SIZES). Ids missing here were removed from ggml.
constexpr GgmlType kGgmlTypes[] = {
    {0, "F32", 1, 4, DType::fp32},        {1, "F16", 1, 2, DType::fp16},
    {2, "Q4_0", 32, 18, DType::bytes},    {3, "Q4_1", 32, 20, DType::bytes},
    {6, "Q5_0", 32, 22, DType::bytes},    {7, "Q5_1", 32, 24, DType::bytes},
    {8, "Q8_0", 32, 34, DType::bytes},    {9, "Q8_1", 32, 40, DType::bytes},
    {10, "Q2_K", 256, 84, DType::bytes},  {11, "Q3_K", 256, 110, DType::bytes},
    {12, "Q4_K", 256, 144, DType::bytes}, {13, "Q5_K", 256, 176, DType::bytes},
    {14, "Q6_K", 256, 210, DType::bytes}, {15, "Q8_K", 256, 292, DType::bytes},
    {16, "IQ2_XXS", 256, 66, DType::bytes}, {17, "IQ2_XS", 256, 74, DType::bytes},
    {18, "IQ3_XXS", 256, 98, DType::bytes}, {19, "IQ1_S", 256, 50, DType::bytes},
    {20, "IQ4_NL", 32, 18, DType::bytes},   {21, "IQ3_S", 256, 110, DType::bytes},
    {22, "IQ2_S", 256, 82, DType::bytes},   {23, "IQ4_XS", 256, 136, DType::bytes},
    {24, "I8", 1, 1, DType::bytes},       {25, "I16", 1, 2, DType::bytes},
    {26, "I32", 1, 4, DType::bytes},      {27, "I64", 1, 8, DType::bytes},
    {28, "F64", 1, 8, DType::bytes},      {29, "IQ1_M", 256, 56, DType::bytes},
    {30, "BF16", 1, 2, DType::bf16},      {34, "TQ1_0", 256, 54, DType::bytes},
    {35, "TQ2_0", 256, 66, DType::bytes}, {39, "MXFP4", 32, 17, DType::bytes},
    {40, "NVFP4", 64, 36, DType::bytes},  {41, "Q1_0", 128, 18, DType::bytes},
};

const GgmlType* find_ggml_type(uint32_t id) noexcept {
  for (const GgmlType& t : kGgmlTypes)
    if (t.id == id) return &t;
  return nullptr;
}

std::string num(uint64_t v) { return std::to_string(v); }

[[noreturn]] void fail(const std::string& what) { throw Error(Errc::corrupt_input, "gguf: " + what); }

bool valid_utf8(std::string_view s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<uint8_t>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) n = 3, lo = c == 0xe0 ? 0xa0 : 0x80, hi = c == 0xed ? 0x9f : 0xbf;
    else if (c >= 0xf0 && c <= 0xf4) n = 4, lo = c == 0xf0 ? 0x90 : 0x80, hi = c == 0xf4 ? 0x8f : 0xbf;
    else return false;
    if (s.size() - i < n) return false;
    const auto c1 = static_cast<uint8_t>(s[i + 1]);
    if (c1 < lo || c1 > hi) return false;
    for (size_t k = 2; k < n; ++k)
      if ((static_cast<uint8_t>(s[i + k]) & 0xc0) != 0x80) return false;
    i += n;
  }
  return true;
}

// What a read is for, for messages: built only when a read fails, so that walking a long array
// under a long key costs nothing per element.
struct What {
  What(const char* h) : head(h) {}                             // NOLINT: implicit on purpose
  What(const std::string& h) : head(h) {}                      // NOLINT (the string outlives the call)
  What(std::string_view h, const char* t) : head(h), tail(t) {}
  std::string str() const { return std::string(head) + tail; }
  std::string_view head;
  const char* tail = "";
};

// Reads the header front to back; every read is checked against the end of the file.
class Cursor {
 public:
  explicit Cursor(std::span<const uint8_t> f) : f_(f) {}
  uint64_t pos() const noexcept { return pos_; }
  uint64_t left() const noexcept { return f_.size() - pos_; }

  void need(uint64_t n, What what) const {
    if (n > left())
      fail(what.str() + " at offset " + num(pos_) + " needs " + num(n) + " bytes, but the file ends after " +
           num(left()));
  }
  void skip(uint64_t n, What what) {
    need(n, what);
    pos_ += n;
  }
  uint32_t u32(What what) {
    need(4, what);
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | f_[pos_ + i];
    pos_ += 4;
    return v;
  }
  uint64_t u64(What what) {
    need(8, what);
    uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = v << 8 | f_[pos_ + i];
    pos_ += 8;
    return v;
  }
  std::string_view str(What what) {
    const uint64_t at = pos_;
    const uint64_t n = u64(what);
    if (n > kMaxStringLength)
      fail(what.str() + " at offset " + num(at) + " has length " + num(n) + ", over the limit of " +
           num(kMaxStringLength));
    if (n > left())
      fail(what.str() + " at offset " + num(at) + ": length " + num(n) + " runs past the end of the file (" +
           num(left()) + " bytes left)");
    const std::string_view s(reinterpret_cast<const char*>(f_.data() + pos_), n);
    pos_ += n;
    return s;
  }

 private:
  std::span<const uint8_t> f_;
  uint64_t pos_ = 0;
};

// Skips one metadata value of type `type`; `depth` counts the arrays around it.
void skip_value(Cursor& c, uint32_t type, int depth, const std::string& who) {
  if (type < std::size(kValueTypeSizes) && kValueTypeSizes[type] != 0) {
    c.skip(kValueTypeSizes[type], {who, " value"});
    return;
  }
  if (type == kString) {
    c.str({who, " string"});
    return;
  }
  if (type != kArray) fail(who + " has unknown value type " + num(type));
  if (depth >= kMaxArrayDepth) fail(who + ": arrays nest deeper than " + num(kMaxArrayDepth) + " levels");
  const uint32_t elem = c.u32({who, " array element type"});
  const uint64_t n = c.u64({who, " array length"});
  if (n > kMaxArrayElements)
    fail(who + ": array of " + num(n) + " elements, over the limit of " + num(kMaxArrayElements));
  if (elem < std::size(kValueTypeSizes) && kValueTypeSizes[elem] != 0) {
    c.skip(n * kValueTypeSizes[elem], {who, " array data"});  // n < 2^30: no overflow
    return;
  }
  if (elem != kString && elem != kArray) fail(who + ": array has unknown element type " + num(elem));
  // Each string takes >= 8 bytes and each array >= 12: refuse a count the file cannot hold
  // before walking it.
  const uint64_t min_size = elem == kString ? 8 : 12;
  if (n > c.left() / min_size)
    fail(who + ": array of " + num(n) + " " + value_type_name(elem) + "s cannot fit in the " + num(c.left()) +
         " bytes left in the file");
  for (uint64_t i = 0; i < n; ++i) skip_value(c, elem, depth + 1, who);
}

struct Info {
  std::string_view name;
  std::vector<uint64_t> dims;  // ggml order: innermost first
  const GgmlType* type = nullptr;
  uint64_t offset = 0;         // in the data section
  uint64_t size = 0;           // bytes
  uint64_t file_offset = 0;
};

std::string dims_str(const std::vector<uint64_t>& dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i) s += (i ? ", " : "") + num(dims[i]);
  return s + ")";
}

}  // namespace

bool looks_like_gguf(std::span<const uint8_t> file) noexcept {
  return file.size() >= 4 && file[0] == 'G' && file[1] == 'G' && file[2] == 'U' && file[3] == 'F';
}

FileLayout parse_gguf(std::span<const uint8_t> file) {
  Cursor c(file);
  if (!looks_like_gguf(file)) fail("bad magic (not a GGUF file)");
  c.skip(4, "magic");
  const uint32_t version = c.u32("version");
  // A byte-swapped small version reads as a multiple of 2^16 (GGUFReader's test).
  if (version != 0 && (version & 0xffff) == 0)
    fail("version field " + num(version) + " looks byte-swapped: big-endian GGUF files are not supported");
  if (version == 1) fail("GGUF version 1 is not supported (only versions 2 and 3)");
  if (version != 2 && version != 3) fail("version " + num(version) + " is not supported (only versions 2 and 3)");
  const uint64_t n_tensors = c.u64("tensor count");
  const uint64_t n_kv = c.u64("metadata key-value count");
  // The smallest key-value takes 14 bytes (8 length, 1 key byte, 4 type, 1 value) and the
  // smallest tensor info 24 (8 length, 4 n_dims, 4 type, 8 offset).
  if (n_kv > c.left() / 14)
    fail("metadata key-value count " + num(n_kv) + " cannot fit in the " + num(c.left()) + " bytes of the file after the header");
  if (n_tensors > c.left() / 24)
    fail("tensor count " + num(n_tensors) + " cannot fit in the " + num(c.left()) + " bytes of the file after the header");

  uint64_t alignment = kDefaultAlignment;
  std::unordered_set<std::string_view> keys;
  for (uint64_t i = 0; i < n_kv; ++i) {
    const std::string_view key = c.str("key of metadata entry " + num(i));
    if (key.empty()) fail("key of metadata entry " + num(i) + " is empty");
    const std::string who = "metadata '" + std::string(key) + "'";
    if (!valid_utf8(key)) fail("key of metadata entry " + num(i) + " is not valid UTF-8");
    if (!keys.insert(key).second) fail("duplicate metadata key '" + std::string(key) + "'");
    const uint32_t type = c.u32(who + " value type");
    if (key == "general.alignment") {
      if (type != kU32) fail("general.alignment must be a u32, got " + value_type_name(type));
      alignment = c.u32("general.alignment");
      if (alignment == 0 || (alignment & (alignment - 1)) != 0)
        fail("general.alignment " + num(alignment) + " is not a power of two");
      continue;
    }
    skip_value(c, type, 0, who);
  }

  // Grown as infos are read, not sized from the count: memory follows the bytes actually parsed.
  std::vector<Info> infos;
  infos.reserve(std::min<uint64_t>(n_tensors, 4096));
  std::unordered_set<std::string_view> names;
  for (uint64_t i = 0; i < n_tensors; ++i) {
    Info& t = infos.emplace_back();
    t.name = c.str("name of tensor " + num(i));
    if (!valid_utf8(t.name)) fail("name of tensor " + num(i) + " is not valid UTF-8");
    const std::string who = "tensor '" + std::string(t.name) + "'";
    if (!names.insert(t.name).second) fail("duplicate tensor name '" + std::string(t.name) + "'");
    const uint32_t n_dims = c.u32(who + " n_dims");
    if (n_dims > kMaxDims) fail(who + " has " + num(n_dims) + " dimensions, more than " + num(kMaxDims));
    uint64_t n_elems = 1;
    bool overflow = false;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const uint64_t v = c.u64(who + " dimension " + num(d));
      if (v > kMaxDim) fail(who + " dimension " + num(d) + " is " + num(v) + ", over 2^63 - 1");
      t.dims.push_back(v);
      overflow |= __builtin_mul_overflow(n_elems, v, &n_elems);
    }
    const uint32_t type_id = c.u32(who + " type");
    t.type = find_ggml_type(type_id);
    if (!t.type) fail(who + " has unknown ggml type " + num(type_id));
    t.offset = c.u64(who + " offset");
    // Zero elements is fine whatever the other dims; otherwise the count must be an int64.
    const bool empty = std::find(t.dims.begin(), t.dims.end(), uint64_t{0}) != t.dims.end();
    if (!empty && (overflow || n_elems > kMaxDim))
      fail(who + " shape " + dims_str(t.dims) + " has more than 2^63 - 1 elements");
    if (empty) n_elems = 0;
    const uint64_t row = t.dims.empty() ? 1 : t.dims[0];
    if (row % t.type->block != 0)
      fail(who + " of type " + t.type->name + " has " + num(row) + " elements per row, not a multiple of its block size " +
           num(t.type->block));
    if (__builtin_mul_overflow(n_elems / t.type->block, uint64_t{t.type->type_size}, &t.size))
      fail(who + " shape " + dims_str(t.dims) + " of " + t.type->name + " overflows 64 bits in size");
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t data_start = (c.pos() + alignment - 1) / alignment * alignment;  // pos <= size: no overflow
  if (n_tensors > 0 && data_start > file.size())
    fail("data section would start at offset " + num(data_start) + ", past the end of the file (" +
         num(file.size()) + " bytes)");
  for (Info& t : infos) {
    const std::string who = "tensor '" + std::string(t.name) + "'";
    if (t.offset % alignment != 0)
      fail(who + " offset " + num(t.offset) + " is not a multiple of the alignment (" + num(alignment) + ")");
    if (t.offset > file.size() - data_start || t.size > file.size() - data_start - t.offset)
      fail(who + " data [" + num(t.offset) + ", +" + num(t.size) + ") in the data section at offset " +
           num(data_start) + " runs past the end of the file (" + num(file.size()) + " bytes)");
    t.file_offset = data_start + t.offset;
  }

  // Regions in file order; zero-size tensors first at a shared offset.
  std::vector<size_t> order(infos.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (infos[a].file_offset != infos[b].file_offset) return infos[a].file_offset < infos[b].file_offset;
    if (infos[a].size != infos[b].size) return infos[a].size < infos[b].size;
    return a < b;
  });
  FileLayout layout;
  layout.format = "gguf";
  layout.regions.reserve(infos.size());
  std::vector<size_t> region_of(infos.size());
  const Info* prev = nullptr;
  for (size_t i : order) {
    const Info& t = infos[i];
    if (prev && t.file_offset < prev->file_offset + prev->size)
      fail("tensor '" + std::string(t.name) + "' data [" + num(t.offset) + ", +" + num(t.size) + ") overlaps tensor '" +
           std::string(prev->name) + "' [" + num(prev->offset) + ", +" + num(prev->size) + ")");
    prev = &t;
    region_of[i] = layout.regions.size();
    layout.regions.push_back(Region{t.file_offset, t.size, t.type->codec, std::string(t.name)});
  }
  layout.tensors.reserve(infos.size());
  for (size_t i = 0; i < infos.size(); ++i) {
    const Info& t = infos[i];
    Tensor out;
    out.name = std::string(t.name);
    out.dtype = t.type->name;
    out.shape.assign(t.dims.rbegin(), t.dims.rend());  // outermost first, like GGUFReader's data.shape
    out.region = region_of[i];
    out.size = t.size;
    out.element_size = t.type->block == 1 ? t.type->type_size : 0;
    layout.tensors.push_back(std::move(out));
  }
  return layout;
}

}  // namespace tenzip::formats
