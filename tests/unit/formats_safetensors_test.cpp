// The safetensors parser: fixtures written by the reference packages and checked against the
// reference loader's view, the real corpus files, and malformed headers, each of which must be
// refused with corrupt_input and a message naming the problem.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <tuple>

#include "formats_test_util.hpp"

namespace tenzip::testing {
namespace {

using formats::FileLayout;

// A safetensors file: the header length, the header text and the data section.
Bytes st(std::string_view header, size_t data_bytes = 0) {
  Bytes b(8);
  for (int i = 0; i < 8; ++i) b[i] = uint8_t(uint64_t{header.size()} >> (8 * i));
  b.insert(b.end(), header.begin(), header.end());
  for (size_t i = 0; i < data_bytes; ++i) b.push_back(uint8_t(i * 7 + 1));
  return b;
}

const std::string kOne = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";

void expect_bad(const Bytes& file, const std::string& needle) {
  SCOPED_TRACE(needle);
  expect_error([&] { formats::parse_safetensors(file); }, Errc::corrupt_input, "safetensors: ", needle);
}

// Checks every property a valid safetensors layout has beyond check_layout: the regions tile the
// data section in tensor order, one per tensor, with the dtype mapped as the model layer wants.
void expect_well_formed(const FileLayout& l, std::span<const uint8_t> file) {
  ASSERT_NO_THROW(formats::check_layout(l, file.size()));
  EXPECT_EQ(l.format, "safetensors");
  ASSERT_EQ(l.regions.size(), l.tensors.size());
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | file[i];
  uint64_t at = 8 + n;
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& t = l.tensors[i];
    const auto& r = l.regions[i];
    SCOPED_TRACE(t.name);
    EXPECT_EQ(t.region, i);
    EXPECT_EQ(t.offset, 0u);
    EXPECT_TRUE(t.strides.empty());
    EXPECT_EQ(r.name, t.name);
    EXPECT_EQ(r.offset, at);
    EXPECT_EQ(r.size, t.size);
    at += r.size;
    const DType want = t.dtype == "F32"       ? DType::fp32
                       : t.dtype == "F16"     ? DType::fp16
                       : t.dtype == "BF16"    ? DType::bf16
                       : t.dtype == "F8_E4M3" ? DType::fp8_e4m3
                       : t.dtype == "F8_E5M2" ? DType::fp8_e5m2
                                              : DType::bytes;
    EXPECT_EQ(r.dtype, want);
    if (i > 0) {  // offset order, ties by name
      const auto& p = l.tensors[i - 1];
      EXPECT_LE(std::make_tuple(l.regions[i - 1].offset, p.size, p.name), std::make_tuple(r.offset, t.size, t.name));
    }
  }
  EXPECT_EQ(at, file.size()) << "the tensors do not cover the data section";
}

// ---------------------------------------------------------------- fixtures

class SafetensorsFixture : public ::testing::TestWithParam<const char*> {};

TEST_P(SafetensorsFixture, MatchesTheReferenceLoader) {
  const auto path = formats_data(GetParam());
  const Bytes file = read_bytes(path);
  EXPECT_TRUE(formats::looks_like_safetensors(file));
  const FileLayout l = formats::parse_safetensors(file);
  expect_well_formed(l, file);
  expect_matches_sidecar(l, file, path, /*same_order=*/false);
}

INSTANTIATE_TEST_SUITE_P(Formats, SafetensorsFixture,
                         ::testing::Values("st_torch.safetensors", "st_all_dtypes.safetensors",
                                           "st_numpy.safetensors", "st_handmade.safetensors",
                                           "st_empty.safetensors"),
                         [](const auto& info) {
                           std::string s = info.param;
                           return s.substr(0, s.find('.'));
                         });

TEST(SafetensorsFixtures, DtypesAndElementSizes) {
  const Bytes file = read_bytes(formats_data("st_all_dtypes.safetensors"));
  const FileLayout l = formats::parse_safetensors(file);
  ASSERT_EQ(l.tensors.size(), 22u);  // every dtype the reference knows
  std::map<std::string, uint32_t> es;
  for (const auto& t : l.tensors) es[t.dtype] = t.element_size;
  EXPECT_EQ(es.at("F4"), 0u);  // sub-byte: no whole-byte element
  EXPECT_EQ(es.at("F6_E2M3"), 0u);
  EXPECT_EQ(es.at("F6_E3M2"), 0u);
  EXPECT_EQ(es.at("BOOL"), 1u);
  EXPECT_EQ(es.at("F8_E8M0"), 1u);
  EXPECT_EQ(es.at("BF16"), 2u);
  EXPECT_EQ(es.at("F32"), 4u);
  EXPECT_EQ(es.at("C64"), 8u);
  EXPECT_EQ(es.at("U64"), 8u);
}

TEST(SafetensorsFixtures, ZeroSizeAndScalarTensors) {
  const Bytes file = read_bytes(formats_data("st_torch.safetensors"));
  const FileLayout l = formats::parse_safetensors(file);
  std::map<std::string, const formats::Tensor*> by;
  for (const auto& t : l.tensors) by[t.name] = &t;
  EXPECT_EQ(by.at("empty.f32")->shape, (std::vector<uint64_t>{0, 4}));
  EXPECT_EQ(by.at("empty.f32")->size, 0u);
  EXPECT_EQ(l.regions[by.at("empty.bf16")->region].size, 0u);
  EXPECT_TRUE(by.at("scalar.f32")->shape.empty());
  EXPECT_EQ(by.at("scalar.f32")->size, 4u);
  EXPECT_EQ(by.at("scalar.i64")->size, 8u);
}

TEST(SafetensorsFixtures, HandmadeHeaderOrderAndNames) {
  // Header order differs from offset order; two zero-size tensors share offset 0 (ties by name).
  const Bytes file = read_bytes(formats_data("st_handmade.safetensors"));
  const FileLayout l = formats::parse_safetensors(file);
  std::vector<std::string> names;
  for (const auto& t : l.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"a.zero", "z.zero", "poids.\xc3\xa9t\xc3\xa9.\xe9\x87\x8d\xe3\x81\xbf",
                                             "A.escaped", "last"}));
}

