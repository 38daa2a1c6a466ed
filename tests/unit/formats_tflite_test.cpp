// The TFLite parser: a generated fixture and the corpus's two models checked against the `tflite`
// package's view (tests/formats/gen_tflite.py), and hand-built flatbuffers with bad offsets,
// vtables, lengths and indices that must fail with a message naming the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>

#include "formats/layout.hpp"
#include "formats_test_util.hpp"

namespace tenzip::testing {
namespace {

using formats::FileLayout;
using formats::parse_tflite;

// ---------------------------------------------------------------- a forward flatbuffer writer
// Writes front to back: each vtable just before its table, children after their parents (so
// every uoffset points forward), and remembers where everything is, so tests can corrupt any
// part precisely.
class Fb {
 public:
  struct Table {
    size_t pos = 0, vtable = 0;
    std::vector<size_t> field;  // file position of each field (0: absent)
  };

  Fb() : b(8, 0) { std::memcpy(&b[4], "TFL3", 4); }

  void put16(size_t at, uint16_t v) { b[at] = uint8_t(v), b[at + 1] = uint8_t(v >> 8); }
  void put32(size_t at, uint32_t v) {
    for (int i = 0; i < 4; ++i) b[at + i] = uint8_t(v >> (8 * i));
  }
  void put64(size_t at, uint64_t v) { put32(at, uint32_t(v)), put32(at + 4, uint32_t(v >> 32)); }
  // The uoffset at `at` points to `target`.
  void link(size_t at, size_t target) { put32(at, uint32_t(target - at)); }

  // widths[id]: bytes of field id, 0 for absent. Fields are laid out in id order.
  Table table(const std::vector<unsigned>& widths) {
    align(2);
    Table t;
    t.vtable = b.size();
    std::vector<uint16_t> fo(widths.size());
    size_t off = 4;
    for (size_t i = 0; i < widths.size(); ++i)
      if (widths[i]) fo[i] = uint16_t(off), off += (widths[i] + 3) / 4 * 4;
    grow(4 + 2 * widths.size());
    put16(t.vtable, uint16_t(4 + 2 * widths.size()));
    put16(t.vtable + 2, uint16_t(off));
    for (size_t i = 0; i < fo.size(); ++i) put16(t.vtable + 4 + 2 * i, fo[i]);
    align(4);
    t.pos = b.size();
    grow(off);
    put32(t.pos, uint32_t(t.pos - t.vtable));  // soffset: the vtable lies before the table
    for (size_t i = 0; i < fo.size(); ++i) t.field.push_back(fo[i] ? t.pos + fo[i] : 0);
    return t;
  }
  size_t vec32(size_t n) {  // a vector of n zeroed 4-byte elements
    align(4);
    const size_t v = b.size();
    grow(4 + 4 * n);
    put32(v, uint32_t(n));
    return v;
  }
  size_t bytes(const Bytes& d) {
    align(16);
    const size_t v = b.size();
    grow(4);
    put32(v, uint32_t(d.size()));
    b.insert(b.end(), d.begin(), d.end());
    return v;
  }
  size_t str(std::string_view s) {
    const size_t v = bytes(Bytes(s.begin(), s.end()));
    b.push_back(0);
    return v;
  }

  Bytes b;

