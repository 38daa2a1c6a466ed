// The protobuf wire reader and the ONNX parser: generated fixtures checked byte for byte against
// the reference loader's view (tests/formats/gen_onnx.py), the corpus's two ONNX files, and
// hand-built malformed models that must fail with a message naming the problem.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "formats/layout.hpp"
#include "formats/protobuf_wire.hpp"
#include "formats_test_util.hpp"

namespace tenzip::testing {
namespace {

using formats::FileLayout;
using formats::parse_onnx;

// ---------------------------------------------------------------- a tiny protobuf writer
Bytes varint(uint64_t v) {
  Bytes b;
  do {
    b.push_back(static_cast<uint8_t>((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
    v >>= 7;
  } while (v);
  return b;
}
Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes b;
  for (const Bytes& p : parts) b.insert(b.end(), p.begin(), p.end());
  return b;
}
Bytes vfield(uint32_t n, uint64_t v) { return cat({varint(uint64_t{n} << 3), varint(v)}); }
Bytes lfield(uint32_t n, const Bytes& payload) {
  return cat({varint(uint64_t{n} << 3 | 2), varint(payload.size()), payload});
}
Bytes sfield(uint32_t n, std::string_view s) { return lfield(n, Bytes(s.begin(), s.end())); }
Bytes raw(size_t n, uint8_t seed = 1) {
  Bytes b(n);
  for (size_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>(seed + 37 * i);
  return b;
}

// TensorProto fields: dims 1, data_type 2, float_data 4, name 8, raw_data 9, data_location 14.
Bytes tensor(std::string_view name, int data_type, std::initializer_list<uint64_t> dims, const Bytes& data) {
  Bytes b;
  for (uint64_t d : dims) b = cat({b, vfield(1, d)});
  return cat({b, vfield(2, data_type), sfield(8, name), lfield(9, data)});
}
Bytes graph(std::string_view name, const Bytes& body) { return cat({sfield(2, name), body}); }
Bytes initializer(const Bytes& t) { return lfield(5, t); }
Bytes constant_node(std::string_view name, std::string_view output, const Bytes& t) {
  const Bytes attr = cat({sfield(1, "value"), lfield(5, t), vfield(20, 4)});
  return lfield(1, cat({sfield(2, output), sfield(3, name), sfield(4, "Constant"), lfield(5, attr)}));
}
Bytes model(const Bytes& graph_payload) { return cat({vfield(1, 8), lfield(7, graph_payload)}); }

FileLayout parse(const Bytes& b) { return parse_onnx(b); }
void expect_bad(const Bytes& b, std::initializer_list<std::string> needles) {
  expect_corrupt([&] { parse(b); }, needles);
}

// ---------------------------------------------------------------- protobuf wire reader
std::vector<formats::pb::Field> fields_of(const Bytes& b) {
  formats::pb::Reader r(b, 0, b.size(), "pb", nullptr);
  std::vector<formats::pb::Field> out;
  formats::pb::Field f;
  while (r.next(f)) out.push_back(f);
  return out;
}
void expect_wire_error(const Bytes& b, const std::string& needle) {
  expect_corrupt([&] { fields_of(b); }, {"pb: ", needle});
}

TEST(ProtobufWire, ReadsEveryWireTypeWithOffsets) {
  const Bytes b = cat({vfield(1, 300), {0x11, 1, 2, 3, 4, 5, 6, 7, 8}, sfield(3, "abc"), {0x25, 9, 8, 7, 6},
                       vfield(536870911, UINT64_MAX)});
  const auto f = fields_of(b);
  ASSERT_EQ(f.size(), 5u);
  EXPECT_EQ(f[0].number, 1u);
  EXPECT_EQ(f[0].value, 300u);
  EXPECT_EQ(f[1].wire, formats::pb::Wire::i64);
  EXPECT_EQ(f[1].value, 0x0807060504030201u);
  EXPECT_EQ(f[2].wire, formats::pb::Wire::len);
  EXPECT_EQ(f[2].offset, 12u);
  EXPECT_EQ(f[2].data_offset, 14u);
  EXPECT_EQ(f[2].size, 3u);
  EXPECT_EQ(f[3].value, 0x06070809u);
  EXPECT_EQ(f[4].number, 536870911u);  // the largest field number
  EXPECT_EQ(f[4].value, UINT64_MAX);   // a full 10-byte varint
}

TEST(ProtobufWire, PackedVarintsAndStrings) {
  const Bytes b = lfield(1, cat({varint(3), varint(1u << 20), varint(0)}));
  formats::pb::Reader r(b, 0, b.size(), "pb", nullptr);
  formats::pb::Field f;
  ASSERT_TRUE(r.next(f));
  std::vector<uint64_t> v;
  EXPECT_EQ(r.packed_varints(f, [&](uint64_t x) { v.push_back(x); }), 3u);
  EXPECT_EQ(v, (std::vector<uint64_t>{3, 1u << 20, 0}));
  EXPECT_EQ(r.string(f).size(), 5u);
  EXPECT_FALSE(r.next(f));
  // A packed field whose last varint is cut by the field's end.
  const Bytes cut = lfield(1, {0x81, 0x80});
  formats::pb::Reader r2(cut, 0, cut.size(), "pb", nullptr);
  ASSERT_TRUE(r2.next(f));
  expect_corrupt([&] { r2.packed_varints(f, [](uint64_t) {}); }, {"varint at offset 2 runs past the end"});
}

TEST(ProtobufWire, RejectsMalformedFields) {
  expect_wire_error({0x08, 0x80}, "varint at offset 1 runs past the end of its message");
  expect_wire_error({0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, "overflows 64 bits");
  expect_wire_error({0x08, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, "longer than 10 bytes");
  expect_wire_error({0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, "does not fit 32 bits");
  expect_wire_error({0x00, 0x01}, "field number 0 at offset 0");
  expect_wire_error({0x0b}, "groups (wire type 3) are not supported");
  expect_wire_error({0x0c}, "groups (wire type 4) are not supported");
  expect_wire_error({0x0e}, "invalid wire type 6");
  expect_wire_error({0x0f}, "invalid wire type 7");
  expect_wire_error({0x0a, 0x05, 1, 2}, "field 1 at offset 0: length 5 runs past the end of its message (2 bytes left)");
  expect_wire_error({0x0a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, "length 18446744073709551615");
  expect_wire_error({0x0d, 1, 2, 3}, "fixed32 value runs past the end");
  expect_wire_error({0x09, 1, 2, 3, 4, 5, 6, 7}, "fixed64 value runs past the end");
}

TEST(ProtobufWire, MessagesStayInsideTheirParent) {
  // An inner message's field cannot read past the inner message into the outer one.
  const Bytes b = cat({lfield(1, {0x0a, 0x03, 1}), {2, 3}});
  formats::pb::Reader r(b, 0, b.size(), "pb", nullptr);
  formats::pb::Field f;
  ASSERT_TRUE(r.next(f));
  const formats::pb::Path p{nullptr, "inner", "x"};
  formats::pb::Reader in = r.sub(f, &p);
  expect_corrupt([&] { in.next(f); }, {"pb: inner 'x': field 1 at offset 2: length 3 runs past"});
}

TEST(ProtobufWire, PathsNameEveryLevel) {
  const formats::pb::Path g{nullptr, "graph", "main"};
  const formats::pb::Path n{&g, "node", "", 3};
  const formats::pb::Path a{&n, "attribute", "value"};
  const formats::pb::Path t{&a, "tensor", ""};
  EXPECT_EQ(formats::pb::describe(&t), "graph 'main' node #3 attribute 'value' tensor");
  EXPECT_EQ(formats::pb::quoted(std::string("a\nb")), "'a?b'");
  EXPECT_EQ(formats::pb::quoted(std::string(100, 'x')), "'" + std::string(80, 'x') + "...'");
}

// ---------------------------------------------------------------- fixtures vs the reference loader
struct Fixture {
  Bytes file;
  nlohmann::json expected;
  Bytes expected_bin;
};
Fixture load_fixture(const std::string& name) {
  const fs::path dir = kFormatsData / "onnx";
  return {read_bytes(dir / (name + ".onnx")), read_json(dir / (name + ".expected.json")),
          read_bytes(dir / (name + ".expected.bin"))};
}

// Every tensor the reference loader sees whose values lie contiguously in the file must come out,
// in file order, with its name, dtype, dims and exact bytes; the others (varints, strings,
// external data) must not.
void expect_matches_reference(const std::string& name, size_t n_found, size_t n_gaps) {
  SCOPED_TRACE(name);
  const Fixture fx = load_fixture(name);
  ASSERT_TRUE(formats::looks_like_onnx(fx.file));
  const FileLayout l = parse_onnx(fx.file);
  EXPECT_EQ(l.format, "onnx");
  ASSERT_NO_THROW(formats::check_layout(l, fx.file.size()));
  size_t k = 0, gaps = 0;
  for (const auto& e : fx.expected["tensors"]) {
    const std::string storage = e["storage"];
    if (storage != "raw_data" && storage != "float_data" && storage != "double_data") {
      ++gaps;
      for (const auto& t : l.tensors) EXPECT_NE(t.name, e["name"].get<std::string>()) << "stored as " << storage;
      continue;
    }
    ASSERT_LT(k, l.tensors.size()) << "missing " << e["name"];
    const formats::Tensor& t = l.tensors[k++];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(t.dtype, e["dtype"].get<std::string>());
    EXPECT_EQ(t.shape, e["dims"].get<std::vector<uint64_t>>());
    const uint64_t off = e["offset"], size = e["size"];
    ASSERT_EQ(t.size, size);
    const auto got = tensor_bytes(fx.file, l, t);
    EXPECT_TRUE(std::equal(got.begin(), got.end(), fx.expected_bin.begin() + static_cast<ptrdiff_t>(off)))
        << "bytes differ from the reference loader's";
    EXPECT_EQ(l.regions[t.region].name, t.name);
    EXPECT_EQ(t.offset, 0u);
    EXPECT_EQ(l.regions[t.region].size, t.size);  // one region per tensor
  }
  EXPECT_EQ(k, l.tensors.size()) << "the parser found tensors the reference loader does not list";
  EXPECT_EQ(l.tensors.size(), n_found);
  EXPECT_EQ(l.regions.size(), n_found);
  EXPECT_EQ(gaps, n_gaps);
}

TEST(OnnxFixtures, EveryDtypeInRawData) { expect_matches_reference("dtypes", 17, 0); }
TEST(OnnxFixtures, TypedFields) { expect_matches_reference("typed_fields", 4, 4); }
TEST(OnnxFixtures, ConstantsSubgraphsSparseFunctions) { expect_matches_reference("subgraphs", 22, 0); }
TEST(OnnxFixtures, TorchExport) { expect_matches_reference("torch_mlp", 4, 0); }

DType region_dtype(const FileLayout& l, const std::string& tensor) {
  for (const auto& t : l.tensors)
    if (t.name == tensor) return l.regions[t.region].dtype;
  throw std::runtime_error("no tensor " + tensor);
}

TEST(OnnxFixtures, RegionDtypes) {
  const FileLayout l = parse_onnx(load_fixture("dtypes").file);
  const std::map<std::string, DType> want = {
      {"w_fp32_special", DType::fp32},   {"w_fp16", DType::fp16},           {"w_bf16", DType::bf16},
      {"w_fp8_e4m3fn", DType::fp8_e4m3}, {"w_fp8_e5m2", DType::fp8_e5m2},   {"w_fp8_e4m3fnuz", DType::bytes},
      {"w_fp8_e5m2fnuz", DType::bytes},  {"w_double", DType::bytes},        {"w_int8", DType::bytes},
      {"w_int64", DType::bytes},         {"w_bool", DType::bytes},          {"w_int4_odd", DType::bytes},
      {"scalar_fp32", DType::fp32},      {"empty_fp32", DType::fp32}};
  for (const auto& [name, dtype] : want) EXPECT_EQ(dtype_name(region_dtype(l, name)), dtype_name(dtype)) << name;
  for (const auto& t : l.tensors) {
    if (t.name == "w_int4_odd") {  // packed: no whole bytes per element
      EXPECT_EQ(t.element_size, 0u);
    }
    if (t.name == "w_double") {
      EXPECT_EQ(t.element_size, 8u);
    }
    if (t.name == "scalar_fp32") {
      EXPECT_TRUE(t.shape.empty());
    }
  }
  const FileLayout typed = parse_onnx(load_fixture("typed_fields").file);
  EXPECT_EQ(region_dtype(typed, "f_float_data"), DType::fp32);
  EXPECT_EQ(region_dtype(typed, "f_complex64"), DType::bytes);
}

// ---------------------------------------------------------------- the corpus
void expect_corpus(const std::string& rel, const std::map<std::string, Totals>& want) {
  SCOPED_TRACE(rel);
  const Bytes file = read_bytes(kCorpus / rel);
  ASSERT_TRUE(formats::looks_like_onnx(file));
  const FileLayout l = parse_onnx(file);
  ASSERT_NO_THROW(formats::check_layout(l, file.size()));
  expect_dtype_totals(l, want, "FLOAT", DType::fp32);
  // Tensor by tensor against the reference loader (CRC-32 of its bytes).
  const auto expected = read_json(kFormatsData / "corpus" / (fs::path(rel).filename().string() + ".json"));
  size_t k = 0;
  for (const auto& e : expected["tensors"]) {
    if (e["storage"] != "raw_data") continue;
    ASSERT_LT(k, l.tensors.size());
    const formats::Tensor& t = l.tensors[k++];
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(t.dtype, e["dtype"].get<std::string>());
    EXPECT_EQ(t.shape, e["dims"].get<std::vector<uint64_t>>());
    EXPECT_EQ(t.size, e["size"].get<uint64_t>());
    EXPECT_EQ(crc32(tensor_bytes(file, l, t)), e["crc32"].get<uint32_t>()) << t.name;
  }
  EXPECT_EQ(k, l.tensors.size());
}

TEST(OnnxCorpus, SileroVadConstantsInIfBranches) {
  // 36 FLOAT weights in Constant nodes of the two If branches; of the 309 INT64 shape
  // constants one is stored as int64_data varints and stays a gap.
  expect_corpus("audio/silero_vad.onnx", {{"FLOAT", {36, 2181152}}, {"INT64", {308, 2496}}});
}

TEST(OnnxCorpus, PaddleOcrConstants) {
  expect_corpus("hybrid/ch_PP-OCRv4_rec_infer.onnx",
                {{"FLOAT", {309, 10761184}}, {"INT32", {15, 60}}, {"INT64", {1, 8}}});
}

TEST(OnnxSniff, OnlyOnnxFilesLookLikeOnnx) {
  for (const auto& e : fs::recursive_directory_iterator(kCorpus)) {
    if (!e.is_regular_file()) continue;
    const Bytes b = read_bytes(e.path());
    EXPECT_EQ(formats::looks_like_onnx(b), e.path().extension() == ".onnx") << e.path();
  }
  for (const auto& e : fs::directory_iterator(kFormatsData / "onnx"))
    if (e.path().extension() == ".onnx") {
      EXPECT_TRUE(formats::looks_like_onnx(read_bytes(e.path()))) << e.path();
    }
  EXPECT_FALSE(formats::looks_like_onnx({}));
  EXPECT_FALSE(formats::looks_like_onnx(Bytes{0x08}));
  EXPECT_FALSE(formats::looks_like_onnx(Bytes{0x08, 0x00, 0x3a, 0x00}));   // ir_version 0
  EXPECT_FALSE(formats::looks_like_onnx(cat({vfield(1, 8), vfield(9, 1)}))); // not a ModelProto field
  EXPECT_FALSE(formats::looks_like_onnx(read_bytes(kFormatsData / "tflite" / "small.tflite")));
}

TEST(OnnxSniff, TruncatedModelIsRecognizedAndReported) {
  const Bytes full = read_bytes(kCorpus / "audio/silero_vad.onnx");
  const Bytes cut(full.begin(), full.begin() + 1000);
  EXPECT_TRUE(formats::looks_like_onnx(cut));  // so parse_any reports the damage
  expect_bad(cut, {"onnx: ", "runs past the end of its message"});
}

// ---------------------------------------------------------------- malformed models
const Bytes kW = tensor("w", 1, {2}, raw(8));

TEST(OnnxErrors, HandBuiltModelParses) {
  const Bytes b = model(graph("g", cat({initializer(kW), constant_node("C", "c_out", tensor("", 10, {3}, raw(6)))})));
  const FileLayout l = parse(b);
  ASSERT_EQ(l.tensors.size(), 2u);  // in file order, whatever the field numbers
  EXPECT_EQ(l.tensors[0].name, "w");
  EXPECT_EQ(l.tensors[1].name, "c_out");  // an unnamed Constant value is named after the node's output
  EXPECT_EQ(l.tensors[1].dtype, "FLOAT16");
  EXPECT_EQ(l.regions[l.tensors[1].region].dtype, DType::fp16);
  EXPECT_NO_THROW(formats::check_layout(l, b.size()));
}

TEST(OnnxErrors, RawDataSizeMismatchNamesTheTensor) {
  expect_bad(model(graph("g", initializer(tensor("w", 1, {2}, raw(7))))),
             {"onnx: graph 'g' initializer 'w': raw_data holds 7 bytes, but dims [2] of FLOAT need 8"});
  expect_bad(model(graph("g", initializer(tensor("h", 10, {3, 2}, raw(13))))), {"initializer 'h'", "need 12"});
  expect_bad(model(graph("g", initializer(tensor("q", 22, {5}, raw(2))))), {"of INT4 need 3"});
}

TEST(OnnxErrors, PathNamesNodeAndAttribute) {
  expect_bad(model(graph("main", constant_node("Constant_3", "out", tensor("", 1, {4}, raw(4))))),
             {"onnx: graph 'main' node 'Constant_3' attribute 'value' tensor: raw_data holds 4 bytes"});
}

TEST(OnnxErrors, TruncatedVarintAndLengthPastEnd) {
  const Bytes good = model(graph("g", initializer(kW)));
  Bytes cut(good.begin(), good.end() - 1);
  expect_bad(cut, {"onnx: field 7 at offset 2: length 22 runs past the end of its message (21 bytes left)"});
  expect_bad(cat({vfield(1, 8), {0x3a, 0x80}}), {"onnx: varint at offset 3 runs past the end of its message"});
  // Inside a tensor: dims as an unterminated varint at the end of the message.
  expect_bad(model(graph("g", initializer(cat({tensor("w", 1, {2}, raw(8)), {0x08, 0x80}})))),
             {"initializer", "varint at offset", "runs past the end of its message"});
}

TEST(OnnxErrors, DimsNegativeOrOverflowing) {
  expect_bad(model(graph("g", initializer(cat({vfield(1, static_cast<uint64_t>(-3)), vfield(2, 1), sfield(8, "n"),
                                                lfield(9, raw(4))})))),
             {"dims[0] = -3 is negative"});
  expect_bad(model(graph("g", initializer(tensor("big", 1, {1ull << 40, 1ull << 40}, raw(4))))),
             {"initializer 'big'", "element count overflows 64 bits"});
  // Packed dims work as unpacked ones do.
  const Bytes packed = cat({lfield(1, cat({varint(2), varint(3)})), vfield(2, 1), sfield(8, "p"), lfield(9, raw(24))});
  const FileLayout l = parse(model(graph("g", initializer(packed))));
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].shape, (std::vector<uint64_t>{2, 3}));
}

TEST(OnnxErrors, NestingDepthBomb) {
  // If nodes nested 200 deep: graph -> node -> attribute -> graph ...
  Bytes g = graph("leaf", initializer(kW));
  for (int i = 0; i < 200; ++i) {
    const Bytes attr = cat({sfield(1, "then_branch"), lfield(6, g)});
    std::string name = "g";
    name += std::to_string(i);
    g = graph(name, lfield(1, cat({sfield(4, "If"), lfield(5, attr)})));
  }
  expect_bad(model(g), {"onnx: graph 'g199' node #0 attribute 'then_branch' graph 'g198'",
                        "messages nested deeper than 100 levels"});
  // 20 levels are fine, and the leaf's tensor is found.
  Bytes ok = graph("leaf", initializer(kW));
  for (int i = 0; i < 20; ++i)
    ok = graph("g", lfield(1, cat({sfield(4, "If"), lfield(5, cat({sfield(1, "else_branch"), lfield(6, ok)}))})));
  const FileLayout l = parse(model(ok));
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].name, "w");
}

TEST(OnnxErrors, InconsistentTensors) {
  const auto init = [](const Bytes& t) { return model(graph("g", initializer(t))); };
  expect_bad(init(cat({vfield(2, 8), sfield(8, "s"), lfield(9, raw(3))})), {"'s'", "raw_data cannot hold a STRING"});
  expect_bad(init(cat({vfield(1, 1), sfield(8, "u"), lfield(9, raw(3))})), {"raw_data cannot hold a UNDEFINED"});
  expect_bad(init(cat({vfield(1, 2), vfield(2, 1), lfield(4, raw(8)), sfield(8, "b"), lfield(9, raw(8))})),
             {"'b'", "has both raw_data and float_data"});
  expect_bad(init(cat({vfield(1, 2), vfield(2, 7), lfield(4, raw(8)), sfield(8, "i")})),
             {"float_data cannot hold a INT64 tensor"});
  expect_bad(init(cat({vfield(1, 3), vfield(2, 1), lfield(4, raw(8)), sfield(8, "c")})),
             {"'c'", "float_data holds 2 values, but dims [3] of FLOAT need 3"});
  expect_bad(init(cat({vfield(1, 1), vfield(2, 1), lfield(4, raw(6)), sfield(8, "o")})),
             {"float_data holds 6 bytes, not a whole number of 4-byte values"});
  expect_bad(init(cat({vfield(1, 5), vfield(2, 1), sfield(8, "e")})), {"'e'", "has 5 elements (dims [5]) but no data"});
  expect_bad(init(cat({tensor("l", 1, {2}, raw(8)), vfield(14, 2)})), {"'l'", "data_location 2 is neither"});
  expect_bad(init(cat({vfield(2, static_cast<uint64_t>(-1)), sfield(8, "t"), lfield(9, raw(1))})),
             {"data_type -1 is invalid"});
  // An unknown (future) data_type is kept as bytes, unchecked.
  const FileLayout l = parse(init(cat({vfield(1, 3), vfield(2, 99), sfield(8, "f"), lfield(9, raw(5))})));
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].dtype, "DATA_TYPE_99");
  EXPECT_EQ(l.regions[0].dtype, DType::bytes);
}

TEST(OnnxErrors, ModelStructure) {
  expect_bad(vfield(1, 8), {"onnx: no graph (field 7): not an ONNX model"});
  expect_bad(lfield(7, graph("g", {})), {"no ir_version"});
  expect_bad(cat({vfield(1, 8), lfield(7, graph("a", {})), lfield(7, graph("b", {}))}),
             {"field graph (7) appears twice"});
  expect_bad(cat({vfield(1, 8), vfield(7, 1)}), {"field graph (7) at offset 2 has wire type varint, expected length-delimited"});
  expect_bad(model(graph("g", cat({lfield(1, cat({sfield(3, "n"), vfield(5, 1)}))}))),
             {"node 'n'", "field attribute (5)", "has wire type varint"});
  const Bytes attr_twice = cat({sfield(1, "value"), lfield(5, kW), lfield(5, kW)});
  expect_bad(model(graph("g", lfield(1, cat({sfield(3, "C"), lfield(5, attr_twice)})))),
             {"node 'C' attribute 'value'", "field t (5) appears twice"});
  expect_bad(cat({vfield(1, 8), lfield(7, graph("g", {})), {0x0b}}), {"groups (wire type 3) are not supported"});
  expect_bad(cat({vfield(1, 8), lfield(7, graph("g", {})), {0xf3, 0x01}}), {"field 30 at offset", "groups"});
}

TEST(OnnxErrors, ExternalAndLastRawDataWins) {
  // EXTERNAL data lives in another file: no region. A repeated raw_data: protobuf keeps the last.
  const Bytes ext = cat({vfield(1, 1000), vfield(2, 1), sfield(8, "x"), vfield(14, 1)});
  const Bytes twice = cat({tensor("w", 1, {2}, raw(8, 1)), lfield(9, raw(8, 2))});
  const Bytes b = model(graph("g", cat({initializer(ext), initializer(twice)})));
  const FileLayout l = parse(b);
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].name, "w");
  const Bytes want = raw(8, 2);
  const auto got = tensor_bytes(b, l, l.tensors[0]);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), want.begin()));
}

