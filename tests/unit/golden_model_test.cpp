// Golden model containers: model files of every format compressed by compress_model
// (tests/golden/model), which must keep decoding to the same file with the same tensor directory,
// and containers whose directory is damaged (tests/golden_errors/model), which must keep failing
// with the same message. They pin the model metadata (doc/FORMAT.md section 13) as the other
// golden files pin the container.
//
// Regenerate, deliberately, after a change to the directory or to the codec's output:
//   tests/golden/regenerate.sh [build-dir]
// which runs this binary with TENZIP_REGENERATE_GOLDEN=1 (test GoldenModel.Regenerate). It also
// writes the model_fuzzer's seeds.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>
#include <zstd.h>

#include "container/format.hpp"
#include "container_test_util.hpp"
#include "formats_test_util.hpp"
#include "model/metadata.hpp"
#include "tenzip/model.hpp"

namespace tenzip::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const fs::path kGoldenModel = fs::path(TENZIP_SOURCE_DIR) / "tests" / "golden" / "model";
const fs::path kGoldenErrors = fs::path(TENZIP_SOURCE_DIR) / "tests" / "golden_errors" / "model";
const fs::path kSeeds = fs::path(TENZIP_SOURCE_DIR) / "fuzz" / "corpus" / "model_fuzzer";

// A model file (a fixture of tests/data/formats, or one written here) compressed with these
// options gives tests/golden/model/<name>.tnz; with a base, as a delta against it.
struct ModelCase {
  std::string name;
  fs::path source;
  fs::path base;  // empty: not a delta
};
// A second "training step" of st_torch.safetensors, written by the regeneration.
const fs::path kStep2 = kGoldenModel / "st_torch_step2.safetensors";

const std::vector<ModelCase>& model_cases() {
  static const std::vector<ModelCase> c = {
      {"st_torch.safetensors", formats_data("st_torch.safetensors"), {}},
      {"gguf_mixed.gguf", formats_data("gguf_mixed.gguf"), {}},
      {"state_dict.pt", formats_data("pytorch/state_dict.pt"), {}},  // shared storages, strided views
      {"scripted.pt", formats_data("pytorch/scripted.pt"), {}},      // TorchScript
      {"torch_mlp.onnx", formats_data("onnx/torch_mlp.onnx"), {}},
      {"small.tflite", formats_data("tflite/small.tflite"), {}},
      {"savez.npz", formats_data("numpy/savez.npz"), {}},  // Fortran-order member: a strided view
      {"st_torch_step2.delta", kStep2, formats_data("st_torch.safetensors")},
  };
  return c;
}

ModelCompressOptions golden_options() {
  ModelCompressOptions o;
  o.level = 3;
  o.chunk_elems = 64;  // several chunks in the larger tensors
  return o;
}

Bytes compress_model_case(const ModelCase& k) {
  const Bytes file = read_bytes(k.source);
  const Bytes base = k.base.empty() ? Bytes{} : read_bytes(k.base);
  Bytes out;
  compress_model(file, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); },
                 golden_options(), base, k.source.filename().string());
  return out;
}

