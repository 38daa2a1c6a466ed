// ONNX: the file is one protobuf ModelProto (onnx/onnx.proto). Weights are TensorProtos that can
// sit anywhere in the tree: graph initializers and sparse initializers, Constant (and other)
// node attributes, subgraphs of If/Loop/Scan at any depth, model-local functions and training
// graphs. Each tensor whose bytes lie contiguously in the file becomes one region:
//   raw_data                 -> the payload itself, dtype from data_type
//   packed float_data        -> fp32 (FLOAT) or bytes (COMPLEX64): packed fixed32 is raw LE floats
//   packed double_data       -> bytes (DOUBLE, COMPLEX128)
// Values held as varints (int32_data, which also carries fp16/bf16/fp8 bit patterns,
// int64_data, uint64_data), strings, unpacked or split typed fields, and data_location EXTERNAL
// (the bytes are in another file) give no region and no tensor: they stay in the gaps, which
// are coded as bytes.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "formats/layout.hpp"
#include "formats/protobuf_wire.hpp"

namespace tenzip::formats {

namespace {

using pb::Field;
using pb::kNoIndex;
using pb::Path;
using pb::Reader;
using pb::Wire;

constexpr std::string_view kFormat = "onnx";
// Nested messages, counted like libprotobuf's default recursion limit: a file it would refuse
// is refused here too, and a nesting bomb cannot exhaust the stack.
constexpr int kMaxDepth = 100;

std::string num(uint64_t v) { return std::to_string(v); }

// TensorProto.DataType: name, bits per element (0: no fixed size), how the codec splits it.
// FLOAT8E4M3FN and FLOAT8E5M2 are bit-identical to the OCP formats tenzip calls fp8_e4m3 and
// fp8_e5m2; the FNUZ variants have another bias and NaN/zero encoding, so they stay bytes.
struct TypeInfo {
  const char* name;
  uint32_t bits;
  DType dtype;
};
constexpr TypeInfo kTypes[] = {
    {"UNDEFINED", 0, DType::bytes},       {"FLOAT", 32, DType::fp32},        {"UINT8", 8, DType::bytes},
    {"INT8", 8, DType::bytes},            {"UINT16", 16, DType::bytes},      {"INT16", 16, DType::bytes},
    {"INT32", 32, DType::bytes},          {"INT64", 64, DType::bytes},       {"STRING", 0, DType::bytes},
    {"BOOL", 8, DType::bytes},            {"FLOAT16", 16, DType::fp16},      {"DOUBLE", 64, DType::bytes},
    {"UINT32", 32, DType::bytes},         {"UINT64", 64, DType::bytes},      {"COMPLEX64", 64, DType::bytes},
    {"COMPLEX128", 128, DType::bytes},    {"BFLOAT16", 16, DType::bf16},     {"FLOAT8E4M3FN", 8, DType::fp8_e4m3},
    {"FLOAT8E4M3FNUZ", 8, DType::bytes},  {"FLOAT8E5M2", 8, DType::fp8_e5m2}, {"FLOAT8E5M2FNUZ", 8, DType::bytes},
    {"UINT4", 4, DType::bytes},           {"INT4", 4, DType::bytes},         {"FLOAT4E2M1", 4, DType::bytes},
    {"FLOAT8E8M0", 8, DType::bytes},      {"UINT2", 2, DType::bytes},        {"INT2", 2, DType::bytes},
    {"FLOAT6E2M3", 6, DType::bytes},      {"FLOAT6E3M2", 6, DType::bytes},
};
constexpr int64_t kFloat = 1, kString = 8, kDouble = 11, kComplex64 = 14, kComplex128 = 15;

// Field numbers from onnx.proto.
namespace model_f { constexpr uint32_t ir_version = 1, graph = 7, training_info = 20, functions = 25; }
namespace graph_f { constexpr uint32_t node = 1, name = 2, initializer = 5, sparse_initializer = 15; }
namespace node_f { constexpr uint32_t output = 2, name = 3, op_type = 4, attribute = 5, domain = 7; }
namespace attr_f {
constexpr uint32_t name = 1, t = 5, g = 6, tensors = 10, graphs = 11, sparse_tensor = 22, sparse_tensors = 23;
}
namespace tensor_f {
constexpr uint32_t dims = 1, data_type = 2, float_data = 4, int32_data = 5, string_data = 6, int64_data = 7,
                   name = 8, raw_data = 9, double_data = 10, uint64_data = 11, data_location = 14;
}
namespace sparse_f { constexpr uint32_t values = 1, indices = 2, dims = 3; }
namespace function_f { constexpr uint32_t name = 1, node = 7, attribute_proto = 11; }
namespace training_f { constexpr uint32_t initialization = 1, algorithm = 2; }

// The name given to a tensor whose TensorProto has none; built only when needed.
struct NameHint {
  std::string_view base;        // node label, graph name, function name
  std::string_view what;        // attribute or list name; empty: `base` alone
  uint64_t index = kNoIndex;    // position in a repeated field
  std::string make() const {
    std::string s(base);
    if (!what.empty()) {
      if (!s.empty()) s += ':';
      s += what;
    }
    if (index != kNoIndex) s.append("[").append(num(index)).append("]");
    return s;
  }
};

// A tensor the parser emitted: its index in FileLayout::tensors, and whether its name came
// from the file (else from a NameHint, which a caller may refine).
struct Found {
  std::optional<size_t> tensor;
  bool named = false;
};

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> file)
      : file_(file), budget_(16 * static_cast<uint64_t>(file.size()) + (uint64_t{1} << 20)) {}

