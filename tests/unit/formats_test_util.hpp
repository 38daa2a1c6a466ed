// Helpers shared by the model-file parser tests: fixture files, the reference loaders' sidecars
// (tests/formats/gen_safetensors_gguf.py) and error expectations.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "formats/layout.hpp"

namespace tenzip::testing {

using Bytes = std::vector<uint8_t>;

inline Bytes read_bytes(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + p.string());
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

inline std::filesystem::path formats_data(const std::string& name) {
  return std::filesystem::path(TENZIP_SOURCE_DIR) / "tests" / "data" / "formats" / name;
}

inline Bytes as_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Runs f, which must throw tenzip::Error with `code` and a message that starts with `prefix`
// and contains `needle`.
inline void expect_error(const std::function<void()>& f, Errc code, const std::string& prefix,
                         const std::string& needle) {
  try {
    f();
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.code(), code) << msg;
    EXPECT_EQ(msg.rfind(prefix, 0), 0u) << "message does not start with '" << prefix << "': " << msg;
    EXPECT_NE(msg.find(needle), std::string::npos) << "message does not name '" << needle << "': " << msg;
    return;
  }
  ADD_FAILURE() << "no tenzip::Error thrown; expected one naming '" << needle << "'";
}

// The bytes the layout says tensor t has.
inline std::span<const uint8_t> tensor_bytes(const formats::FileLayout& l, const formats::Tensor& t,
                                             std::span<const uint8_t> file) {
  const formats::Region& r = l.regions.at(t.region);
  return file.subspan(r.offset + t.offset, t.size);
}

// Compares a parsed layout with what the reference loader saw (<file>.expected.json/.bin): the
// same tensors, names, dtype strings, shapes, sizes, file offsets (when recorded) and bytes.
// `same_order`: the sidecar lists tensors in the file's order (GGUF), else by name.
inline void expect_matches_sidecar(const formats::FileLayout& l, std::span<const uint8_t> file,
                                   const std::filesystem::path& fixture, bool same_order) {
  const Bytes js = read_bytes(fixture.string() + ".expected.json");
  const auto meta = nlohmann::json::parse(js.begin(), js.end());
  const Bytes bin = read_bytes(fixture.string() + ".expected.bin");
  EXPECT_EQ(l.format, meta.at("format").get<std::string>());
  const auto& want = meta.at("tensors");
  ASSERT_EQ(l.tensors.size(), want.size());
  std::map<std::string, const formats::Tensor*> by_name;
  for (const auto& t : l.tensors) by_name[t.name] = &t;
  ASSERT_EQ(by_name.size(), l.tensors.size()) << "tensor names repeat";
  for (size_t i = 0; i < want.size(); ++i) {
    const auto& w = want[i];
    const std::string name = w.at("name").get<std::string>();
    SCOPED_TRACE("tensor '" + name + "'");
    const formats::Tensor* t = same_order ? &l.tensors[i] : by_name.count(name) ? by_name[name] : nullptr;
    ASSERT_NE(t, nullptr);
    EXPECT_EQ(t->name, name);
    EXPECT_EQ(t->dtype, w.at("dtype").get<std::string>());
    EXPECT_EQ(t->shape, w.at("shape").get<std::vector<uint64_t>>());
    const uint64_t size = w.at("size").get<uint64_t>(), at = w.at("bin_offset").get<uint64_t>();
    ASSERT_EQ(t->size, size);
    ASSERT_LE(at + size, bin.size());
    if (w.contains("file_offset")) {
      EXPECT_EQ(l.regions.at(t->region).offset + t->offset, w.at("file_offset").get<uint64_t>());
    }
    // A strided view (a Fortran-order array) is compared as the loader returns it: gathered.
    const formats::Region& r = l.regions.at(t->region);
    const Bytes gathered = t->strides.empty() ? Bytes{} : formats::gather_tensor(file.subspan(r.offset, r.size), *t);
    const auto got = t->strides.empty() ? tensor_bytes(l, *t, file) : std::span<const uint8_t>(gathered);
    EXPECT_TRUE(size == 0 || std::memcmp(got.data(), bin.data() + at, size) == 0) << "bytes differ";
  }
}


// ---- helpers of the ONNX / TFLite tests
namespace fs = std::filesystem;
inline const fs::path kFormatsData = fs::path(TENZIP_SOURCE_DIR) / "tests" / "data" / "formats";
inline const fs::path kCorpus = fs::path(TENZIP_CORPUS_DIR);

inline nlohmann::json read_json(const fs::path& p) {
  const Bytes b = read_bytes(p);
  return nlohmann::json::parse(b.begin(), b.end());
}

// zlib's CRC-32, as Python's zlib.crc32 writes into the sidecars.
inline uint32_t crc32(std::span<const uint8_t> b) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (uint8_t x : b) c = table[(c ^ x) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// The bytes of tensor t, from the file through its region (file-first argument order).
inline std::span<const uint8_t> tensor_bytes(std::span<const uint8_t> file, const formats::FileLayout& l,
                                             const formats::Tensor& t) {
  const formats::Region& r = l.regions.at(t.region);
  return file.subspan(r.offset + t.offset, t.size);
}

// `parse` must throw Error(corrupt_input) whose message contains every needle.
inline void expect_corrupt(const std::function<void()>& parse, std::initializer_list<std::string> needles) {
  try {
    parse();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(errc_name(e.code()), errc_name(Errc::corrupt_input)) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

// Robustness on damaged input: parse either throws Error(corrupt_input) or returns a layout
// that check_layout accepts. Anything else (another exception, a crash) fails the test.
inline void expect_error_or_valid(const std::function<formats::FileLayout(std::span<const uint8_t>)>& parse,
                                  std::span<const uint8_t> in, const std::string& what) {
  try {
    const formats::FileLayout l = parse(in);
    try {
      formats::check_layout(l, in.size());
    } catch (const Error& e) {
      ADD_FAILURE() << what << ": parsed into an invalid layout: " << e.what();
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_input) << what << ": " << e.what();
  }
}

// Per format dtype name: how many tensors and how many bytes a corpus file must have.
struct Totals {
  size_t count = 0;
  uint64_t bytes = 0;
};
// The tensors of `l`, totalled per format dtype name, equal `want`; every tensor named
// `float_name` (e.g. "FLOAT") sits in a region coded as `float_dtype`.
inline void expect_dtype_totals(const formats::FileLayout& l, const std::map<std::string, Totals>& want,
                                const std::string& float_name, DType float_dtype) {
  std::map<std::string, Totals> got;
  for (const auto& t : l.tensors) {
    got[t.dtype].count++;
    got[t.dtype].bytes += t.size;
    if (t.dtype == float_name) {
      EXPECT_EQ(l.regions[t.region].dtype, float_dtype);
    }
  }
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [dtype, w] : want) {
    EXPECT_EQ(got[dtype].count, w.count) << dtype;
    EXPECT_EQ(got[dtype].bytes, w.bytes) << dtype;
  }
}

}  // namespace tenzip::testing
