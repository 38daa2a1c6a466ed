// The GGUF parser: fixtures written by the gguf package and checked against GGUFReader's view,
// files built here field by field, and malformed ones, each of which must be refused with
// corrupt_input and a message naming the problem.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "formats_test_util.hpp"

namespace tenzip::testing {
namespace {

using formats::FileLayout;

// GGUF value types and ggml type ids used below.
enum : uint32_t { kU8 = 0, kU32 = 4, kI32 = 5, kString = 8, kArray = 9, kU64 = 10 };
enum : uint32_t { kF32 = 0, kF16 = 1, kQ4_0 = 2, kQ8_0 = 8, kI8 = 24, kF64 = 28, kBF16 = 30 };

void put32(Bytes& b, uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put64(Bytes& b, uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(uint8_t(v >> (8 * i)));
}
void put_str(Bytes& b, std::string_view s) {
  put64(b, s.size());
  b.insert(b.end(), s.begin(), s.end());
}

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> dims;  // ggml order, innermost first
  uint32_t type;
  uint64_t offset;
};

// A GGUF file assembled field by field; kv holds the encoded pairs, counted by n_kv.
struct Gguf {
  uint32_t version = 3;
  uint64_t n_kv = 0;
  Bytes kv;
  std::vector<TensorSpec> tensors;
  uint64_t alignment = 32;
  uint64_t data_bytes = 0;
  // Overrides for the header counts (0xff.. = use the real count).
  uint64_t n_tensors_field = ~uint64_t{0};