  FileLayout run() {
    out_.format = "onnx";
    Reader r(file_, 0, file_.size(), kFormat, nullptr);
    Field f;
    bool ir_version = false, graph_seen = false;
    uint64_t n_functions = 0, n_training = 0;
    while (r.next(f)) {
      switch (f.number) {
        case model_f::ir_version:
          r.expect(f, Wire::varint, "ir_version");
          ir_version = true;
          break;
        case model_f::graph:
          once(r, f, graph_seen, "graph");
          graph(r, f, nullptr, 2, "graph", kNoIndex);
          break;
        case model_f::training_info: training_info(r, f, nullptr, 2, n_training++); break;
        case model_f::functions: function(r, f, nullptr, 2, n_functions++); break;
        default: break;
      }
    }
    if (!ir_version) r.fail("no ir_version (field 1): not an ONNX model");
    if (!graph_seen) r.fail("no graph (field 7): not an ONNX model");
    sort_regions();
    return std::move(out_);
  }

 private:
  // A singular message field seen twice would be merged by protobuf; nothing writes that, and
  // a merged tensor is not one byte range, so refuse it.
  static void once(const Reader& r, const Field& f, bool& seen, std::string_view name) {
    r.expect(f, Wire::len, name);
    if (seen) r.fail("field " + std::string(name) + " (" + num(f.number) + ") appears twice (again at offset " +
                     num(f.offset) + ")");
    seen = true;
  }
  static void enter(const Reader& r, int depth) {
    if (depth > kMaxDepth) r.fail("messages nested deeper than " + num(kMaxDepth) + " levels");
  }
  // Names and shapes are copied out of the file; a file can make them grow faster than itself
  // (one long node name reused by many tensors), so their total is capped.
  void charge(const Reader& r, uint64_t bytes) {
    if (bytes > budget_)
      r.fail("tensor names and shapes add up to more than 16 times the file size (" + num(file_.size()) +
             " bytes): names repeated abusively");
    budget_ -= bytes;
  }

  // Last value of a string field, read by a first pass (for names used in messages).
  static std::string_view last_string(Reader r, uint32_t number, std::string_view field_name) {
    Field f;
    std::string_view s;
    while (r.next(f))
      if (f.number == number) {
        r.expect(f, Wire::len, field_name);
        s = r.string(f);
      }
    return s;
  }

  void graph(const Reader& parent, const Field& at, const Path* up, int depth, std::string_view kind, uint64_t index) {
    enter(parent, depth);
    Path me{up, kind, {}, index};
    me.name = last_string(parent.sub(at, &me), graph_f::name, "name");
    Reader r = parent.sub(at, &me);
    Field f;
    uint64_t n_nodes = 0, n_init = 0, n_sparse = 0;
    while (r.next(f)) {
      switch (f.number) {
        case graph_f::node:
          r.expect(f, Wire::len, "node");
          node(r, f, &me, depth + 1, n_nodes++);
          break;
        case graph_f::initializer: {
          r.expect(f, Wire::len, "initializer");
          const uint64_t i = n_init++;
          tensor(r, f, &me, depth + 1, "initializer", i, NameHint{me.name, "initializer", i});
          break;
        }
        case graph_f::sparse_initializer: {
          r.expect(f, Wire::len, "sparse_initializer");
          const uint64_t i = n_sparse++;
          sparse(r, f, &me, depth + 1, "sparse_initializer", i, NameHint{me.name, "sparse_initializer", i});
          break;
        }
        default: break;
      }
    }
  }