TEST(OnnxErrors, NamesCannotOutgrowTheFile) {
  // One 60 kB output name given to 400 unnamed Constant values: 48 MB of names from a 64 kB file.
  Bytes attrs;
  const Bytes value = lfield(5, cat({sfield(1, "value"), lfield(5, tensor("", 1, {}, raw(4)))}));
  for (int i = 0; i < 400; ++i) attrs = cat({attrs, value});
  const std::string out(60000, 'o');
  const Bytes node = lfield(1, cat({sfield(2, out), sfield(4, "Constant"), attrs}));
  expect_bad(model(graph("g", node)), {"names repeated abusively"});
}

TEST(OnnxErrors, EveryTruncationAndByteFlipFailsCleanly) {
  for (const char* name : {"subgraphs", "typed_fields"}) {
    const Bytes full = load_fixture(name).file;
    for (size_t n = 0; n < full.size(); ++n) {
      const std::span<const uint8_t> prefix(full.data(), n);
      expect_error_or_valid(parse_onnx, prefix, std::string(name) + " cut at " + std::to_string(n));
    }
    Bytes b = full;
    for (size_t i = 0; i < b.size(); ++i) {
      for (uint8_t x : {0x01, 0x80, 0xff}) {
        b[i] ^= x;
        expect_error_or_valid(parse_onnx, b, std::string(name) + " byte " + std::to_string(i) + " ^ " + std::to_string(x));
        b[i] ^= x;
      }
    }
  }
}

}  // namespace
}  // namespace tenzip::testing