  Gguf& add_u32(std::string_view key, uint32_t v) {
    put_str(kv, key), put32(kv, kU32), put32(kv, v), ++n_kv;
    return *this;
  }
  Gguf& add_raw(std::string_view key, uint32_t type, const Bytes& value) {
    put_str(kv, key), put32(kv, type), kv.insert(kv.end(), value.begin(), value.end()), ++n_kv;
    return *this;
  }
  Gguf& tensor(std::string name, std::vector<uint64_t> dims, uint32_t type, uint64_t offset) {
    tensors.push_back({std::move(name), std::move(dims), type, offset});
    return *this;
  }
  Bytes header() const {
    Bytes b = as_bytes("GGUF");
    put32(b, version);
    put64(b, n_tensors_field != ~uint64_t{0} ? n_tensors_field : tensors.size());
    put64(b, n_kv);
    b.insert(b.end(), kv.begin(), kv.end());
    for (const auto& t : tensors) {
      put_str(b, t.name);
      put32(b, uint32_t(t.dims.size()));
      for (uint64_t d : t.dims) put64(b, d);
      put32(b, t.type);
      put64(b, t.offset);
    }
    return b;
  }
  Bytes bytes() const {
    Bytes b = header();
    if (!tensors.empty())
      while (b.size() % alignment) b.push_back(0);
    for (uint64_t i = 0; i < data_bytes; ++i) b.push_back(uint8_t(i * 13 + 5));
    return b;
  }
};

// An array value: element type, count, then the raw elements.
Bytes array_of(uint32_t elem, uint64_t n, const Bytes& elems = {}) {
  Bytes b;
  put32(b, elem);
  put64(b, n);
  b.insert(b.end(), elems.begin(), elems.end());
  return b;
}

// Arrays of arrays, `levels` deep, with one u8 at the bottom.
Bytes nested(int levels) {
  Bytes b = array_of(kU8, 1, {7});
  for (int i = 1; i < levels; ++i) {
    Bytes outer = array_of(kArray, 1);
    outer.insert(outer.end(), b.begin(), b.end());
    b = outer;
  }
  return b;
}

void expect_bad(const Bytes& file, const std::string& needle) {
  SCOPED_TRACE(needle);
  expect_error([&] { formats::parse_gguf(file); }, Errc::corrupt_input, "gguf: ", needle);
}

FileLayout parse_ok(const Bytes& f) {
  try {
    const FileLayout l = formats::parse_gguf(f);
    formats::check_layout(l, f.size());
    return l;
  } catch (const Error& e) {
    ADD_FAILURE() << "refused: " << e.what();
    return {};
  }
}

// ---------------------------------------------------------------- fixtures

class GgufFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(GgufFixture, MatchesGgufReader) {
  const auto path = formats_data(GetParam());
  const Bytes file = read_bytes(path);
  EXPECT_TRUE(formats::looks_like_gguf(file));
  EXPECT_FALSE(formats::looks_like_safetensors(file));
  const FileLayout l = formats::parse_gguf(file);
  ASSERT_NO_THROW(formats::check_layout(l, file.size()));
  EXPECT_EQ(l.format, "gguf");
  expect_matches_sidecar(l, file, path, /*same_order=*/true);
  ASSERT_EQ(l.regions.size(), l.tensors.size());
  for (const auto& t : l.tensors) {
    SCOPED_TRACE(t.name);
    const auto& r = l.regions[t.region];
    EXPECT_EQ(r.name, t.name);
    EXPECT_EQ(r.size, t.size);
    EXPECT_EQ(t.offset, 0u);
    const DType want = t.dtype == "F32" ? DType::fp32 : t.dtype == "F16" ? DType::fp16 : t.dtype == "BF16" ? DType::bf16 : DType::bytes;
    EXPECT_EQ(r.dtype, want);
  }
}

INSTANTIATE_TEST_SUITE_P(Formats, GgufFixture,
                         ::testing::Values("gguf_mixed.gguf", "gguf_align64.gguf", "gguf_v2.gguf", "gguf_kv_only.gguf"),
                         [](const auto& info) {
                           std::string s = info.param;
                           return s.substr(0, s.find('.'));
                         });

TEST(GgufFixtures, TypesShapesAndAlignment) {
  const Bytes file = read_bytes(formats_data("gguf_mixed.gguf"));
  const FileLayout l = formats::parse_gguf(file);
  std::map<std::string, const formats::Tensor*> by;
  for (const auto& t : l.tensors) by[t.name] = &t;
  // Outermost first: numpy (8, 16) is stored as ggml ne = [16, 8].
  EXPECT_EQ(by.at("token_embd.weight")->shape, (std::vector<uint64_t>{8, 16}));
  EXPECT_EQ(by.at("token_embd.weight")->element_size, 4u);
  EXPECT_EQ(by.at("blk.0.attn_k.weight")->element_size, 2u);  // BF16
  EXPECT_EQ(by.at("blk.0.ffn_up.weight")->dtype, "Q8_0");
  EXPECT_EQ(by.at("blk.0.ffn_up.weight")->element_size, 0u);  // a block format
  EXPECT_EQ(by.at("blk.0.ffn_up.weight")->size, 4u * 2 * 34);
  EXPECT_EQ(by.at("blk.0.ffn_gate.weight")->size, 2u * 144);  // Q4_K: 256 per 144-byte block
  EXPECT_EQ(by.at("ints.i64")->element_size, 8u);
  EXPECT_EQ(by.at("empty.f32")->size, 0u);

  const Bytes a64 = read_bytes(formats_data("gguf_align64.gguf"));
  for (const auto& r : formats::parse_gguf(a64).regions) EXPECT_EQ(r.offset % 64, 0u) << r.name;
}

// ---------------------------------------------------------------- built here, valid

TEST(GgufAccepts, Layouts) {
  // Tensors need not be packed in info order (ggml requires it; nothing here depends on it):
  // regions come in file order, tensors in info order.
  Gguf g;
  g.tensor("second", {4}, kF32, 32).tensor("first", {8}, kF16, 0).tensor("scalar", {}, kF32, 64);
  g.data_bytes = 68;
  const Bytes f = g.bytes();
  const FileLayout l = parse_ok(f);
  ASSERT_EQ(l.tensors.size(), 3u);
  EXPECT_EQ(l.tensors[0].name, "second");
  EXPECT_EQ(l.regions[l.tensors[0].region].name, "second");
  EXPECT_EQ(l.regions[0].name, "first");
  EXPECT_EQ(l.regions[0].dtype, DType::fp16);
  EXPECT_EQ(l.regions[1].dtype, DType::fp32);
  EXPECT_TRUE(l.tensors[2].shape.empty());  // n_dims 0: one element
  EXPECT_EQ(l.tensors[2].size, 4u);
  const uint64_t data_start = f.size() - 68;
  EXPECT_EQ(l.regions[0].offset, data_start);
  EXPECT_EQ(l.regions[2].offset, data_start + 64);

  // Version 2; alignment 1; an empty array; arrays 16 deep; a zero-size tensor on another's start.
  Gguf v2;
  v2.version = 2;
  v2.alignment = 1;
  v2.add_u32("general.alignment", 1).add_raw("e", kArray, array_of(kString, 0)).add_raw("deep", kArray, nested(16));
  v2.add_raw("strs", kArray, [] {
    Bytes b = array_of(kString, 2);
    put_str(b, "x"), put_str(b, "");
    return b;
  }());
  v2.tensor("z", {0, 3}, kQ8_0, 1).tensor("a", {1}, kF32, 1).tensor("b", {1}, kI8, 0);
  v2.data_bytes = 5;
  const FileLayout l2 = parse_ok(v2.bytes());
  ASSERT_EQ(l2.tensors.size(), 3u);
  EXPECT_EQ(l2.tensors[0].shape, (std::vector<uint64_t>{3, 0}));
  EXPECT_EQ(l2.regions[1].name, "z");  // zero-size first at a shared offset
  EXPECT_EQ(l2.tensors[2].dtype, "I8");

  // No tensors: no data section needed, not even the padding.
  Gguf none;
  none.add_u32("x", 1);
  const Bytes fn = none.header();
  EXPECT_TRUE(parse_ok(fn).regions.empty());
}

// Every prefix that keeps all tensor data parses (only padding was cut); shorter ones are refused.
TEST(GgufAccepts, PrefixesAndBitFlips) {
  const Bytes file = read_bytes(formats_data("gguf_v2.gguf"));
  const FileLayout full = formats::parse_gguf(file);
  uint64_t data_end = 0;
  for (const auto& r : full.regions) data_end = std::max(data_end, r.offset + r.size);
  ASSERT_LT(data_end, file.size());  // the writer pads after the last tensor
  for (size_t n = 0; n < file.size(); ++n) {
    const Bytes cut(file.begin(), file.begin() + n);
    try {
      const FileLayout l = formats::parse_gguf(cut);
      formats::check_layout(l, cut.size());
      EXPECT_GE(n, data_end) << "prefix of " << n << " bytes parsed";
    } catch (const Error& e) {
      ASSERT_EQ(e.code(), Errc::corrupt_input) << e.what();
      EXPECT_LT(n, data_end) << e.what();
    }
  }
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      Bytes f = file;
      f[i] ^= uint8_t(1 << bit);
      try {
        formats::check_layout(formats::parse_gguf(f), f.size());
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), Errc::corrupt_input) << e.what();
        ASSERT_EQ(std::string(e.what()).rfind("gguf: ", 0), 0u) << e.what();
      }
    }
  }
}

