// TFLite: a FlatBuffer (tensorflow/lite/schema/schema.fbs, schema version 3) with the file
// identifier "TFL3" at byte 4. Model.buffers[i].data holds the raw LE bytes of constant
// tensors; in files over 2 GB, Buffer.offset/size point to data stored after the flatbuffer
// instead. Model.subgraphs[].tensors[] say which buffer each tensor uses, with its type, shape
// and name. One region per non-empty buffer; one tensor per tensor that uses one.
//
// The reader follows only the fields it needs and checks every offset, vtable and length
// against the file (like flatbuffers::Verifier). Offsets only point forward, so nothing can
// loop; a table shared by many vector entries could still make a small file describe a huge
// model, so the work done and the names and shapes copied out are capped by the file size.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "container/format.hpp"
#include "formats/layout.hpp"
#include "formats/protobuf_wire.hpp"

namespace tenzip::formats {

namespace {

constexpr uint32_t kSchemaVersion = 3;

// Field ids from schema.fbs (vtable slot = 4 + 2 * id).
namespace model_f { constexpr unsigned version = 0, subgraphs = 2, buffers = 4, metadata = 6; }
namespace subgraph_f { constexpr unsigned tensors = 0; }
namespace tensor_f { constexpr unsigned shape = 0, type = 1, buffer = 2, name = 3, sparsity = 6; }
namespace buffer_f { constexpr unsigned data = 0, offset = 1, size = 2; }
namespace metadata_f { constexpr unsigned name = 0, buffer = 1; }

// TensorType: name, bytes per element (0: no fixed size), how the codec splits it. INT4 is
// packed two per byte by recent converters and one per byte by older ones: not checked.
struct TypeInfo {
  const char* name;
  uint32_t size;
  DType dtype;
};
constexpr TypeInfo kTypes[] = {
    {"FLOAT32", 4, DType::fp32},  {"FLOAT16", 2, DType::fp16},    {"INT32", 4, DType::bytes},
    {"UINT8", 1, DType::bytes},   {"INT64", 8, DType::bytes},     {"STRING", 0, DType::bytes},
    {"BOOL", 1, DType::bytes},    {"INT16", 2, DType::bytes},     {"COMPLEX64", 8, DType::bytes},
    {"INT8", 1, DType::bytes},    {"FLOAT64", 8, DType::bytes},   {"COMPLEX128", 16, DType::bytes},
    {"UINT64", 8, DType::bytes},  {"RESOURCE", 0, DType::bytes},  {"VARIANT", 0, DType::bytes},
    {"UINT32", 4, DType::bytes},  {"UINT16", 2, DType::bytes},    {"INT4", 0, DType::bytes},
    {"BFLOAT16", 2, DType::bf16},
};

std::string num(uint64_t v) { return std::to_string(v); }

// What is being read, for messages ("subgraph 0 tensor 12").
struct Where {
  const char* kind;  // "model", "buffer", "subgraph", "tensor", "metadata"
  uint64_t a = 0, b = 0;
  std::string text() const {
    const std::string k = kind;
    if (k == "model") return k;
    if (k == "tensor") return "subgraph " + num(a) + " tensor " + num(b);
    return k + " " + num(a);
  }
};

[[noreturn]] void fail(const Where& w, const std::string& what) {
  throw Error(Errc::corrupt_input, "tflite: " + w.text() + ": " + what);
}
[[noreturn]] void fail(const std::string& what) { throw Error(Errc::corrupt_input, "tflite: " + what); }

// Bounds-checked access to a flatbuffer.
class Flat {
 public:
  struct Table {
    uint64_t pos = 0;
    uint64_t vtable = 0;
    uint32_t vtable_size = 0;
    uint32_t size = 0;  // inline bytes of the table
  };
  struct Vector {
    uint64_t data = 0;   // first element
    uint64_t count = 0;
  };

  explicit Flat(std::span<const uint8_t> file) : b_(file) {}

  // Callers check bounds first.
  uint8_t u8(uint64_t p) const { return b_[p]; }
  uint16_t u16(uint64_t p) const { return detail::load_u16(&b_[p]); }
  uint32_t u32(uint64_t p) const { return detail::load_u32(&b_[p]); }
  uint64_t u64(uint64_t p) const { return detail::load_u64(&b_[p]); }
  uint64_t size() const { return b_.size(); }

  // The uoffset at `at` (already checked to lie inside the file) and where it points.
  uint64_t follow(uint64_t at, const Where& w, const char* what) const {
    const uint32_t o = u32(at);
    // As flatbuffers::Verifier: not to itself, not negative as a signed offset, inside the file.
    if (o == 0) fail(w, std::string(what) + ": offset 0 at " + num(at) + " points to itself");
    if (o > INT32_MAX || at + o >= size())
      fail(w, std::string(what) + ": offset " + num(o) + " at " + num(at) + " points outside the file (" +
                  num(size()) + " bytes)");
    return at + o;
  }

