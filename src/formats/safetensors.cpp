// safetensors: a u64 little-endian header length N, N bytes of UTF-8 JSON, then the data section.
// The JSON maps each tensor name to {dtype, shape, data_offsets [begin, end)} (offsets into the
// data section), with an optional "__metadata__" string->string map.
//
// Validation follows the reference (huggingface/safetensors 0.8, Rust crate and Python package):
// N <= 100,000,000 and N <= file size - 8; the header is UTF-8 and a JSON object (nesting capped
// where serde_json caps it); tensors sorted by data_offsets must tile the data section from 0 to
// its end with no hole and no overlap; each tensor's byte size is prod(shape) x dtype bits / 8
// with 64-bit overflow checks and whole bytes for the sub-byte dtypes (F4, F6_*). Stricter than
// the reference, which keeps the last of two equal keys: a key repeated in any JSON object is
// rejected. Also stricter: a tensor entry must be a JSON object (serde also takes a 3-array).
#include <algorithm>
#include <cstring>
#include <string>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/layout.hpp"

namespace tenzip::formats {

namespace {

using Json = nlohmann::json;

constexpr uint64_t kMaxHeaderSize = 100'000'000;  // the reference's MAX_HEADER_SIZE
// serde_json's recursion limit: 128 nested arrays/objects fail, 127 parse.
constexpr int kMaxJsonDepth = 127;

struct StDType {
  const char* name;
  uint32_t bits;  // per element
  DType codec;
};
// Every dtype the reference knows (its Dtype enum, in its order).
constexpr StDType kDTypes[] = {
    {"BOOL", 8, DType::bytes},         {"F4", 4, DType::bytes},           {"F6_E2M3", 6, DType::bytes},
    {"F6_E3M2", 6, DType::bytes},      {"U8", 8, DType::bytes},           {"I8", 8, DType::bytes},
    {"F8_E5M2", 8, DType::fp8_e5m2},   {"F8_E4M3", 8, DType::fp8_e4m3},   {"F8_E8M0", 8, DType::bytes},
    {"F8_E4M3FNUZ", 8, DType::bytes},  {"F8_E5M2FNUZ", 8, DType::bytes},  {"I16", 16, DType::bytes},
    {"U16", 16, DType::bytes},         {"F16", 16, DType::fp16},          {"BF16", 16, DType::bf16},
    {"I32", 32, DType::bytes},         {"U32", 32, DType::bytes},         {"F32", 32, DType::fp32},
    {"C64", 64, DType::bytes},         {"F64", 64, DType::bytes},         {"I64", 64, DType::bytes},
    {"U64", 64, DType::bytes},
};

[[noreturn]] void fail(const std::string& what) { throw Error(Errc::corrupt_input, "safetensors: " + what); }

std::string num(uint64_t v) { return std::to_string(v); }

std::string range(uint64_t begin, uint64_t end) {
  std::string s = "[";  // appended, not "[" + ...: GCC 12 warns falsely (-Wrestrict) on that
  s += num(begin);
  s += ", ";
  s += num(end);
  return s + ")";
}

std::string shape_str(const std::vector<uint64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + num(shape[i]);
  return s + "]";
}

uint64_t load_u64le(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = v << 8 | p[i];
  return v;
}

// Offset of the first byte that breaks UTF-8 (as Rust's str::from_utf8 judges it: no overlong
// forms, no surrogates, nothing above U+10FFFF), or s.size() if there is none.
size_t utf8_error_at(std::span<const uint8_t> s) noexcept {
  size_t i = 0;
  while (i < s.size()) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (c == 0xe0) lo = 0xa0;
      if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f;
    } else {
      return i;
    }
    if (s.size() - i < n) return i;
    if (s[i + 1] < lo || s[i + 1] > hi) return i;
    for (size_t k = 2; k < n; ++k)
      if (s[i + k] < 0x80 || s[i + k] > 0xbf) return i;
    i += n;
  }
  return s.size();
}