  void node(const Reader& parent, const Field& at, const Path* up, int depth, uint64_t index) {
    enter(parent, depth);
    // First pass: the node's name, type and first output, for messages and tensor names.
    Path me{up, "node", {}, index};
    std::string_view op_type, domain, output0;
    bool has_output = false;
    {
      Reader r = parent.sub(at, &me);
      Field f;
      while (r.next(f)) {
        switch (f.number) {
          case node_f::output:
            r.expect(f, Wire::len, "output");
            if (!has_output) output0 = r.string(f);
            has_output = true;
            break;
          case node_f::name: r.expect(f, Wire::len, "name"), me.name = r.string(f); break;
          case node_f::op_type: r.expect(f, Wire::len, "op_type"), op_type = r.string(f); break;
          case node_f::domain: r.expect(f, Wire::len, "domain"), domain = r.string(f); break;
          default: break;
        }
      }
    }
    // Unnamed tensors are named after the node: a Constant's value after its output (what
    // the graph calls it), anything else "<node name or first output>:<attribute>".
    std::string fallback_label;
    std::string_view label = !me.name.empty() ? me.name : output0;
    if (label.empty()) {
      fallback_label = std::string(op_type.empty() ? "node" : op_type) + "#" + num(index);
      label = fallback_label;
    }
    const bool constant = op_type == "Constant" && (domain.empty() || domain == "ai.onnx") && !output0.empty();
    Reader r = parent.sub(at, &me);
    Field f;
    uint64_t n_attr = 0;
    while (r.next(f))
      if (f.number == node_f::attribute) {
        r.expect(f, Wire::len, "attribute");
        attribute(r, f, &me, depth + 1, n_attr++, label, constant ? output0 : std::string_view{});
      }
  }

  // `constant_output`: set when this is an attribute of a Constant node.
  void attribute(const Reader& parent, const Field& at, const Path* up, int depth, uint64_t index,
                 std::string_view label, std::string_view constant_output) {
    enter(parent, depth);
    Path me{up, "attribute", {}, index};
    me.name = last_string(parent.sub(at, &me), attr_f::name, "name");
    Reader r = parent.sub(at, &me);
    Field f;
    bool t_seen = false, g_seen = false, sparse_seen = false;
    uint64_t n_tensors = 0, n_graphs = 0, n_sparse = 0;
    while (r.next(f)) {
      switch (f.number) {
        case attr_f::t: {
          once(r, f, t_seen, "t");
          const NameHint hint = constant_output.empty() || me.name != "value" ? NameHint{label, me.name}
                                                                              : NameHint{constant_output, {}};
          tensor(r, f, &me, depth + 1, "tensor", kNoIndex, hint);
          break;
        }
        case attr_f::g:
          once(r, f, g_seen, "g");
          graph(r, f, &me, depth + 1, "graph", kNoIndex);
          break;
        case attr_f::tensors: {
          r.expect(f, Wire::len, "tensors");
          const uint64_t i = n_tensors++;
          tensor(r, f, &me, depth + 1, "tensor", i, NameHint{label, me.name, i});
          break;
        }
        case attr_f::graphs:
          r.expect(f, Wire::len, "graphs");
          graph(r, f, &me, depth + 1, "graph", n_graphs++);
          break;
        case attr_f::sparse_tensor:
          once(r, f, sparse_seen, "sparse_tensor");
          sparse(r, f, &me, depth + 1, "sparse_tensor", kNoIndex, NameHint{label, me.name});
          break;
        case attr_f::sparse_tensors: {
          r.expect(f, Wire::len, "sparse_tensors");
          const uint64_t i = n_sparse++;
          sparse(r, f, &me, depth + 1, "sparse_tensor", i, NameHint{label, me.name, i});
          break;
        }
        default: break;
      }
    }
  }