 private:
  void grow(size_t n) { b.resize(b.size() + n, 0); }
  void align(size_t a) {
    while (b.size() % a) b.push_back(0);
  }
};

struct TensorSpec {
  std::string name;
  uint8_t type;
  std::vector<int32_t> shape;
  uint32_t buffer;
};
struct Built {
  Fb fb;
  Fb::Table model;
  size_t buffers_vec = 0, subgraphs_vec = 0, tensors_vec = 0;
  std::vector<Fb::Table> buffers, tensors;
  std::vector<size_t> data, shapes, names;  // data[i] = 0 for an empty buffer
};

// One subgraph. Model fields: version 0, subgraphs 2, buffers 4. Buffer: data 0, offset 1,
// size 2. Tensor: shape 0, type 1, buffer 2, name 3. `sg_copies` / `tensor_copies`: how many
// vector entries point to the one SubGraph table / to each Tensor table (tables shared).
Built build(const std::vector<Bytes>& buffers, const std::vector<TensorSpec>& tensors, uint32_t version = 3,
            size_t sg_copies = 1, size_t tensor_copies = 1) {
  Built m;
  Fb& fb = m.fb;
  m.model = fb.table({4, 0, 4, 0, 4});
  fb.link(0, m.model.pos);
  fb.put32(m.model.field[0], version);
  m.buffers_vec = fb.vec32(buffers.size());
  fb.link(m.model.field[4], m.buffers_vec);
  for (size_t i = 0; i < buffers.size(); ++i) {
    m.buffers.push_back(fb.table({4, 8, 8}));
    fb.link(m.buffers_vec + 4 + 4 * i, m.buffers.back().pos);
  }
  for (size_t i = 0; i < buffers.size(); ++i) {  // all data after all tables: any table can point at any data
    m.data.push_back(buffers[i].empty() ? 0 : fb.bytes(buffers[i]));
    if (m.data.back()) fb.link(m.buffers[i].field[0], m.data.back());
    else fb.put32(m.buffers[i].field[0], 0), fb.put16(m.buffers[i].vtable + 4, 0);  // no data field
  }
  m.subgraphs_vec = fb.vec32(sg_copies);
  fb.link(m.model.field[2], m.subgraphs_vec);
  const Fb::Table sg = fb.table({4});
  for (size_t c = 0; c < sg_copies; ++c) fb.link(m.subgraphs_vec + 4 + 4 * c, sg.pos);
  m.tensors_vec = fb.vec32(tensors.size() * tensor_copies);
  fb.link(sg.field[0], m.tensors_vec);
  for (size_t i = 0; i < tensors.size(); ++i) {
    m.tensors.push_back(fb.table({4, 1, 4, 4}));
    for (size_t c = 0; c < tensor_copies; ++c)
      fb.link(m.tensors_vec + 4 + 4 * (i * tensor_copies + c), m.tensors.back().pos);
  }
  for (size_t i = 0; i < tensors.size(); ++i) {
    const TensorSpec& t = tensors[i];
    const Fb::Table& tt = m.tensors[i];
    fb.b[tt.field[1]] = t.type;
    fb.put32(tt.field[2], t.buffer);
    m.shapes.push_back(fb.vec32(t.shape.size()));
    for (size_t k = 0; k < t.shape.size(); ++k) fb.put32(m.shapes.back() + 4 + 4 * k, uint32_t(t.shape[k]));
    fb.link(tt.field[0], m.shapes.back());
    m.names.push_back(fb.str(t.name));
    fb.link(tt.field[3], m.names.back());
  }
  return m;
}

Bytes fp32_bytes(size_t n) {
  Bytes b(4 * n);
  for (size_t i = 0; i < b.size(); ++i) b[i] = uint8_t(i * 29 + 3);
  return b;
}
// buffers: 0 empty, 1 two FLOAT32, 2 three FLOAT16 (6 bytes); tensors w (buffer 1), h (2), act (0).
Built basic() {
  return build({{}, fp32_bytes(2), Bytes(6, 0x3c)},
               {{"w", 0, {2}, 1}, {"h", 1, {3, 1}, 2}, {"act", 0, {1, 2}, 0}});
}

void expect_bad(const Bytes& b, std::initializer_list<std::string> needles) {
  expect_corrupt([&] { parse_tflite(b); }, needles);
}

// ---------------------------------------------------------------- valid models
TEST(TfliteBuilt, BasicModelParses) {
  const Built m = basic();
  const FileLayout l = parse_tflite(m.fb.b);
  EXPECT_EQ(l.format, "tflite");
  ASSERT_NO_THROW(formats::check_layout(l, m.fb.b.size()));
  ASSERT_EQ(l.regions.size(), 2u);
  ASSERT_EQ(l.tensors.size(), 2u);  // `act` uses the empty buffer 0
  EXPECT_EQ(l.tensors[0].name, "w");
  EXPECT_EQ(l.tensors[0].dtype, "FLOAT32");
  EXPECT_EQ(l.tensors[0].shape, (std::vector<uint64_t>{2}));
  EXPECT_EQ(l.tensors[0].element_size, 4u);
  EXPECT_EQ(l.regions[l.tensors[0].region].offset, m.data[1] + 4);
  EXPECT_EQ(l.regions[l.tensors[0].region].dtype, DType::fp32);
  EXPECT_EQ(l.tensors[1].dtype, "FLOAT16");
  EXPECT_EQ(l.regions[l.tensors[1].region].dtype, DType::fp16);
  EXPECT_EQ(l.regions[l.tensors[1].region].size, 6u);
}

// The fixture: every buffer at the offset the `tflite` package reads, every tensor with its
// name, type, shape and bytes (CRC-32), and the region dtypes the parser must choose.
TEST(TfliteFixture, MatchesTheTflitePackage) {
  const Bytes file = read_bytes(kFormatsData / "tflite" / "small.tflite");
  const auto expected = read_json(kFormatsData / "tflite" / "small.json");
  ASSERT_TRUE(formats::looks_like_tflite(file));
  const FileLayout l = parse_tflite(file);
  ASSERT_NO_THROW(formats::check_layout(l, file.size()));

  std::map<uint64_t, nlohmann::json> by_offset;
  for (const auto& b : expected["buffers"]) by_offset[b["offset"].get<uint64_t>()] = b;
  ASSERT_EQ(l.regions.size(), by_offset.size());
  std::map<uint32_t, const formats::Region*> region_of_buffer;
  size_t k = 0;
  for (const auto& [offset, b] : by_offset) {  // regions are sorted by offset
    const formats::Region& r = l.regions[k++];
    EXPECT_EQ(r.offset, offset);
    EXPECT_EQ(r.size, b["size"].get<uint64_t>());
    EXPECT_EQ(crc32(std::span<const uint8_t>(file).subspan(r.offset, r.size)), b["crc32"].get<uint32_t>());
    region_of_buffer[b["buffer"].get<uint32_t>()] = &r;
  }
  const std::map<uint32_t, DType> dtypes = {{1, DType::fp32},  {2, DType::fp16},  {3, DType::bf16},
                                            {4, DType::bytes}, {5, DType::fp16},  {6, DType::bytes},
                                            {7, DType::fp32},  {8, DType::bytes}, {9, DType::fp32},
                                            {10, DType::bytes}, {11, DType::bytes}};
  for (const auto& [buffer, dtype] : dtypes)
    EXPECT_EQ(dtype_name(region_of_buffer.at(buffer)->dtype), dtype_name(dtype)) << "buffer " << buffer;
  EXPECT_EQ(region_of_buffer.at(8)->name, "min_runtime_version");  // named by the model's metadata
  EXPECT_EQ(region_of_buffer.at(10)->name, "buffer 10");
  EXPECT_EQ(region_of_buffer.at(5)->name, "shared_a");
  // Buffer 9 lies after the flatbuffer (Buffer.offset/size), at the end of the file.
  EXPECT_EQ(region_of_buffer.at(9)->offset + region_of_buffer.at(9)->size, file.size());

  ASSERT_EQ(l.tensors.size(), expected["tensors"].size());
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const formats::Tensor& t = l.tensors[i];
    const auto& e = expected["tensors"][i];
    SCOPED_TRACE(e["name"].get<std::string>());
    EXPECT_EQ(t.name, e["name"].get<std::string>());
    EXPECT_EQ(t.dtype, e["dtype"].get<std::string>());
    EXPECT_EQ(t.shape, e["shape"].get<std::vector<uint64_t>>());
    EXPECT_EQ(t.size, e["size"].get<uint64_t>());
    EXPECT_EQ(&l.regions[t.region], region_of_buffer.at(e["buffer"].get<uint32_t>()));
    EXPECT_EQ(crc32(tensor_bytes(file, l, t)), e["crc32"].get<uint32_t>());
  }
}

void expect_corpus(const std::string& rel, const std::map<std::string, Totals>& want) {
  SCOPED_TRACE(rel);
  const Bytes file = read_bytes(kCorpus / rel);
  ASSERT_TRUE(formats::looks_like_tflite(file));
  const FileLayout l = parse_tflite(file);
  ASSERT_NO_THROW(formats::check_layout(l, file.size()));
  expect_dtype_totals(l, want, "FLOAT16", DType::fp16);
  const auto expected = read_json(kFormatsData / "corpus" / (fs::path(rel).filename().string() + ".json"));
  ASSERT_EQ(l.tensors.size(), expected["tensors"].size());
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& e = expected["tensors"][i];
    EXPECT_EQ(l.tensors[i].name, e["name"].get<std::string>());
    EXPECT_EQ(l.tensors[i].shape, e["shape"].get<std::vector<uint64_t>>());
    EXPECT_EQ(crc32(tensor_bytes(file, l, l.tensors[i])), e["crc32"].get<uint32_t>()) << l.tensors[i].name;
  }
  EXPECT_EQ(l.regions.size(), expected["buffers"].size());
}