// ---------------------------------------------------------------- malformed

TEST(GgufMalformed, Header) {
  expect_bad(as_bytes("GGUG\x03\0\0\0"), "bad magic (not a GGUF file)");
  expect_bad(Bytes{}, "bad magic");
  expect_bad(as_bytes("GGUF"), "version at offset 4 needs 4 bytes, but the file ends after 0");
  Gguf g;
  g.tensor("a", {4}, kF32, 0).data_bytes = 16;
  Bytes f = g.bytes();
  f[4] = 1;
  expect_bad(f, "GGUF version 1 is not supported (only versions 2 and 3)");
  f[4] = 4;
  expect_bad(f, "version 4 is not supported");
  f[4] = 0;
  expect_bad(f, "version 0 is not supported");
  f[4] = 0, f[7] = 3;  // 3, big-endian
  expect_bad(f, "looks byte-swapped: big-endian GGUF files are not supported");
  f[4] = 3, f[7] = 0;
  expect_bad(Bytes(f.begin(), f.begin() + 12), "tensor count at offset 8 needs 8 bytes, but the file ends after 4");
}

TEST(GgufMalformed, Counts) {
  Gguf g;
  g.tensor("a", {4}, kF32, 0).data_bytes = 16;
  g.n_tensors_field = uint64_t{1} << 40;
  expect_bad(g.bytes(), "tensor count 1099511627776 cannot fit");
  Gguf k;
  k.add_u32("x", 1);
  k.n_kv = ~uint64_t{0};
  expect_bad(k.bytes(), "metadata key-value count 18446744073709551615 cannot fit");
  Gguf k2;
  k2.add_u32("x", 1);
  k2.n_kv = 2;  // one pair more than present
  expect_bad(k2.bytes(), "metadata key-value count 2 cannot fit");
}