bool is_json_space(uint8_t c) noexcept { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Parses the header text. The callback caps the nesting depth (nlohmann's parser is iterative,
// but a deep DOM is wasteful and the reference refuses it) and rejects repeated keys, which
// nlohmann would silently overwrite.
Json parse_json(std::span<const uint8_t> text) {
  struct Open {
    std::unordered_set<std::string> keys;
    std::string last_key;
  };
  std::vector<Open> objects;  // the open JSON objects, innermost last
  const auto cb = [&](int depth, Json::parse_event_t event, Json& parsed) -> bool {
    switch (event) {
      case Json::parse_event_t::object_start:
      case Json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth)
          fail("header JSON nests deeper than " + num(kMaxJsonDepth) + " levels (the reference's limit)");
        if (event == Json::parse_event_t::object_start) objects.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!objects.empty()) objects.pop_back();
        break;
      case Json::parse_event_t::key: {
        Open& o = objects.back();
        o.last_key = parsed.get<std::string>();
        if (!o.keys.insert(o.last_key).second) {
          const std::string& k = o.last_key;
          if (depth == 1) fail(k == "__metadata__" ? "__metadata__ appears twice" : "duplicate tensor name '" + k + "'");
          if (depth == 2 && objects.size() == 2) {
            const std::string& parent = objects[0].last_key;
            if (parent == "__metadata__") fail("__metadata__: duplicate key '" + k + "'");
            fail("tensor '" + parent + "': duplicate field '" + k + "'");
          }
          fail("header JSON: duplicate key '" + k + "'");
        }
        break;
      }
      default:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.data(), text.data() + text.size(), cb);
  } catch (const Json::exception& e) {
    fail(std::string("header is not valid JSON: ") + e.what());
  }
}

struct Entry {
  std::string name;
  const StDType* dtype = nullptr;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
};

// An unsigned JSON integer. Like serde's usize: "-0", "2.0" and 1e3 are not integers.
uint64_t as_u64(const Json& v, const std::string& who, const char* what) {
  if (!v.is_number_unsigned()) fail(who + ": " + what + " must be a non-negative integer, got " + v.dump());
  return v.get<uint64_t>();
}

Entry read_entry(const std::string& name, const Json& info) {
  const std::string who = "tensor '" + name + "'";
  if (!info.is_object()) fail(who + ": entry must be a JSON object, got " + std::string(info.type_name()));
  Entry e;
  e.name = name;
  // Unknown fields are ignored, as by the reference.
  const auto dtype = info.find("dtype");
  if (dtype == info.end()) fail(who + ": missing field 'dtype'");
  if (!dtype->is_string()) fail(who + ": dtype must be a string, got " + dtype->dump());
  const std::string& dn = dtype->get_ref<const std::string&>();
  for (const StDType& d : kDTypes)
    if (dn == d.name) e.dtype = &d;
  if (!e.dtype) fail(who + ": unknown dtype \"" + dn + "\"");

  const auto shape = info.find("shape");
  if (shape == info.end()) fail(who + ": missing field 'shape'");
  if (!shape->is_array()) fail(who + ": shape must be an array, got " + std::string(shape->type_name()));
  e.shape.reserve(shape->size());
  for (const Json& d : *shape) e.shape.push_back(as_u64(d, who, "each shape dimension"));

  const auto offs = info.find("data_offsets");
  if (offs == info.end()) fail(who + ": missing field 'data_offsets'");
  if (!offs->is_array() || offs->size() != 2) fail(who + ": data_offsets must be an array of 2 integers");
  e.begin = as_u64((*offs)[0], who, "data_offsets[0]");
  e.end = as_u64((*offs)[1], who, "data_offsets[1]");
  return e;
}

void check_metadata(const Json& meta) {
  if (meta.is_null()) return;  // the reference reads `null` as "no metadata"
  if (!meta.is_object()) fail("__metadata__ must be a map of strings, got " + std::string(meta.type_name()));
  for (const auto& [k, v] : meta.items())
    if (!v.is_string()) fail("__metadata__: value of '" + k + "' must be a string, got " + std::string(v.type_name()));
}

// Bytes of `e`'s data from its shape and dtype; throws on overflow or a partial last byte.
uint64_t byte_size(const Entry& e) {
  const std::string who = "tensor '" + e.name + "'";
  uint64_t n = 1;
  for (uint64_t d : e.shape)
    if (__builtin_mul_overflow(n, d, &n)) fail(who + ": shape " + shape_str(e.shape) + " overflows 64 bits");
  uint64_t bits;
  if (__builtin_mul_overflow(n, uint64_t{e.dtype->bits}, &bits))
    fail(who + ": shape " + shape_str(e.shape) + " of " + e.dtype->name + " overflows 64 bits in size");
  if (bits % 8 != 0)
    fail(who + ": " + num(n) + " " + e.dtype->name + " elements do not fill a whole number of bytes");
  return bits / 8;
}

}  // namespace