// ---------------------------------------------------------------- corpus

std::filesystem::path corpus_file(const char* rel) { return std::filesystem::path(TENZIP_CORPUS_DIR) / rel; }

uint64_t fnv1a64(std::span<const uint8_t> b) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (uint8_t c : b) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

// The corpus files are too big to copy: their sidecars hold an FNV-1a hash per tensor, from the
// reference loader.
void check_corpus(const char* rel, size_t n_tensors, uint64_t data_bytes) {
  const auto path = corpus_file(rel);
  if (!std::filesystem::exists(path)) GTEST_SKIP() << "corpus file missing: " << path;
  const Bytes file = read_bytes(path);
  ASSERT_TRUE(formats::looks_like_safetensors(file));
  const FileLayout l = formats::parse_safetensors(file);
  expect_well_formed(l, file);
  ASSERT_EQ(l.tensors.size(), n_tensors);
  uint64_t total = 0;
  for (const auto& t : l.tensors) {
    EXPECT_EQ(t.dtype, "F32");
    EXPECT_EQ(l.regions[t.region].dtype, DType::fp32);
    EXPECT_EQ(t.element_size, 4u);
    total += t.size;
  }
  EXPECT_EQ(total, data_bytes);

  const std::string name = std::filesystem::path(rel).filename().string();
  const Bytes js = read_bytes(formats_data("corpus_" + name + ".expected.json"));
  const auto meta = nlohmann::json::parse(js.begin(), js.end());
  EXPECT_EQ(meta.at("file_size").get<uint64_t>(), file.size());
  std::map<std::string, const formats::Tensor*> by;
  for (const auto& t : l.tensors) by[t.name] = &t;
  ASSERT_EQ(meta.at("tensors").size(), n_tensors);
  for (const auto& w : meta.at("tensors")) {
    const std::string tn = w.at("name").get<std::string>();
    SCOPED_TRACE(tn);
    ASSERT_TRUE(by.count(tn));
    const auto& t = *by[tn];
    EXPECT_EQ(t.dtype, w.at("dtype").get<std::string>());
    EXPECT_EQ(t.shape, w.at("shape").get<std::vector<uint64_t>>());
    EXPECT_EQ(t.size, w.at("size").get<uint64_t>());
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(tensor_bytes(l, t, file))));
    EXPECT_EQ(hex, w.at("fnv1a64").get<std::string>());
  }
}