TEST(TfliteCorpus, HandLandmark) {
  // 102 FLOAT16 weights feeding DEQUANTIZE ops, and one small INT32 constant (a reshape shape).
  expect_corpus("cnn/hand_landmark_full.tflite", {{"FLOAT16", {102, 5431360}}, {"INT32", {1, 8}}});
}
TEST(TfliteCorpus, FaceDetection) {
  expect_corpus("cnn/face_detection_full_range.tflite", {{"FLOAT16", {178, 1028138}}, {"INT32", {11, 280}}});
}

TEST(TfliteSniff, IdentifierAtByteFour) {
  for (const auto& e : fs::recursive_directory_iterator(kCorpus)) {
    if (!e.is_regular_file()) continue;
    EXPECT_EQ(formats::looks_like_tflite(read_bytes(e.path())), e.path().extension() == ".tflite") << e.path();
  }
  EXPECT_FALSE(formats::looks_like_tflite(Bytes{0, 0, 0, 0, 'T', 'F', 'L'}));
  EXPECT_TRUE(formats::looks_like_tflite(Bytes{0, 0, 0, 0, 'T', 'F', 'L', '3'}));
}

// ---------------------------------------------------------------- malformed flatbuffers
TEST(TfliteErrors, HeaderAndRoot) {
  expect_bad(Bytes{1, 2, 3}, {"tflite: file of 3 bytes is too short"});
  Built m = basic();
  Bytes b = m.fb.b;
  b[7] = '2';
  expect_bad(b, {"file identifier at byte 4 is not \"TFL3\""});
  m.fb.put32(0, uint32_t(m.fb.b.size()));
  expect_bad(m.fb.b, {"tflite: model: root: offset", "points outside the file"});
  m.fb.put32(0, 0);
  expect_bad(m.fb.b, {"root: offset 0 at 0 points to itself"});
  m.fb.put32(0, 0x80000000u);
  expect_bad(m.fb.b, {"root: offset 2147483648"});
}