  // SparseTensorProto: `values` (named like the sparse tensor) and `indices` are two tensors.
  void sparse(const Reader& parent, const Field& at, const Path* up, int depth, std::string_view kind, uint64_t index,
              const NameHint& hint) {
    enter(parent, depth);
    Path me{up, kind, {}, index};
    Reader r = parent.sub(at, &me);
    Field f;
    bool values_seen = false, indices_seen = false;
    Found values, indices;
    while (r.next(f)) {
      switch (f.number) {
        case sparse_f::values:
          once(r, f, values_seen, "values");
          values = tensor(r, f, &me, depth + 1, "values", kNoIndex, hint);
          break;
        case sparse_f::indices:
          once(r, f, indices_seen, "indices");
          indices = tensor(r, f, &me, depth + 1, "indices", kNoIndex, hint);  // renamed below
          break;
        case sparse_f::dims:
          if (f.wire != Wire::varint) r.expect(f, Wire::len, "dims");
          break;
        default: break;
      }
    }
    // Unnamed indices are "<values name>:indices", whichever of the two came first.
    if (indices.tensor && !indices.named) {
      std::string name = (values.tensor ? out_.tensors[*values.tensor].name : hint.make()) + ":indices";
      charge(r, 2 * name.size());
      Tensor& t = out_.tensors[*indices.tensor];
      out_.regions[t.region].name = name;
      t.name = std::move(name);
    }
  }

  void function(const Reader& parent, const Field& at, const Path* up, int depth, uint64_t index) {
    enter(parent, depth);
    Path me{up, "function", {}, index};
    me.name = last_string(parent.sub(at, &me), function_f::name, "name");
    Reader r = parent.sub(at, &me);
    Field f;
    uint64_t n_nodes = 0, n_attr = 0;
    while (r.next(f)) {
      if (f.number == function_f::node) {
        r.expect(f, Wire::len, "node");
        node(r, f, &me, depth + 1, n_nodes++);
      } else if (f.number == function_f::attribute_proto) {
        // Default values of the function's attributes.
        r.expect(f, Wire::len, "attribute_proto");
        attribute(r, f, &me, depth + 1, n_attr++, me.name, {});
      }
    }
  }

  void training_info(const Reader& parent, const Field& at, const Path* up, int depth, uint64_t index) {
    enter(parent, depth);
    parent.expect(at, Wire::len, "training_info");
    Path me{up, "training_info", {}, index};
    Reader r = parent.sub(at, &me);
    Field f;
    bool init_seen = false, algo_seen = false;
    while (r.next(f)) {
      if (f.number == training_f::initialization) {
        once(r, f, init_seen, "initialization");
        graph(r, f, &me, depth + 1, "initialization graph", kNoIndex);
      } else if (f.number == training_f::algorithm) {
        once(r, f, algo_seen, "algorithm");
        graph(r, f, &me, depth + 1, "algorithm graph", kNoIndex);
      }
    }
  }