TEST(GgufMalformed, Strings) {
  Gguf g;
  put64(g.kv, 1000), g.kv.push_back('k'), g.n_kv = 1;  // key length past the end
  g.kv.resize(g.kv.size() + 13);
  expect_bad(g.bytes(), "key of metadata entry 0 at offset 24: length 1000 runs past the end of the file (14 bytes left)");
  Gguf big;
  put64(big.kv, uint64_t{1} << 31), big.kv.resize(big.kv.size() + 13), big.n_kv = 1;
  expect_bad(big.bytes(), "has length 2147483648, over the limit of 1073741824");
  Gguf empty;
  empty.add_u32("", 1);
  expect_bad(empty.bytes(), "key of metadata entry 0 is empty");
  Gguf utf;
  utf.add_u32("k\xff", 1);
  expect_bad(utf.bytes(), "key of metadata entry 0 is not valid UTF-8");
  Gguf dup;
  dup.add_u32("k", 1).add_u32("k", 2);
  expect_bad(dup.bytes(), "duplicate metadata key 'k'");
  Gguf val;
  Bytes s;
  put64(s, 50), s.push_back('v');
  val.add_raw("k", kString, s);
  val.kv.resize(val.kv.size() + 13);
  expect_bad(val.bytes(), "metadata 'k' string at offset 37: length 50 runs past the end");
}

TEST(GgufMalformed, Values) {
  Gguf t;
  t.add_raw("k", 13, Bytes(8));
  expect_bad(t.bytes(), "metadata 'k' has unknown value type 13");
  Gguf e;
  e.add_raw("k", kArray, array_of(13, 0, Bytes(8)));
  expect_bad(e.bytes(), "metadata 'k': array has unknown element type 13");
  Gguf deep;
  deep.add_raw("k", kArray, nested(17));
  expect_bad(deep.bytes(), "metadata 'k': arrays nest deeper than 16 levels");
  Gguf many;
  many.add_raw("k", kArray, array_of(kString, 1000, Bytes(64)));
  expect_bad(many.bytes(), "metadata 'k': array of 1000 strings cannot fit");
  Gguf arrs;
  arrs.add_raw("k", kArray, array_of(kArray, 1000, Bytes(64)));
  expect_bad(arrs.bytes(), "array of 1000 arrays cannot fit");
  Gguf huge;
  huge.add_raw("k", kArray, array_of(kU8, (uint64_t{1} << 30) + 1, Bytes(64)));
  expect_bad(huge.bytes(), "metadata 'k': array of 1073741825 elements, over the limit");
  Gguf fixed;
  fixed.add_raw("k", kArray, array_of(kU32, 1000, Bytes(64)));
  expect_bad(fixed.bytes(), "metadata 'k' array data at offset");
  Gguf scalar;
  scalar.add_raw("k", kU64, Bytes(3));
  expect_bad(scalar.bytes(), "metadata 'k' value at offset");
}

TEST(GgufMalformed, Alignment) {
  Gguf t;
  t.add_raw("general.alignment", kU64, Bytes{32, 0, 0, 0, 0, 0, 0, 0});
  expect_bad(t.bytes(), "general.alignment must be a u32, got u64");
  Gguf a;
  a.add_raw("general.alignment", kArray, array_of(kU32, 1, Bytes{32, 0, 0, 0}));
  expect_bad(a.bytes(), "general.alignment must be a u32, got array");
  Gguf z;
  z.add_u32("general.alignment", 0);
  expect_bad(z.bytes(), "general.alignment 0 is not a power of two");
  Gguf n;
  n.add_u32("general.alignment", 48);
  expect_bad(n.bytes(), "general.alignment 48 is not a power of two");
}