TEST(TfliteErrors, SchemaVersion) {
  expect_bad(build({{}}, {}, 2).fb.b, {"tflite: model: schema version 2 is not supported (only 3)"});
}

TEST(TfliteErrors, BadVtables) {
  {
    Built m = basic();
    m.fb.put32(m.model.pos, uint32_t(m.model.pos + 100));  // vtable before the file start
    expect_bad(m.fb.b, {"Model table at offset", "its vtable offset", "points outside the file"});
  }
  {
    Built m = basic();
    m.fb.put32(m.model.pos, uint32_t(-int32_t(m.fb.b.size())));  // vtable after the file end
    expect_bad(m.fb.b, {"its vtable offset", "points outside the file"});
  }
  {
    Built m = basic();
    m.fb.put16(m.model.vtable, 3);
    expect_bad(m.fb.b, {"vtable at", "has size 3"});
  }
  {
    Built m = basic();
    m.fb.put16(m.model.vtable, 0xfffe);
    expect_bad(m.fb.b, {"has size 65534"});
  }
  {
    Built m = basic();
    m.fb.put16(m.tensors[0].vtable + 2, 0xffff);  // the table's size runs past the end
    expect_bad(m.fb.b, {"subgraph 0 tensor 0: Tensor table at offset", "its size 65535"});
  }
  {
    Built m = basic();
    m.fb.put16(m.tensors[0].vtable + 4 + 2 * 2, 200);  // field `buffer` outside the table
    expect_bad(m.fb.b, {"subgraph 0 tensor 0: field buffer: vtable entry 200 lies outside its table"});
  }
  {
    Built m = basic();
    m.fb.put16(m.buffers[1].vtable + 4, 2);  // field `data` overlapping the soffset
    expect_bad(m.fb.b, {"buffer 1: field data: vtable entry 2 lies outside its table"});
  }
}