  Table table(uint64_t pos, const Where& w, const char* what) const {
    if (pos > size() || size() - pos < 4)
      fail(w, std::string(what) + " table at offset " + num(pos) + " runs past the end of the file");
    const auto so = static_cast<int32_t>(u32(pos));
    const int64_t vt = static_cast<int64_t>(pos) - so;
    if (vt < 0 || static_cast<uint64_t>(vt) > size() || size() - static_cast<uint64_t>(vt) < 4)
      fail(w, std::string(what) + " table at offset " + num(pos) + ": its vtable offset " + std::to_string(so) +
                  " points outside the file");
    Table t;
    t.pos = pos;
    t.vtable = static_cast<uint64_t>(vt);
    t.vtable_size = u16(t.vtable);
    t.size = u16(t.vtable + 2);
    if (t.vtable_size < 4 || t.vtable_size % 2 || t.vtable_size > size() - t.vtable)
      fail(w, std::string(what) + " table at offset " + num(pos) + ": vtable at " + num(t.vtable) + " has size " +
                  num(t.vtable_size) + " (even, >= 4 and inside the file expected)");
    if (t.size < 4 || t.size > size() - pos)
      fail(w, std::string(what) + " table at offset " + num(pos) + ": its size " + num(t.size) +
                  " is below 4 or runs past the end of the file");
    return t;
  }

  // File offset of field `id` (of `width` bytes) in table t, or 0 when the field is absent.
  uint64_t field(const Table& t, unsigned id, unsigned width, const Where& w, const char* name) const {
    const uint64_t slot = 4 + 2 * uint64_t{id};
    if (slot + 2 > t.vtable_size) return 0;
    const uint16_t fo = u16(t.vtable + slot);
    if (fo == 0) return 0;
    if (fo < 4 || fo + width > t.size)
      fail(w, std::string("field ") + name + ": vtable entry " + num(fo) + " lies outside its table (" +
                  num(t.size) + " bytes)");
    return t.pos + fo;
  }

  template <class T>
  T scalar(const Table& t, unsigned id, T dflt, const Where& w, const char* name) const {
    const uint64_t p = field(t, id, sizeof(T), w, name);
    if (!p) return dflt;
    if constexpr (sizeof(T) == 1) return static_cast<T>(u8(p));
    else if constexpr (sizeof(T) == 4) return static_cast<T>(u32(p));
    else return static_cast<T>(u64(p));
  }

  // A vector field of `elem`-byte elements; absent: empty.
  Vector vector(const Table& t, unsigned id, unsigned elem, const Where& w, const char* name) const {
    const uint64_t p = field(t, id, 4, w, name);
    if (!p) return {};
    return vector_at(follow(p, w, name), elem, w, name);
  }
  Vector vector_at(uint64_t v, unsigned elem, const Where& w, const char* name) const {
    if (size() - v < 4) fail(w, std::string(name) + ": vector at offset " + num(v) + " runs past the end of the file");
    Vector out{v + 4, u32(v)};
    if (out.count * elem > size() - out.data)
      fail(w, std::string(name) + ": vector at offset " + num(v) + " of " + num(out.count) + " x " + num(elem) +
                  " bytes runs past the end of the file (" + num(size()) + " bytes)");
    return out;
  }
  std::string_view string(const Table& t, unsigned id, const Where& w, const char* name) const {
    const Vector v = vector(t, id, 1, w, name);
    if (!v.data) return {};
    // Strings end with a NUL that is not counted, as the verifier requires.
    if (v.data + v.count >= size() || b_[v.data + v.count] != 0)
      fail(w, std::string(name) + ": string at offset " + num(v.data - 4) + " has no terminating NUL");
    return {reinterpret_cast<const char*>(&b_[v.data]), static_cast<size_t>(v.count)};
  }
  // Element i of a vector of tables.
  Table table_at(const Vector& v, uint64_t i, const Where& w, const char* what) const {
    return table(follow(v.data + 4 * i, w, what), w, what);
  }

 private:
  std::span<const uint8_t> b_;
};

struct Buffer {
  uint64_t offset = 0, size = 0;
  int type = -1;           // TensorType of its users; -1: none yet
  bool mixed = false;      // users disagree on the type
  std::string name;        // first user's name, or a metadata name
};

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> file)
      : f_(file), file_(file), budget_(16 * static_cast<uint64_t>(file.size()) + (uint64_t{1} << 20)) {}