TEST(SafetensorsCorpus, TlReverseModel) { check_corpus("llm/tl_reverse_model.safetensors", 38, 1607728); }
TEST(SafetensorsCorpus, SileroVad16k) { check_corpus("audio/silero_vad_16k.safetensors", 15, 1238532); }

// ---------------------------------------------------------------- what the reference accepts

TEST(SafetensorsAccepts, ReferenceQuirks) {
  const auto ok = [](const std::string& header, size_t data) -> FileLayout {
    SCOPED_TRACE(header);
    const Bytes f = st(header, data);
    EXPECT_TRUE(formats::looks_like_safetensors(f));
    try {
      const FileLayout l = formats::parse_safetensors(f);
      expect_well_formed(l, f);
      return l;
    } catch (const Error& e) {
      ADD_FAILURE() << "refused: " << e.what();
      return {};
    }
  };
  EXPECT_TRUE(ok("{}", 0).regions.empty());
  ok(" \t\r\n{}  \n", 0);                                                        // JSON whitespace around
  ok(R"({"__metadata__":null})", 0);                                             // null metadata
  ok(R"({"__metadata__":{}})", 0);
  ok(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":{"x":[1]}}})", 8);  // unknown field
  EXPECT_EQ(ok(R"({"\u0041\u00e9":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1).tensors.at(0).name, "A\xc3\xa9");
  EXPECT_EQ(ok(R"({"":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})", 1).tensors.at(0).name, "");
  ok(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,8]}})", 8);             // scalar
  ok(R"({"f4":{"dtype":"F4","shape":[3,2],"data_offsets":[0,3]}})", 3);          // 6 nibbles
  ok(R"({"f6":{"dtype":"F6_E3M2","shape":[4],"data_offsets":[0,3]}})", 3);       // 24 bits
  // Nesting up to 127 levels, the reference's limit (2 here + 125 arrays).
  ok(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" + std::string(125, '[') + std::string(125, ']') +
         "}}",
     1);
  // Zero-size tensors anywhere on a tensor boundary.
  const FileLayout l = ok(R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"z":{"dtype":"F32","shape":[0,3],"data_offsets":[2,2]},)"
                          R"("e":{"dtype":"BF16","shape":[0],"data_offsets":[4,4]},"c":{"dtype":"U16","shape":[1],"data_offsets":[2,4]}})",
                          4);
  std::vector<std::string> names;
  for (const auto& t : l.tensors) names.push_back(t.name);
  EXPECT_EQ(names, (std::vector<std::string>{"b", "z", "c", "e"}));
}

// ---------------------------------------------------------------- malformed input

TEST(SafetensorsMalformed, HeaderLength) {
  expect_bad(Bytes{1, 0, 0}, "too short for the 8-byte header length");
  expect_bad(Bytes{}, "too short");
  Bytes big = st("{}");
  big[0] = 0x01, big[1] = 0xe1, big[2] = 0xf5, big[3] = 0x05;  // 100,000,001
  expect_bad(big, "header length 100000001 exceeds the limit of 100000000 bytes");
  Bytes huge = st("{}");
  std::fill(huge.begin(), huge.begin() + 8, 0xff);
  expect_bad(huge, "exceeds the limit");
  Bytes past = st(kOne, 8);
  past[0] = uint8_t(past.size());  // the header length reaches one byte past the end
  expect_bad(past, "runs past the end of the file");
  expect_bad(st(""), "not valid JSON");
}