Bytes decompress_model(const ModelReader& r, std::span<const uint8_t> base = {}) {
  Bytes out;
  r.decompress([&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, base, 2);
  return out;
}

void write_bytes(const fs::path& p, std::span<const uint8_t> b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}

// The same container with other metadata: the index's metadata field replaced, the index size
// and checksum in the footer updated. Chunks and frames are untouched.
Bytes with_metadata(const Bytes& good, std::string_view metadata) {
  using namespace detail;
  const Reader r(good);
  const uint64_t footer = good.size() - kFooterSize;
  const uint64_t index_offset = load_u64(&good[footer]);
  const uint64_t size_field =
      index_offset + 16 + kIndexSegmentSize * r.info().segments.size() + kIndexChunkSize * r.info().chunks.size();
  Bytes out(good.begin(), good.begin() + static_cast<ptrdiff_t>(size_field + 8));
  store_u64(&out[size_field], metadata.size());
  out.insert(out.end(), metadata.begin(), metadata.end());
  const uint64_t index_size = out.size() - index_offset;
  out.insert(out.end(), good.begin() + static_cast<ptrdiff_t>(footer), good.end());
  uint8_t* f = &out[out.size() - kFooterSize];
  store_u64(f + 8, index_size);
  store_u64(f + 16, xxh3({out.data() + index_offset, index_size}));
  return out;
}

json directory_of(const Bytes& container) {
  const auto text = model::metadata_text(Reader(container).info().metadata);
  if (!text) throw std::runtime_error("no model directory");
  return json::parse(*text);
}

// ---------------------------------------------------------------- golden error files
struct ModelErrorCase {
  std::string name;
  Errc code;
  std::function<void(json&)> damage;  // applied to st_torch.safetensors.tnz's directory
};
const std::vector<ModelErrorCase>& model_error_cases() {
  static const std::vector<ModelErrorCase> c = {
      {"future_version", Errc::unsupported_version, [](json& d) { d["tenzip_model"] = 2; }},
      {"region_mismatch", Errc::corrupt_input, [](json& d) { d["regions"][1]["size"] = d["regions"][1]["size"].get<uint64_t>() + 4; }},
      {"tensor_outside", Errc::corrupt_input, [](json& d) { d["tensors"][0]["offset"] = 8; }},
      {"unknown_delta", Errc::corrupt_input, [](json& d) { d["regions"][1]["delta"] = "mul"; }},
      {"file_checksum", Errc::checksum_mismatch, [](json& d) { d["file_xxh3"] = "0123456789abcdef"; }},
  };
  return c;
}

std::map<std::string, Bytes> model_error_files() {
  const Bytes good = read_bytes(kGoldenModel / "st_torch.safetensors.tnz");
  std::map<std::string, Bytes> out;
  for (const ModelErrorCase& k : model_error_cases()) {
    json d = directory_of(good);
    k.damage(d);
    out[k.name] = with_metadata(good, d.dump());
  }
  return out;
}

// What decoding a whole model container does: read the directory, then restore the file.
Outcome model_decode_outcome(const Bytes& c) {
  return outcome_of([&] { decompress_model(ModelReader(c)); });
}

// ---------------------------------------------------------------- regeneration

// st_torch.safetensors after a "training step": the low byte of every other element of every
// float tensor changes; the header, and so every region's name, dtype and size, stays.
Bytes make_step2() {
  Bytes file = read_bytes(formats_data("st_torch.safetensors"));
  const formats::FileLayout l = formats::parse_any(file);
  for (const formats::Region& r : l.regions) {
    if (r.dtype == DType::bytes) continue;
    const size_t w = dtype_size(r.dtype);
    for (uint64_t off = r.offset; off + w <= r.offset + r.size; off += 2 * w) file[off] ^= 0x5a;
  }
  return file;
}

TEST(GoldenModel, Regenerate) {
  if (!std::getenv("TENZIP_REGENERATE_GOLDEN")) GTEST_SKIP() << "set TENZIP_REGENERATE_GOLDEN=1 (tests/golden/regenerate.sh)";
  fs::create_directories(kGoldenModel);
  fs::create_directories(kGoldenErrors);
  write_bytes(kStep2, make_step2());
  for (const ModelCase& k : model_cases()) {
    const Bytes tnz = compress_model_case(k);
    ASSERT_LT(tnz.size(), 64u * 1024) << k.name;
    ASSERT_EQ(ModelReader(tnz).needs_base(), !k.base.empty()) << k.name;
    write_bytes(kGoldenModel / (k.name + ".tnz"), tnz);
  }
  for (const auto& [name, file] : model_error_files()) {
    const Bytes& bytes = file;  // a named reference: clang 14 cannot capture a structured binding
    write_bytes(kGoldenErrors / (name + ".tnz"), bytes);
    const Outcome o = model_decode_outcome(bytes);
    ASSERT_TRUE(o.threw_error) << name;
    const std::string msg = o.message + "\n";
    write_bytes(kGoldenErrors / (name + ".expected"), {reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
  }
  // Fuzz seeds (fuzz/model_fuzzer.cpp): u32 base length, the base, the container; every golden
  // container as written (zstd directory) and with its directory as plain JSON, and the error files.
  fs::create_directories(kSeeds);
  for (const auto& e : fs::directory_iterator(kSeeds))
    if (e.path().filename().string().rfind("golden_", 0) == 0) fs::remove(e.path());
  auto seed = [&](const std::string& name, const Bytes& base, const Bytes& container) {
    Bytes s(4);
    detail::store_u32(s.data(), static_cast<uint32_t>(base.size()));
    s.insert(s.end(), base.begin(), base.end());
    s.insert(s.end(), container.begin(), container.end());
    write_bytes(kSeeds / ("golden_" + name + ".bin"), s);
  };
  for (const ModelCase& k : model_cases()) {
    const Bytes tnz = read_bytes(kGoldenModel / (k.name + ".tnz"));
    const Bytes base = k.base.empty() ? Bytes{} : read_bytes(k.base);
    seed(k.name, base, tnz);
    seed(k.name + ".json", base, with_metadata(tnz, directory_of(tnz).dump()));
  }
  for (const auto& [name, file] : model_error_files()) seed("error_" + name, {}, file);
}

// ---------------------------------------------------------------- tests

TEST(GoldenModel, DecodesToTheSourceFile) {
  for (const ModelCase& k : model_cases()) {
    SCOPED_TRACE(k.name);
    const Bytes tnz = read_bytes(kGoldenModel / (k.name + ".tnz"));
    const Bytes file = read_bytes(k.source);
    EXPECT_LT(tnz.size(), 64u * 1024);
    const ModelReader r(tnz);
    EXPECT_TRUE(r.is_model());
    EXPECT_EQ(r.format(), formats::parse_any(file, k.source.filename().string()).format);
    EXPECT_EQ(r.file_size(), file.size());
    if (k.base.empty()) {
      EXPECT_FALSE(r.needs_base());
      EXPECT_TRUE(same_bytes(decompress_model(r), file));
      EXPECT_TRUE(same_bytes(decompress(tnz, 2), file));  // a model container is an ordinary container
    } else {
      EXPECT_TRUE(r.needs_base());
      EXPECT_TRUE(same_bytes(decompress_model(r, read_bytes(k.base)), file));
    }
  }
}

// The directory lists the tensors the format's parser finds, and each extracts to the bytes the
// parser's layout says it has.
TEST(GoldenModel, DirectoryMatchesTheParser) {
  for (const ModelCase& k : model_cases()) {
    SCOPED_TRACE(k.name);
    const Bytes tnz = read_bytes(kGoldenModel / (k.name + ".tnz"));
    const Bytes file = read_bytes(k.source);
    const Bytes base = k.base.empty() ? Bytes{} : read_bytes(k.base);
    const formats::FileLayout l = formats::parse_any(file, k.source.filename().string());
    const ModelReader r(tnz);
    ASSERT_EQ(r.tensors().size(), l.tensors.size());
    ASSERT_FALSE(l.tensors.empty());
    for (size_t i = 0; i < l.tensors.size(); ++i) {
      const formats::Tensor& t = l.tensors[i];
      SCOPED_TRACE(t.name);
      EXPECT_EQ(r.tensors()[i].name, t.name);
      EXPECT_EQ(r.tensors()[i].dtype, t.dtype);
      EXPECT_EQ(r.tensors()[i].shape, t.shape);
      EXPECT_EQ(r.tensors()[i].size, t.size);
      // Every region has its match in the base; empty ones need no delta.
      EXPECT_EQ(r.tensors()[i].delta, !k.base.empty() && l.regions[t.region].size > 0);
      const formats::Region& reg = l.regions[t.region];
      const Bytes want = formats::gather_tensor(std::span<const uint8_t>(file).subspan(reg.offset, reg.size), t);
      EXPECT_TRUE(same_bytes(r.extract(i, base, 2), want));
    }
  }
}

TEST(GoldenModel, StridedViewsArePinned) {
  // state_dict.pt's directory keeps its views as views: strides, and several tensors per region.
  const json d = directory_of(read_bytes(kGoldenModel / "state_dict.pt.tnz"));
  size_t strided = 0;
  std::map<uint64_t, int> per_region;
  for (const json& t : d["tensors"]) {
    strided += t.contains("strides");
    ++per_region[t["region"].get<uint64_t>()];
  }
  EXPECT_GE(strided, 5u);
  EXPECT_GE(std::max_element(per_region.begin(), per_region.end(), [](auto& a, auto& b) { return a.second < b.second; })
                ->second,
            4);
}

TEST(GoldenModel, DeltaNeedsItsBase) {
  const ModelCase& k = model_cases().back();
  ASSERT_FALSE(k.base.empty());
  const ModelReader r(read_bytes(kGoldenModel / (k.name + ".tnz")));
  const Outcome none = outcome_of([&] { decompress_model(r); });
  EXPECT_EQ(none.code, Errc::invalid_argument);
  EXPECT_NE(none.message.find("give the base"), std::string::npos) << none.message;
  // The new file as its own base: right size, wrong bytes in every delta region.
  const Outcome wrong = outcome_of([&] { decompress_model(r, read_bytes(k.source)); });
  EXPECT_EQ(wrong.code, Errc::invalid_argument);
  EXPECT_NE(wrong.message.find("wrong base file: region"), std::string::npos) << wrong.message;
}

TEST(GoldenModel, RecompressingReproducesTheFileByteForByte) {
  for (const ModelCase& k : model_cases()) {
    SCOPED_TRACE(k.name);
    EXPECT_TRUE(same_bytes(compress_model_case(k), read_bytes(kGoldenModel / (k.name + ".tnz"))))
        << "directory or codec output changed: regenerate deliberately with tests/golden/regenerate.sh";
  }
  EXPECT_TRUE(same_bytes(make_step2(), read_bytes(kStep2)));
}

TEST(GoldenModel, ErrorFilesFailWithTheExpectedMessage) {
  for (const ModelErrorCase& k : model_error_cases()) {
    SCOPED_TRACE(k.name);
    const Bytes text = read_bytes(kGoldenErrors / (k.name + ".expected"));
    std::string expected(text.begin(), text.end());
    ASSERT_FALSE(expected.empty());
    ASSERT_EQ(expected.back(), '\n');
    expected.pop_back();
    const Outcome o = model_decode_outcome(read_bytes(kGoldenErrors / (k.name + ".tnz")));
    ASSERT_TRUE(o.threw_error) << o.message;
    EXPECT_EQ(o.code, k.code) << errc_name(o.code);
    EXPECT_EQ(o.message, expected);
  }
}

TEST(GoldenModel, ErrorFilesDeriveFromTheGoldenFile) {
  const auto files = model_error_files();
  ASSERT_EQ(files.size(), model_error_cases().size());
  for (const auto& [name, bytes] : files)
    EXPECT_TRUE(same_bytes(read_bytes(kGoldenErrors / (name + ".tnz")), bytes)) << name;
}

}  // namespace
}  // namespace tenzip::testing