TEST(TfliteErrors, BadVectorsAndStrings) {
  {
    Built m = basic();
    m.fb.put32(m.buffers_vec, 1000000);
    expect_bad(m.fb.b, {"model: buffers: vector at offset", "of 1000000 x 4 bytes runs past the end of the file"});
  }
  {
    Built m = basic();
    m.fb.put32(m.data[1], 0xffffffffu);
    expect_bad(m.fb.b, {"buffer 1: data: vector at offset", "4294967295 x 1 bytes"});
  }
  {
    Built m = basic();
    m.fb.put32(m.shapes[0], 0x40000000u);
    expect_bad(m.fb.b, {"subgraph 0 tensor 0: shape: vector"});
  }
  {
    Built m = basic();
    m.fb.b[m.names[1] + 4 + 1] = 'x';  // overwrite the NUL of "h"
    expect_bad(m.fb.b, {"subgraph 0 tensor 1: name: string at offset", "has no terminating NUL"});
  }
  {
    Built m = basic();
    m.fb.put32(m.tensors_vec + 4, 0);  // a tensor entry pointing to itself
    expect_bad(m.fb.b, {"subgraph 0 tensor 0: Tensor: offset 0 at", "points to itself"});
  }
  {
    Built m = basic();
    m.fb.put32(m.tensors[1].field[0], uint32_t(m.fb.b.size()));
    expect_bad(m.fb.b, {"subgraph 0 tensor 1: shape: offset", "points outside the file"});
  }
}

TEST(TfliteErrors, BadIndicesShapesAndSizes) {
  expect_bad(build({{}, fp32_bytes(2)}, {{"w", 0, {2}, 7}}).fb.b,
             {"tflite: subgraph 0 tensor 0: buffer index 7 is out of range (2 buffers)"});
  expect_bad(build({{}, fp32_bytes(2)}, {{"w", 0, {-2}, 1}}).fb.b, {"tensor 'w': shape[0] = -2 is negative"});
  expect_bad(build({{}, fp32_bytes(2)}, {{"w", 0, {3}, 1}}).fb.b,
             {"subgraph 0 tensor 0: tensor 'w': shape [3] of FLOAT32 needs 3 x 4 bytes, but buffer 1 holds 8"});
  expect_bad(build({{}, fp32_bytes(2)}, {{"w", 1, {65536, 65536, 65536, 65536}, 1}}).fb.b,
             {"needs more than 2^64 bytes"});
  // Strings and unknown types have no fixed size: not checked.
  const Built m = build({{}, fp32_bytes(2)}, {{"s", 5, {1}, 1}, {"u", 99, {7}, 1}});
  const FileLayout l = parse_tflite(m.fb.b);
  ASSERT_EQ(l.tensors.size(), 2u);
  EXPECT_EQ(l.tensors[1].dtype, "TYPE_99");
  EXPECT_EQ(l.tensors[1].element_size, 0u);
  EXPECT_EQ(l.regions[0].dtype, DType::bytes);  // two types share the buffer
}