TEST(SafetensorsMalformed, HeaderText) {
  expect_bad(st("{\"\xff\":{}}"), "not valid UTF-8 (byte 2 of the header)");
  expect_bad(st("{\"\xed\xa0\x80\":{}}"), "not valid UTF-8");  // an encoded surrogate
  expect_bad(st("{\"\xc0\xaf\":{}}"), "not valid UTF-8");      // overlong
  expect_bad(st(R"({"a":{"dtype":"F32",]})"), "not valid JSON");
  expect_bad(st("{}x"), "not valid JSON");
  expect_bad(st(std::string("{}\0", 3)), "not valid JSON: a NUL byte at byte 2");
  expect_bad(st(std::string("{}\0x", 4)), "not valid JSON: a NUL byte");
  expect_bad(st("\xef\xbb\xbf{}"), "not valid JSON: it starts with a UTF-8 byte-order mark");
  expect_bad(st("{/*c*/}"), "not valid JSON");
  expect_bad(st(R"({"a\ud800":1})"), "not valid JSON");  // a lone surrogate escape
  expect_bad(st("[]"), "header must be a JSON object, got array");
  expect_bad(st("5"), "header must be a JSON object");
  // 128 levels: 2 + 126 arrays.
  expect_bad(st(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":)" + std::string(126, '[') +
                std::string(126, ']') + "}}", 1),
             "nests deeper than 127 levels");
  expect_bad(st(std::string(200000, '[') + std::string(200000, ']')), "nests deeper");
}

TEST(SafetensorsMalformed, DuplicateKeys) {
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
             "duplicate tensor name 'a'");
  expect_bad(st(R"({"a":{"dtype":"F32","dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8),
             "tensor 'a': duplicate field 'dtype'");
  expect_bad(st(R"({"__metadata__":{"k":"1","k":"2"}})"), "__metadata__: duplicate key 'k'");
  expect_bad(st(R"({"__metadata__":{},"__metadata__":{}})"), "__metadata__ appears twice");
  expect_bad(st(R"({"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":[{"y":1,"y":2}]}})", 1),
             "duplicate key 'y'");
}

TEST(SafetensorsMalformed, Metadata) {
  expect_bad(st(R"({"__metadata__":{"k":1}})"), "__metadata__: value of 'k' must be a string, got number");
  expect_bad(st(R"({"__metadata__":{"k":null}})"), "value of 'k' must be a string");
  expect_bad(st(R"({"__metadata__":"x"})"), "__metadata__ must be a map of strings, got string");
  expect_bad(st(R"({"__metadata__":["x"]})"), "__metadata__ must be a map");
}

TEST(SafetensorsMalformed, TensorEntries) {
  expect_bad(st(R"({"a":5})"), "tensor 'a': entry must be a JSON object, got number");
  expect_bad(st(R"({"a":["F32",[2],[0,8]]})", 8), "tensor 'a': entry must be a JSON object, got array");
  expect_bad(st(R"({"a":{"shape":[2],"data_offsets":[0,8]}})", 8), "tensor 'a': missing field 'dtype'");
  expect_bad(st(R"({"a":{"dtype":"F32","data_offsets":[0,8]}})", 8), "tensor 'a': missing field 'shape'");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2]}})", 8), "tensor 'a': missing field 'data_offsets'");
  expect_bad(st(R"({"a":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8), "tensor 'a': unknown dtype \"F31\"");
  expect_bad(st(R"({"a":{"dtype":"f32","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype \"f32\"");
  expect_bad(st(R"({"a":{"dtype":3,"shape":[2],"data_offsets":[0,8]}})", 8), "tensor 'a': dtype must be a string");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":2,"data_offsets":[0,8]}})", 8), "tensor 'a': shape must be an array");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
             "tensor 'a': each shape dimension must be a non-negative integer, got -2");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2.0],"data_offsets":[0,8]}})", 8), "non-negative integer, got 2.0");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]}})"), "non-negative integer");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,8]}})", 8),
             "non-negative integer");  // past u64: a float to the JSON parser, as to serde
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8,8]}})", 8),
             "tensor 'a': data_offsets must be an array of 2 integers");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":["0","8"]}})", 8),
             "data_offsets[0] must be a non-negative integer");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8e0]}})", 8), "data_offsets[1] must be");
}