  FileLayout run() {
    out_.format = "tflite";
    if (f_.size() < 8) fail("file of " + num(f_.size()) + " bytes is too short for a FlatBuffer with an identifier");
    if (std::memcmp(file_.data() + 4, "TFL3", 4) != 0) fail("file identifier at byte 4 is not \"TFL3\"");
    const Where w{"model"};
    const Flat::Table model = f_.table(f_.follow(0, w, "root"), w, "Model");
    const uint32_t version = f_.scalar<uint32_t>(model, model_f::version, 0, w, "version");
    if (version != kSchemaVersion)
      fail(w, "schema version " + num(version) + " is not supported (only " + num(kSchemaVersion) + ")");
    buffers(model);
    subgraphs(model);
    metadata(model);
    regions();
    return std::move(out_);
  }

 private:
  void charge(const Where& w, uint64_t bytes) {
    if (bytes > budget_)
      fail(w, "tensor names and shapes add up to more than 16 times the file size (" + num(f_.size()) +
                  " bytes): tables shared abusively");
    budget_ -= bytes;
  }

  void buffers(const Flat::Table& model) {
    const Flat::Vector v = f_.vector(model, model_f::buffers, 4, Where{"model"}, "buffers");
    bufs_.resize(v.count);
    for (uint64_t i = 0; i < v.count; ++i) {
      const Where w{"buffer", i};
      const Flat::Table t = f_.table_at(v, i, w, "Buffer");
      const Flat::Vector data = f_.vector(t, buffer_f::data, 1, w, "data");
      const uint64_t offset = f_.scalar<uint64_t>(t, buffer_f::offset, 0, w, "offset");
      const uint64_t size = f_.scalar<uint64_t>(t, buffer_f::size, 0, w, "size");
      Buffer& b = bufs_[i];
      // As the TFLite loader: offset > 1 means the data lies outside the flatbuffer (offset 1
      // is a placeholder the converter writes before it knows where the data goes).
      if (offset > 1) {
        if (data.count)
          fail(w, "has both inline data (" + num(data.count) + " bytes) and an offset (" + num(offset) + ")");
        if (offset > f_.size() || size > f_.size() - offset)
          fail(w, "data [" + num(offset) + ", +" + num(size) + ") lies outside the file (" + num(f_.size()) +
                      " bytes)");
        b.offset = offset, b.size = size;
      } else {
        b.offset = data.data, b.size = data.count;
      }
    }
  }

  void subgraphs(const Flat::Table& model) {
    const Flat::Vector v = f_.vector(model, model_f::subgraphs, 4, Where{"model"}, "subgraphs");
    // Each tensor entry takes 4 bytes of the file unless tables are shared: more entries than
    // that means a small file posing as a huge model.
    uint64_t entries = 0;
    for (uint64_t s = 0; s < v.count; ++s) {
      const Where ws{"subgraph", s};
      const Flat::Table sg = f_.table_at(v, s, ws, "SubGraph");
      const Flat::Vector tensors = f_.vector(sg, subgraph_f::tensors, 4, ws, "tensors");
      entries += tensors.count;
      if (entries > f_.size() / 4)
        fail(ws, "the subgraphs list " + num(entries) + " tensors, more than a " + num(f_.size()) +
                     "-byte file holds: SubGraph tables are shared");
      for (uint64_t i = 0; i < tensors.count; ++i) tensor(f_.table_at(tensors, i, Where{"tensor", s, i}, "Tensor"), s, i);
    }
  }