TEST(TfliteErrors, OverlappingBuffers) {
  Built m = build({{}, fp32_bytes(2), fp32_bytes(2)}, {});
  m.fb.link(m.buffers[2].field[0], m.data[1]);  // buffer 2 now reads buffer 1's data
  expect_bad(m.fb.b, {"tflite: buffers 1 [", "and 2 [", "overlap"});
}

TEST(TfliteErrors, ExternalBuffers) {
  // Buffer.offset/size: data outside the flatbuffer, as in models over 2 GB.
  Built m = build({{}, {}}, {{"x", 0, {2}, 1}});
  const size_t data_at = m.fb.b.size();
  const Bytes payload = fp32_bytes(2);
  m.fb.b.insert(m.fb.b.end(), payload.begin(), payload.end());
  m.fb.put64(m.buffers[1].field[1], data_at);
  m.fb.put64(m.buffers[1].field[2], 8);
  const FileLayout l = parse_tflite(m.fb.b);
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.regions[0].offset, data_at);
  EXPECT_EQ(l.regions[0].size, 8u);
  m.fb.put64(m.buffers[1].field[2], 9);
  expect_bad(m.fb.b, {"buffer 1: data [", ", +9) lies outside the file"});
  m.fb.put64(m.buffers[1].field[1], UINT64_MAX);
  expect_bad(m.fb.b, {"buffer 1: data [18446744073709551615, +9) lies outside the file"});
  // Offset 1 is the converter's placeholder: inline data is used.
  Built p = build({{}, fp32_bytes(2)}, {{"x", 0, {2}, 1}});
  p.fb.put64(p.buffers[1].field[1], 1);
  EXPECT_EQ(parse_tflite(p.fb.b).regions[0].offset, p.data[1] + 4);
  p.fb.put64(p.buffers[1].field[1], 16);
  expect_bad(p.fb.b, {"buffer 1: has both inline data (8 bytes) and an offset (16)"});
}

TEST(TfliteErrors, SharedTablesCannotBlowUp) {
  // 2,000 subgraph entries, all the same SubGraph of 2,000 tensors: 4 million tensor visits.
  const std::vector<TensorSpec> many(2000, TensorSpec{"t", 0, {1}, 0});
  expect_bad(build({{}}, many, 3, 2000).fb.b, {"subgraph ", "more than a ", "SubGraph tables are shared"});
  // 3,000 entries of one tensor with a 20 kB name: 120 MB of names from a 32 kB file.
  const std::vector<TensorSpec> named{TensorSpec{std::string(20000, 'n'), 0, {2}, 1}};
  expect_bad(build({{}, fp32_bytes(2)}, named, 3, 1, 3000).fb.b, {"tables shared abusively"});
  // Sharing that stays small is fine: the tensor is listed each time.
  const FileLayout l = parse_tflite(build({{}, fp32_bytes(2)}, {{"w", 0, {2}, 1}}, 3, 2, 2).fb.b);
  EXPECT_EQ(l.tensors.size(), 4u);
  EXPECT_EQ(l.regions.size(), 1u);
}

TEST(TfliteErrors, EveryTruncationAndByteFlipFailsCleanly) {
  const Bytes full = read_bytes(kFormatsData / "tflite" / "small.tflite");
  for (size_t n = 0; n < full.size(); ++n)
    expect_error_or_valid(parse_tflite, std::span<const uint8_t>(full.data(), n), "cut at " + std::to_string(n));
  Bytes b = full;
  for (size_t i = 0; i < b.size(); ++i) {
    for (uint8_t x : {0x01, 0x80, 0xff}) {
      b[i] ^= x;
      expect_error_or_valid(parse_tflite, b, "byte " + std::to_string(i) + " ^ " + std::to_string(x));
      b[i] ^= x;
    }
  }
}

}  // namespace
}  // namespace tenzip::testing