TEST(SafetensorsMalformed, Offsets) {
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
             "tensor 'a': data_offsets [8, 0) end before they begin");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8),
             "tensor 'a': data_offsets [0, 16) run past the end of the data section (8 bytes)");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551615,18446744073709551615]}})", 8),
             "run past the end of the data section");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
             "tensor 'b': data_offsets [4, 8) overlap tensor 'a' [0, 8)");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})", 8),
             "tensor 'z': data_offsets [4, 4) overlap tensor 'a'");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12),
             "data section bytes [4, 8) belong to no tensor (a hole before tensor 'b')");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
             "data section bytes [0, 4) belong to no tensor (a hole before tensor 'a')");
  expect_bad(st(kOne, 12), "data section bytes [8, 12) at its end belong to no tensor");
  expect_bad(st("{}", 1), "data section bytes [0, 1) at its end belong to no tensor");
}

TEST(SafetensorsMalformed, Sizes) {
  expect_bad(st(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[0,8]}})", 8),
             "tensor 'a': data_offsets [0, 8) hold 8 bytes but shape [2] of F16 needs 4");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,0]}})"), "hold 0 bytes but shape [] of F32 needs 4");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}})", 8),
             "tensor 'a': shape [4294967296, 4294967296] overflows 64 bits");
  expect_bad(st(R"({"a":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,8]}})", 8),
             "shape [4611686018427387904] of F32 overflows 64 bits in size");
  expect_bad(st(R"({"a":{"dtype":"F4","shape":[3],"data_offsets":[0,1]}})", 1),
             "tensor 'a': 3 F4 elements do not fill a whole number of bytes");
  expect_bad(st(R"({"a":{"dtype":"F6_E2M3","shape":[2],"data_offsets":[0,1]}})", 1), "do not fill a whole number of bytes");
}

// Every prefix of a valid file is refused (the data section no longer matches the header), and
// every single-bit change either parses to a valid layout or is refused: never anything else.
TEST(SafetensorsMalformed, TruncationsAndBitFlips) {
  for (const char* name : {"st_handmade.safetensors", "st_all_dtypes.safetensors"}) {
    SCOPED_TRACE(name);
    const Bytes file = read_bytes(formats_data(name));
    for (size_t n = 0; n < file.size(); ++n) {
      const Bytes cut(file.begin(), file.begin() + n);
      try {
        formats::parse_safetensors(cut);
        ADD_FAILURE() << "prefix of " << n << " bytes parsed";
      } catch (const Error& e) {
        ASSERT_EQ(e.code(), Errc::corrupt_input) << e.what();
      }
    }
    size_t accepted = 0;
    for (size_t i = 0; i < file.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        Bytes f = file;
        f[i] ^= uint8_t(1 << bit);
        try {
          const FileLayout l = formats::parse_safetensors(f);
          formats::check_layout(l, f.size());
          ++accepted;
        } catch (const Error& e) {
          ASSERT_EQ(e.code(), Errc::corrupt_input) << e.what();
          ASSERT_EQ(std::string(e.what()).rfind("safetensors: ", 0), 0u) << e.what();
        }
      }
    }
    EXPECT_GT(accepted, 0u);  // flips inside the tensor data change nothing the parser checks
  }
}

TEST(SafetensorsSniff, LooksLike) {
  EXPECT_TRUE(formats::looks_like_safetensors(st("{}")));
  EXPECT_TRUE(formats::looks_like_safetensors(st("  \n{\"a\":")));  // a sniff, not a parse
  EXPECT_FALSE(formats::looks_like_safetensors(Bytes{}));
  EXPECT_FALSE(formats::looks_like_safetensors(st("")));
  EXPECT_FALSE(formats::looks_like_safetensors(st("[]")));
  EXPECT_FALSE(formats::looks_like_safetensors(st("    ")));
  Bytes past = st("{}");
  past[0] = 3;  // the header runs past the end: still recognised, so that the parser reports the truncation
  EXPECT_TRUE(formats::looks_like_safetensors(past));
  EXPECT_THROW(formats::parse_safetensors(past), Error);
  Bytes huge = st("{}");
  huge[7] = 1;  // a header length of 2^56: not safetensors at all
  EXPECT_FALSE(formats::looks_like_safetensors(huge));
  EXPECT_FALSE(formats::looks_like_safetensors(read_bytes(formats_data("gguf_v2.gguf"))));
}

}  // namespace
}  // namespace tenzip::testing