  void tensor(const Flat::Table& t, uint64_t s, uint64_t i) {
    const Where w{"tensor", s, i};
    const uint32_t buffer = f_.scalar<uint32_t>(t, tensor_f::buffer, 0, w, "buffer");
    const uint8_t type = f_.scalar<uint8_t>(t, tensor_f::type, 0, w, "type");
    if (buffer >= bufs_.size())
      fail(w, "buffer index " + num(buffer) + " is out of range (" + num(bufs_.size()) + " buffers)");
    Buffer& b = bufs_[buffer];
    if (b.size == 0) return;  // no data: an activation, an input, or the empty buffer 0

    const std::string_view file_name = f_.string(t, tensor_f::name, w, "name");
    const Flat::Vector shape = f_.vector(t, tensor_f::shape, 4, w, "shape");
    const bool sparse = f_.field(t, tensor_f::sparsity, 4, w, "sparsity") != 0;
    std::string name = file_name.empty() ? w.text() : std::string(file_name);
    charge(w, 8 * shape.count + 2 * name.size());

    Tensor out;
    const TypeInfo* info = type < std::size(kTypes) ? &kTypes[type] : nullptr;
    out.dtype = info ? info->name : "TYPE_" + num(type);
    out.shape.reserve(shape.count);
    uint64_t n = 1;
    bool overflow = false;
    for (uint64_t k = 0; k < shape.count; ++k) {
      const auto d = static_cast<int32_t>(f_.u32(shape.data + 4 * k));
      if (d < 0) fail(w, "tensor " + pb::quoted(name) + ": shape[" + num(k) + "] = " + std::to_string(d) + " is negative");
      out.shape.push_back(static_cast<uint64_t>(d));
      overflow |= __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n);
    }
    // The TFLite loader requires a dense constant to fill its buffer exactly. A sparse one
    // holds only its non-zero values; strings and resources have no fixed size.
    if (info && info->size && !sparse) {
      uint64_t need;
      if (overflow || __builtin_mul_overflow(n, uint64_t{info->size}, &need) || need != b.size)
        fail(w, "tensor " + pb::quoted(name) + ": shape " + shape_text(out.shape) + " of " + out.dtype + " needs " +
                    (overflow ? std::string("more than 2^64") : num(n) + " x " + num(info->size)) + " bytes, but buffer " +
                    num(buffer) + " holds " + num(b.size));
    }
    if (b.type < 0) b.type = type;
    else if (b.type != type) b.mixed = true;
    if (b.name.empty()) b.name = name;

    out.name = std::move(name);
    out.region = buffer;  // a buffer index until regions() numbers the regions
    out.size = b.size;
    out.element_size = info ? info->size : 0;
    out_.tensors.push_back(std::move(out));
  }

  // Metadata entries name the buffers no tensor uses ("min_runtime_version", ...).
  void metadata(const Flat::Table& model) {
    const Flat::Vector v = f_.vector(model, model_f::metadata, 4, Where{"model"}, "metadata");
    for (uint64_t i = 0; i < v.count; ++i) {
      const Where w{"metadata", i};
      const Flat::Table t = f_.table_at(v, i, w, "Metadata");
      const std::string_view name = f_.string(t, metadata_f::name, w, "name");
      const uint32_t buffer = f_.scalar<uint32_t>(t, metadata_f::buffer, 0, w, "buffer");
      if (buffer >= bufs_.size())
        fail(w, pb::quoted(name) + ": buffer index " + num(buffer) + " is out of range (" + num(bufs_.size()) + " buffers)");
      Buffer& b = bufs_[buffer];
      if (b.name.empty() && b.size && !name.empty()) {
        charge(w, name.size());
        b.name = name;
      }
    }
  }

  void regions() {
    std::vector<size_t> order;
    for (size_t i = 0; i < bufs_.size(); ++i)
      if (bufs_[i].size) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return bufs_[a].offset != bufs_[b].offset ? bufs_[a].offset < bufs_[b].offset : a < b;
    });
    std::vector<size_t> region_of(bufs_.size());
    for (size_t k = 0; k < order.size(); ++k) {
      Buffer& b = bufs_[order[k]];
      if (k) {
        const Buffer& prev = bufs_[order[k - 1]];
        if (b.offset < prev.offset + prev.size)
          fail("buffers " + num(order[k - 1]) + " [" + num(prev.offset) + ", +" + num(prev.size) + ") and " +
               num(order[k]) + " [" + num(b.offset) + ", +" + num(b.size) + ") overlap");
      }
      // One dtype per region: from its tensors when they agree and fill it with whole elements.
      DType dtype = DType::bytes;
      if (b.type >= 0 && !b.mixed && static_cast<size_t>(b.type) < std::size(kTypes)) {
        dtype = kTypes[b.type].dtype;
        if (b.size % dtype_size(dtype)) dtype = DType::bytes;
      }
      region_of[order[k]] = k;
      out_.regions.push_back(Region{b.offset, b.size, dtype, b.name.empty() ? "buffer " + num(order[k]) : b.name});
    }
    for (Tensor& t : out_.tensors) t.region = region_of[t.region];
  }

  static std::string shape_text(const std::vector<uint64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size() && i < 8; ++i) s += (i ? ", " : "") + num(shape[i]);
    return s + (shape.size() > 8 ? ", ...]" : "]");
  }

  Flat f_;
  std::span<const uint8_t> file_;
  uint64_t budget_;
  std::vector<Buffer> bufs_;
  FileLayout out_;
};

}  // namespace

bool looks_like_tflite(std::span<const uint8_t> file) noexcept {
  return file.size() >= 8 && std::memcmp(file.data() + 4, "TFL3", 4) == 0;
}

FileLayout parse_tflite(std::span<const uint8_t> file) { return Parser(file).run(); }

}  // namespace tenzip::formats