TEST(GgufMalformed, TensorInfos) {
  const auto one = [](std::vector<uint64_t> dims, uint32_t type, uint64_t offset = 0, uint64_t data = 64) {
    Gguf g;
    g.tensor("t", std::move(dims), type, offset);
    g.data_bytes = data;
    return g.bytes();
  };
  expect_bad(one({1, 1, 1, 1, 1}, kF32), "tensor 't' has 5 dimensions, more than 4");
  expect_bad(one({uint64_t{1} << 63}, kF32), "tensor 't' dimension 0 is 9223372036854775808, over 2^63 - 1");
  expect_bad(one({uint64_t{1} << 32, uint64_t{1} << 32}, kF32),
             "tensor 't' shape (4294967296, 4294967296) has more than 2^63 - 1 elements");
  expect_bad(one({uint64_t{1} << 62}, kF64), "tensor 't' shape (4611686018427387904) of F64 overflows 64 bits in size");
  expect_bad(one({4}, 4), "tensor 't' has unknown ggml type 4");  // Q4_2, removed from ggml
  expect_bad(one({4}, 42), "unknown ggml type 42");
  expect_bad(one({33}, kQ4_0), "tensor 't' of type Q4_0 has 33 elements per row, not a multiple of its block size 32");
  expect_bad(one({4}, kF32, 16), "tensor 't' offset 16 is not a multiple of the alignment (32)");
  expect_bad(one({32}, kF32, 0, 64), "tensor 't' data [0, +128) in the data section at offset");
  expect_bad(one({1}, kF32, uint64_t{1} << 63), "runs past the end of the file");
  expect_bad(one({uint64_t{1} << 60, 0}, kBF16, ~uint64_t{31}), "runs past the end of the file");  // zero-size, far away

  Gguf dup;
  dup.tensor("t", {1}, kF32, 0).tensor("t", {1}, kF32, 32).data_bytes = 36;
  expect_bad(dup.bytes(), "duplicate tensor name 't'");
  Gguf utf;
  utf.tensor("\xc3", {1}, kF32, 0).data_bytes = 4;
  expect_bad(utf.bytes(), "name of tensor 0 is not valid UTF-8");
  Gguf cut;
  cut.tensor("t", {1, 2}, kF32, 0);
  Bytes h = cut.header();
  h.resize(h.size() - 14);  // into the second dimension
  expect_bad(h, "tensor 't' dimension 1 at offset");
}

TEST(GgufMalformed, Overlaps) {
  Gguf g;
  g.tensor("a", {16}, kF32, 0).tensor("b", {8}, kF32, 32).data_bytes = 64;
  expect_bad(g.bytes(), "tensor 'b' data [32, +32) overlaps tensor 'a' [0, +64)");
  Gguf same;
  same.tensor("a", {8}, kF16, 0).tensor("b", {8}, kF16, 0).data_bytes = 16;
  expect_bad(same.bytes(), "tensor 'b' data [0, +16) overlaps tensor 'a' [0, +16)");
  Gguf inside;
  inside.tensor("a", {16}, kF32, 0).tensor("z", {0}, kF32, 32).data_bytes = 64;
  expect_bad(inside.bytes(), "tensor 'z' data [32, +0) overlaps tensor 'a'");
  // The data section would start past the end of the file.
  Gguf past;
  past.tensor("z", {0}, kF32, 0);
  Bytes h = past.header();
  ASSERT_NE(h.size() % 32, 0u);
  expect_bad(h, "data section would start at offset");
}

TEST(GgufSniff, LooksLike) {
  EXPECT_TRUE(formats::looks_like_gguf(as_bytes("GGUF")));
  EXPECT_FALSE(formats::looks_like_gguf(as_bytes("GGU")));
  EXPECT_FALSE(formats::looks_like_gguf(as_bytes("ggml\x03")));
  EXPECT_FALSE(formats::looks_like_gguf(read_bytes(formats_data("st_torch.safetensors"))));
}

}  // namespace
}  // namespace tenzip::testing