  // One TensorProto. Emits a region and a tensor when its data lies contiguously in the file.
  Found tensor(const Reader& parent, const Field& at, const Path* up, int depth, std::string_view kind,
               uint64_t index, const NameHint& hint) {
    enter(parent, depth);
    Path me{up, kind, {}, index};
    Reader r = parent.sub(at, &me);
    Field f, raw, floats, doubles;
    std::vector<uint64_t> dims;
    uint64_t data_type = 0, location = 0;
    bool has_raw = false, unpacked_floats = false, unpacked_doubles = false;
    unsigned n_floats = 0, n_doubles = 0;
    std::string_view other;  // a typed field whose values are not raw bytes
    const auto dim = [&](uint64_t v) {
      if (static_cast<int64_t>(v) < 0)
        r.fail("dims[" + num(dims.size()) + "] = " + std::to_string(static_cast<int64_t>(v)) + " is negative");
      charge(r, sizeof v);
      dims.push_back(v);
    };
    while (r.next(f)) {
      switch (f.number) {
        case tensor_f::dims:
          if (f.wire == Wire::len) r.packed_varints(f, dim);
          else r.expect(f, Wire::varint, "dims"), dim(f.value);
          break;
        case tensor_f::data_type: r.expect(f, Wire::varint, "data_type"), data_type = f.value; break;
        case tensor_f::name: r.expect(f, Wire::len, "name"), me.name = r.string(f); break;
        case tensor_f::raw_data:
          // Protobuf keeps the last occurrence; an earlier one is just bytes in a gap.
          r.expect(f, Wire::len, "raw_data"), raw = f, has_raw = true;
          break;
        case tensor_f::data_location: r.expect(f, Wire::varint, "data_location"), location = f.value; break;
        case tensor_f::float_data:
          if (f.wire == Wire::i32) unpacked_floats = true;
          else r.expect(f, Wire::len, "float_data"), floats = f, ++n_floats;
          break;
        case tensor_f::double_data:
          if (f.wire == Wire::i64) unpacked_doubles = true;
          else r.expect(f, Wire::len, "double_data"), doubles = f, ++n_doubles;
          break;
        case tensor_f::int32_data:
        case tensor_f::int64_data:
        case tensor_f::uint64_data:
          if (f.wire != Wire::varint) r.expect(f, Wire::len, "typed data");
          other = f.number == tensor_f::int32_data ? "int32_data"
                  : f.number == tensor_f::int64_data ? "int64_data" : "uint64_data";
          break;
        case tensor_f::string_data: r.expect(f, Wire::len, "string_data"), other = "string_data"; break;
        default: break;
      }
    }

    if (data_type > INT32_MAX) r.fail("data_type " + std::to_string(static_cast<int64_t>(data_type)) + " is invalid");
    const TypeInfo* type = data_type < std::size(kTypes) ? &kTypes[data_type] : nullptr;
    const std::string type_name = type ? type->name : "DATA_TYPE_" + num(data_type);
    if (location == 1) return {};  // EXTERNAL: the data is in another file
    if (location != 0) r.fail("data_location " + num(location) + " is neither DEFAULT (0) nor EXTERNAL (1)");

    uint64_t n = 1;
    for (uint64_t d : dims)
      if (__builtin_mul_overflow(n, d, &n)) r.fail("dims " + dims_text(dims) + ": element count overflows 64 bits");

    const bool has_floats = n_floats || unpacked_floats, has_doubles = n_doubles || unpacked_doubles;
    const std::string_view typed = has_floats ? "float_data" : has_doubles ? "double_data" : other;
    uint64_t offset = 0, size = 0;
    DType dtype = type ? type->dtype : DType::bytes;
    if (has_raw) {
      if (!typed.empty()) r.fail("has both raw_data and " + std::string(typed));
      if (data_type == 0 || data_type == kString) r.fail("raw_data cannot hold a " + type_name + " tensor");
      if (type) {
        // Sub-byte types are packed: ceil(n * bits / 8) bytes.
        unsigned __int128 need = (static_cast<unsigned __int128>(n) * type->bits + 7) / 8;
        if (need != raw.size)
          r.fail("raw_data holds " + num(raw.size) + " bytes, but dims " + dims_text(dims) + " of " + type_name +
                 " need " + (need > UINT64_MAX ? std::string("more than 2^64") : num(static_cast<uint64_t>(need))));
      }
      offset = raw.data_offset, size = raw.size;
    } else if (has_floats || has_doubles) {
      if (has_floats && has_doubles) r.fail("has both float_data and double_data");
      const bool f32 = has_floats;
      const int64_t scalar = f32 ? kFloat : kDouble, complex = f32 ? kComplex64 : kComplex128;
      if (static_cast<int64_t>(data_type) != scalar && static_cast<int64_t>(data_type) != complex)
        r.fail(std::string(typed) + " cannot hold a " + type_name + " tensor");
      // Unpacked or split fields interleave tags with the values: not one byte range.
      if (unpacked_floats || unpacked_doubles || n_floats + n_doubles > 1) return {};
      const Field& data = f32 ? floats : doubles;
      const uint64_t width = f32 ? 4 : 8;
      if (data.size % width)
        r.fail(std::string(typed) + " holds " + num(data.size) + " bytes, not a whole number of " + num(width) +
               "-byte values");
      const uint64_t per = static_cast<int64_t>(data_type) == complex ? 2 : 1;
      if (data.size / width / per != n || (data.size / width) % per)
        r.fail(std::string(typed) + " holds " + num(data.size / width) + " values, but dims " + dims_text(dims) +
               " of " + type_name + " need " + num(n) + (per == 2 ? " pairs" : ""));
      offset = data.data_offset, size = data.size;
      if (static_cast<int64_t>(data_type) != kFloat) dtype = DType::bytes;
    } else if (!other.empty()) {
      return {};  // varints or strings: no contiguous bytes
    } else {
      if (n != 0) r.fail("has " + num(n) + " elements (dims " + dims_text(dims) + ") but no data");
      return {};
    }

    Found found;
    found.named = !me.name.empty();
    std::string name = found.named ? std::string(me.name) : hint.make();
    charge(r, 2 * name.size());
    Region region{offset, size, dtype, name};
    Tensor t;
    t.name = std::move(name);
    t.dtype = type_name;
    t.shape = std::move(dims);
    t.region = out_.regions.size();
    t.size = size;
    t.element_size = type && type->bits % 8 == 0 ? type->bits / 8 : 0;
    out_.regions.push_back(std::move(region));
    found.tensor = out_.tensors.size();
    out_.tensors.push_back(std::move(t));
    return found;
  }