// A plausible header length followed by a JSON object's opening brace. The length may run past
// the end of the file: a truncated safetensors file is then reported by the parser, not stored
// as unrelated bytes.
bool looks_like_safetensors(std::span<const uint8_t> file) noexcept {
  if (file.size() < 9) return false;
  const uint64_t n = load_u64le(file.data());
  if (n < 2 || n > kMaxHeaderSize) return false;
  const uint64_t end = std::min<uint64_t>(8 + n, file.size());
  for (uint64_t i = 8; i < end; ++i)
    if (!is_json_space(file[i])) return file[i] == '{';
  return false;
}

FileLayout parse_safetensors(std::span<const uint8_t> file) {
  if (file.size() < 8)
    fail("file is " + num(file.size()) + " bytes, too short for the 8-byte header length");
  const uint64_t n = load_u64le(file.data());
  if (n > kMaxHeaderSize) fail("header length " + num(n) + " exceeds the limit of " + num(kMaxHeaderSize) + " bytes");
  if (n > file.size() - 8)
    fail("header length " + num(n) + " runs past the end of the file (" + num(file.size() - 8) +
         " bytes follow the length)");
  const auto text = file.subspan(8, n);
  if (const size_t bad = utf8_error_at(text); bad != text.size())
    fail("header is not valid UTF-8 (byte " + num(bad) + " of the header)");

  // Where nlohmann is laxer than serde_json: it skips a leading byte-order mark, and takes a raw
  // NUL (which JSON never holds) for the end of the input.
  if (text.size() >= 3 && text[0] == 0xef && text[1] == 0xbb && text[2] == 0xbf)
    fail("header is not valid JSON: it starts with a UTF-8 byte-order mark");
  if (const auto nul = std::find(text.begin(), text.end(), uint8_t{0}); nul != text.end())
    fail("header is not valid JSON: a NUL byte at byte " + num(uint64_t(nul - text.begin())) + " of the header");
  const Json header = parse_json(text);
  if (!header.is_object()) fail("header must be a JSON object, got " + std::string(header.type_name()));

  std::vector<Entry> entries;
  entries.reserve(header.size());
  for (const auto& [key, value] : header.items()) {
    if (key == "__metadata__") check_metadata(value);
    else entries.push_back(read_entry(key, value));
  }

  // Offset order, as the reference checks it; zero-size tensors at one offset by name.
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.begin != b.begin) return a.begin < b.begin;
    if (a.end != b.end) return a.end < b.end;
    return a.name < b.name;
  });

  const uint64_t data_start = 8 + n;
  const uint64_t data_size = file.size() - data_start;
  FileLayout layout;
  layout.format = "safetensors";
  layout.regions.reserve(entries.size());
  layout.tensors.reserve(entries.size());
  uint64_t covered = 0;  // the data section [0, covered) is tiled by the tensors so far
  const Entry* prev = nullptr;
  for (const Entry& e : entries) {
    const std::string who = "tensor '" + e.name + "'";
    if (e.end < e.begin) fail(who + ": data_offsets " + range(e.begin, e.end) + " end before they begin");
    if (e.end > data_size)
      fail(who + ": data_offsets " + range(e.begin, e.end) + " run past the end of the data section (" +
           num(data_size) + " bytes)");
    if (e.begin > covered)
      fail("data section bytes " + range(covered, e.begin) + " belong to no tensor (a hole before " + who + ")");
    if (e.begin < covered)
      fail(who + ": data_offsets " + range(e.begin, e.end) + " overlap tensor '" + prev->name + "' " +
           range(prev->begin, prev->end));
    const uint64_t size = byte_size(e);
    if (e.end - e.begin != size)
      fail(who + ": data_offsets " + range(e.begin, e.end) + " hold " + num(e.end - e.begin) + " bytes but shape " +
           shape_str(e.shape) + " of " + e.dtype->name + " needs " + num(size));
    covered = e.end;
    prev = &e;

    Region r;
    r.offset = data_start + e.begin;
    r.size = size;
    r.dtype = e.dtype->codec;
    r.name = e.name;
    layout.regions.push_back(std::move(r));
    Tensor t;
    t.name = e.name;
    t.dtype = e.dtype->name;
    t.shape = e.shape;
    t.region = layout.regions.size() - 1;
    t.size = size;
    t.element_size = e.dtype->bits % 8 == 0 ? e.dtype->bits / 8 : 0;  // sub-byte dtypes have none
    layout.tensors.push_back(std::move(t));
  }
  if (covered != data_size)
    fail("data section bytes " + range(covered, data_size) + " at its end belong to no tensor");
  return layout;
}

}  // namespace tenzip::formats