  static std::string dims_text(const std::vector<uint64_t>& dims) {
    std::string s = "[";
    for (size_t i = 0; i < dims.size(); ++i) {
      if (i == 8 && dims.size() > 9) {
        s += ", ... (" + num(dims.size()) + " dims)";
        break;
      }
      s += (i ? ", " : "") + num(dims[i]);
    }
    return s + "]";
  }

  // Protobuf order is anything; regions must be sorted. Distinct fields never overlap, and an
  // empty region sorts before a region starting where it lies.
  void sort_regions() {
    std::vector<size_t> order(out_.regions.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      const Region &x = out_.regions[a], &y = out_.regions[b];
      return x.offset != y.offset ? x.offset < y.offset : x.size < y.size;
    });
    std::vector<size_t> where(order.size());
    std::vector<Region> sorted;
    sorted.reserve(order.size());
    for (size_t i = 0; i < order.size(); ++i) {
      where[order[i]] = i;
      sorted.push_back(std::move(out_.regions[order[i]]));
    }
    out_.regions = std::move(sorted);
    for (Tensor& t : out_.tensors) t.region = where[t.region];
  }

  std::span<const uint8_t> file_;
  uint64_t budget_;
  FileLayout out_;
};

// Non-throwing varint for the sniff.
bool sniff_varint(std::span<const uint8_t> b, size_t& pos, uint64_t& v) {
  v = 0;
  for (unsigned i = 0; i < 10 && pos < b.size(); ++i) {
    const uint8_t c = b[pos++];
    v |= uint64_t{c & 0x7fu} << (7 * i);
    if (!(c & 0x80)) return i < 9 || c <= 1;
  }
  return false;
}

}  // namespace

// Every writer (libprotobuf, the Python runtime) emits fields in field-number order, so an
// ONNX file opens with ir_version (field 1, a small varint), then the other ModelProto
// fields up to graph (7). The sniff walks those; it does not need the graph to fit in the
// file, so a truncated model is still recognized and its parse reports the damage.
bool looks_like_onnx(std::span<const uint8_t> file) noexcept {
  size_t pos = 0;
  uint64_t tag = 0, v = 0;
  if (!sniff_varint(file, pos, tag) || tag != (model_f::ir_version << 3)) return false;
  if (!sniff_varint(file, pos, v) || v < 1 || v > 100) return false;
  for (int fields = 0; fields < 64; ++fields) {
    if (!sniff_varint(file, pos, tag)) return false;
    const uint64_t number = tag >> 3, wire = tag & 7;
    switch (number) {
      case 5:  // model_version
        if (wire != 0 || !sniff_varint(file, pos, v)) return false;
        break;
      case 2: case 3: case 4: case 6: case 8: case 14: case 20: case 25: case 26:  // strings and messages
      case model_f::graph:
        if (wire != 2 || !sniff_varint(file, pos, v)) return false;
        if (number == model_f::graph) return true;
        if (v > file.size() - pos) return false;
        pos += v;
        break;
      default: return false;
    }
  }
  return false;
}

FileLayout parse_onnx(std::span<const uint8_t> file) { return Parser(file).run(); }

}  // namespace tenzip::formats
