// PyTorch zip checkpoints and TorchScript archives: fixtures made by the reference torch
// (tests/formats/gen_pytorch.py) must give the tensors torch.load gives, byte for byte; the real
// TorchScript file of the corpus must parse; malformed zips and pickles must be corrupt_input
// with a message that names the problem.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "container/format.hpp"
#include "formats/layout.hpp"
#include "formats/pickle.hpp"
#include "formats/pytorch.hpp"
#include "formats/zip.hpp"

namespace tenzip::formats {
namespace {

using Bytes = std::vector<uint8_t>;
using namespace std::string_literals;  // "...\x00..."s keeps its NUL bytes
using detail::store_u16;
using detail::store_u32;
using detail::store_u64;

const std::string kDataDir = std::string(TENZIP_SOURCE_DIR) + "/tests/data/formats/pytorch/";

Bytes read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes bytes_of(std::string_view s) { return Bytes(s.begin(), s.end()); }

// Runs f and returns the Error it throws; fails the test if it throws nothing or something else.
template <class F>
Error error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-tenzip exception: " << e.what();
    return Error(Errc::internal, e.what());
  }
  ADD_FAILURE() << "did not throw";
  return Error(Errc::internal, "did not throw");
}

// parse_pytorch_zip(file) must fail with corrupt_input and a message containing `what`.
void expect_corrupt(const Bytes& file, const std::string& what) {
  const Error e = error_of([&] { parse_pytorch_zip(file); });
  EXPECT_EQ(e.code(), Errc::corrupt_input) << e.what();
  EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << "message: " << e.what() << "\nexpected: " << what;
}

// ---------------------------------------------------------------- fixtures from torch

struct Expected {
  std::string format;
  nlohmann::json tensors;
  Bytes bin;
};

Expected load_expected(const std::string& file) {
  Expected x;
  const Bytes j = read_file(kDataDir + file + ".expected.json");
  const auto doc = nlohmann::json::parse(j.begin(), j.end());
  x.format = doc.at("format").get<std::string>();
  x.tensors = doc.at("tensors");
  if (std::filesystem::exists(kDataDir + file + ".expected.bin")) x.bin = read_file(kDataDir + file + ".expected.bin");
  return x;
}

uint64_t fnv1a64(const Bytes& b) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (const uint8_t x : b) h = (h ^ x) * 0x100000001b3ull;
  return h;
}

// The layout of `path` against its sidecar: same tensors in the same order (except those the
// sidecar marks as not in the layout), same dtypes and shapes, same bytes through gather_tensor.
FileLayout check_against_expected(const std::string& path, const std::string& sidecar) {
  const Bytes file = read_file(path);
  const Expected x = load_expected(sidecar);
  EXPECT_TRUE(looks_like_zip(file));
  const FileLayout l = parse_pytorch_zip(file);
  EXPECT_NO_THROW(check_layout(l, file.size()));
  EXPECT_EQ(l.format, x.format);
  size_t k = 0;
  for (const auto& e : x.tensors) {
    if (!e.value("in_layout", true)) continue;
    const std::string name = e.at("name").get<std::string>();
    SCOPED_TRACE(sidecar + ": tensor '" + name + "'");
    if (k >= l.tensors.size()) {
      ADD_FAILURE() << "missing from the layout";
      continue;
    }
    const Tensor& t = l.tensors[k];
    EXPECT_EQ(t.name, name);
    EXPECT_EQ(t.dtype, e.at("dtype").get<std::string>());
    EXPECT_EQ(t.shape, e.at("shape").get<std::vector<uint64_t>>());
    EXPECT_EQ(t.size, e.at("nbytes").get<uint64_t>());
    const Bytes got = gather_tensor(file, l, k);
    if (e.contains("offset")) {
      const uint64_t off = e.at("offset").get<uint64_t>();
      const uint64_t n = e.at("nbytes").get<uint64_t>();
      if (off > x.bin.size() || n > x.bin.size() - off) {
        ADD_FAILURE() << "sidecar .bin too short";
      } else {
        EXPECT_EQ(got, Bytes(x.bin.begin() + off, x.bin.begin() + off + n));
      }
    } else {
      char hex[17];
      std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(got)));
      EXPECT_EQ(hex, e.at("fnv1a64").get<std::string>());
    }
    ++k;
  }
  EXPECT_EQ(k, l.tensors.size()) << "the layout has tensors the reference loader does not";
  return l;
}

const Tensor& tensor_named(const FileLayout& l, const std::string& name) {
  for (const Tensor& t : l.tensors)
    if (t.name == name) return t;
  throw std::runtime_error("no tensor " + name);
}

TEST(PytorchFixtures, StateDictMatchesTorchLoad) {
  const FileLayout l = check_against_expected(kDataDir + "state_dict.pt", "state_dict.pt");
  // Region dtypes come from the storage types; fp8 storages are untyped and take their tensors'.
  const auto region_dtype = [&](const char* name) { return l.regions[tensor_named(l, name).region].dtype; };
  EXPECT_EQ(region_dtype("f32"), DType::fp32);
  EXPECT_EQ(region_dtype("f16"), DType::fp16);
  EXPECT_EQ(region_dtype("bf16"), DType::bf16);
  EXPECT_EQ(region_dtype("f8_e4m3"), DType::fp8_e4m3);
  EXPECT_EQ(region_dtype("f8_e5m2"), DType::fp8_e5m2);
  EXPECT_EQ(region_dtype("f64"), DType::bytes);
  EXPECT_EQ(region_dtype("i64"), DType::bytes);
  EXPECT_EQ(region_dtype("mask"), DType::bytes);
  EXPECT_EQ(region_dtype("u16"), DType::bytes);
  EXPECT_EQ(region_dtype("c64"), DType::bytes);
  // Views share their base's region, at storage_offset x element size, with strides only when
  // not row-major contiguous.
  const Tensor& base = tensor_named(l, "shared.base");
  const Tensor& rows = tensor_named(l, "shared.rows");
  EXPECT_EQ(rows.region, base.region);
  EXPECT_EQ(rows.offset, 8u * 4);
  EXPECT_TRUE(rows.strides.empty());
  EXPECT_EQ(tensor_named(l, "shared.cols").strides, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(tensor_named(l, "shared.t").strides, (std::vector<uint64_t>{1, 4}));
  EXPECT_EQ(tensor_named(l, "expanded").strides, (std::vector<uint64_t>{0, 1}));
  EXPECT_EQ(tensor_named(l, "f16_slice").offset, 3u * 2);
  EXPECT_EQ(tensor_named(l, "f16_slice").element_size, 2u);
  EXPECT_EQ(tensor_named(l, "tied").region, tensor_named(l, "f32").region);
  EXPECT_EQ(tensor_named(l, "empty").size, 0u);
  // Regions are sorted and named after their entries.
  for (size_t i = 1; i < l.regions.size(); ++i) EXPECT_LT(l.regions[i - 1].offset, l.regions[i].offset);
  EXPECT_EQ(l.regions[0].name, "data/0");
}

TEST(PytorchFixtures, NestedCheckpointMatchesTorchLoad) {
  const FileLayout l = check_against_expected(kDataDir + "checkpoint.pt", "checkpoint.pt");
  EXPECT_EQ(tensor_named(l, "optimizer.state.0.exp_avg").shape, (std::vector<uint64_t>{8, 4}));
  EXPECT_EQ(l.regions[tensor_named(l, "nested.7").region].dtype, DType::bf16);
}

TEST(PytorchFixtures, SingleTensorFileMatchesTorchLoad) {
  const FileLayout l = check_against_expected(kDataDir + "tensor.pt", "tensor.pt");
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].name, "tensor");
  EXPECT_EQ(l.tensors[0].offset, 4u);
}

TEST(PytorchFixtures, Protocol5PickleMatchesTorchLoad) {
  const FileLayout l = check_against_expected(kDataDir + "protocol5.pt", "protocol5.pt");
  EXPECT_EQ(l.regions[tensor_named(l, "f8").region].dtype, DType::fp8_e5m2);
}

TEST(PytorchFixtures, TorchScriptMatchesJitLoad) {
  const FileLayout s = check_against_expected(kDataDir + "scripted.pt", "scripted.pt");
  EXPECT_EQ(s.regions[tensor_named(s, "emb.weight").region].dtype, DType::fp16);
  const FileLayout t = check_against_expected(kDataDir + "traced.pt", "traced.pt");
  // Constants live in their own directory.
  EXPECT_EQ(t.regions[tensor_named(t, "CONSTANTS.c0").region].name, "constants/0");
}

TEST(PytorchFixtures, Zip64AndCompressedStorage) {
  const Bytes file = read_file(kDataDir + "zip64.pt");
  const zip::Directory d = zip::read_directory(file, "zip");
  EXPECT_TRUE(d.zip64);
  // Storage 1 is deflated: a gap, and its tensor 'b' is left out.
  const FileLayout l = check_against_expected(kDataDir + "zip64.pt", "zip64.pt");
  EXPECT_EQ(l.regions.size(), 2u);
  for (const Tensor& t : l.tensors) EXPECT_NE(t.name, "b");
}

TEST(PytorchFixtures, LegacyFormatIsNotAZip) {
  const Bytes file = read_file(kDataDir + "legacy.pt");
  EXPECT_FALSE(looks_like_zip(file));
  expect_corrupt(file, "no end-of-central-directory record");
}

TEST(PytorchCorpus, SileroTorchScript) {
  const std::string path = std::string(TENZIP_CORPUS_DIR) + "/audio/silero_vad.jit";
  if (!std::filesystem::exists(path)) GTEST_SKIP() << path << " not found";
  const FileLayout l = check_against_expected(path, "silero_vad.jit");
  EXPECT_EQ(l.format, "torchscript");
  // MANIFEST: 32 fp32 storages, 2,181,128 bytes (and one empty constant).
  size_t n = 0;
  uint64_t bytes = 0;
  for (const Region& r : l.regions) {
    if (r.name.rfind("data/", 0) != 0) continue;
    EXPECT_EQ(r.dtype, DType::fp32) << r.name;
    ++n;
    bytes += r.size;
  }
  EXPECT_EQ(n, 32u);
  EXPECT_EQ(bytes, 2181128u);
  EXPECT_EQ(tensor_named(l, "_model.stft.forward_basis_buffer").shape, (std::vector<uint64_t>{258, 1, 256}));
}

// ---------------------------------------------------------------- gather_tensor

TEST(PytorchGather, StridedViews) {
  Bytes file(40);
  for (size_t i = 0; i < file.size(); ++i) file[i] = static_cast<uint8_t>(i);
  FileLayout l;
  l.format = "test";
  l.regions.push_back({4, 24, DType::bytes, "r"});
  Tensor t;
  t.name = "t";
  t.region = 0;
  t.offset = 2;
  t.shape = {3, 2};
  t.strides = {1, 3};  // a transpose of 2x3 bytes
  t.element_size = 1;
  t.size = 6;
  l.tensors.push_back(t);
  EXPECT_EQ(gather_tensor(file, l, 0), (Bytes{6, 9, 7, 10, 8, 11}));
  // Two-byte elements, stride 0 (expand) in the outer dimension, a step of 2 inside.
  t.offset = 0;
  t.shape = {2, 3};
  t.strides = {0, 2};
  t.element_size = 2;
  t.size = 12;
  l.tensors[0] = t;
  EXPECT_EQ(gather_tensor(file, l, 0), (Bytes{4, 5, 8, 9, 12, 13, 4, 5, 8, 9, 12, 13}));
  // Contiguous: a plain copy.
  t.strides.clear();
  t.offset = 20;
  t.size = 4;
  l.tensors[0] = t;
  EXPECT_EQ(gather_tensor(file, l, 0), (Bytes{24, 25, 26, 27}));
}

TEST(PytorchGather, RejectsViewsOutsideTheRegion) {
  const Bytes file(16);
  FileLayout l;
  l.regions.push_back({0, 8, DType::bytes, "r"});
  Tensor t;
  t.name = "t";
  t.shape = {3};
  t.strides = {4};
  t.element_size = 1;
  t.size = 3;
  l.tensors.push_back(t);
  EXPECT_EQ(error_of([&] { gather_tensor(file, l, 0); }).code(), Errc::corrupt_input);
  l.tensors[0].strides.clear();
  l.tensors[0].offset = 6;
  EXPECT_EQ(error_of([&] { gather_tensor(file, l, 0); }).code(), Errc::corrupt_input);
  EXPECT_EQ(error_of([&] { gather_tensor(file, l, 1); }).code(), Errc::invalid_argument);
}

// ---------------------------------------------------------------- hand-built archives

// A zip writer for malformed inputs: stored data is written as given; "deflated" entries are
// opaque bytes (nothing is ever inflated).
struct ZEntry {
  std::string name;
  Bytes data;
  uint16_t method = zip::kStored;
  bool descriptor = false;
};

struct Built {
  Bytes bytes;
  std::vector<uint64_t> local;    // local header offsets
  std::vector<uint64_t> central;  // central directory entry offsets
  uint64_t cd_offset = 0, eocd = 0;
};

Built build_zip(const std::vector<ZEntry>& es, bool zip64 = false, const std::string& comment = "") {
  Built b;
  Bytes& o = b.bytes;
  const auto u16 = [&](uint64_t v) { o.push_back(uint8_t(v)); o.push_back(uint8_t(v >> 8)); };
  const auto u32 = [&](uint64_t v) { u16(v & 0xffff); u16(v >> 16); };
  const auto u64 = [&](uint64_t v) { u32(v & 0xffffffff); u32(v >> 32); };
  const auto put = [&](std::string_view s) { o.insert(o.end(), s.begin(), s.end()); };
  const auto crc = [](const Bytes& d) { return uint32_t(d.size() * 2654435761u); };  // not checked by the reader
  for (const auto& e : es) {
    b.local.push_back(o.size());
    u32(0x04034b50); u16(45); u16(0x800 | (e.descriptor ? 8 : 0)); u16(e.method); u32(0);
    u32(e.descriptor ? 0 : crc(e.data));
    u32(e.descriptor ? 0 : zip64 ? 0xffffffff : e.data.size());
    u32(e.descriptor ? 0 : zip64 ? 0xffffffff : e.data.size());
    u16(e.name.size()); u16(zip64 ? 20 : 0);
    put(e.name);
    if (zip64) { u16(1); u16(16); u64(e.data.size()); u64(e.data.size()); }
    o.insert(o.end(), e.data.begin(), e.data.end());
    if (e.descriptor) {
      u32(0x08074b50); u32(crc(e.data));
      if (zip64) { u64(e.data.size()); u64(e.data.size()); } else { u32(e.data.size()); u32(e.data.size()); }
    }
  }
  b.cd_offset = o.size();
  for (size_t i = 0; i < es.size(); ++i) {
    const auto& e = es[i];
    b.central.push_back(o.size());
    u32(0x02014b50); u16(45); u16(45); u16(0x800 | (e.descriptor ? 8 : 0)); u16(e.method); u32(0); u32(crc(e.data));
    u32(zip64 ? 0xffffffff : e.data.size()); u32(zip64 ? 0xffffffff : e.data.size());
    u16(e.name.size()); u16(zip64 ? 28 : 0); u16(0); u16(0); u16(0); u32(0);
    u32(zip64 ? 0xffffffff : b.local[i]);
    put(e.name);
    if (zip64) { u16(1); u16(24); u64(e.data.size()); u64(e.data.size()); u64(b.local[i]); }
  }
  const uint64_t cd_size = o.size() - b.cd_offset;
  if (zip64) {
    const uint64_t rec = o.size();
    u32(0x06064b50); u64(44); u16(45); u16(45); u32(0); u32(0); u64(es.size()); u64(es.size()); u64(cd_size); u64(b.cd_offset);
    u32(0x07064b50); u32(0); u64(rec); u32(1);
  }
  b.eocd = o.size();
  u32(0x06054b50); u16(0); u16(0);
  u16(zip64 ? 0xffff : es.size()); u16(zip64 ? 0xffff : es.size());
  u32(zip64 ? 0xffffffff : cd_size); u32(zip64 ? 0xffffffff : b.cd_offset);
  u16(comment.size());
  put(comment);
  return b;
}

// Pickle opcodes, written the way torch writes them.
struct Pk {
  std::string s = "\x80\x02";
  Pk& raw(std::string_view v) { s += v; return *this; }
  Pk& str(std::string_view v) {
    s += 'X';
    for (int i = 0; i < 4; ++i) s += char(v.size() >> (8 * i));
    s += v;
    return *this;
  }
  Pk& i(int64_t v) {
    s += '\x8a';
    s += '\x08';
    for (int k = 0; k < 8; ++k) s += char(uint64_t(v) >> (8 * k));
    return *this;
  }
  Pk& global(std::string_view mod, std::string_view name) {
    s += 'c';
    s += mod;
    s += '\n';
    s += name;
    s += '\n';
    return *this;
  }
  Pk& ints(const std::vector<int64_t>& v) {
    s += '(';
    for (const auto x : v) i(x);
    s += 't';
    return *this;
  }
  Pk& storage(std::string_view type, std::string_view key, int64_t numel) {
    s += '(';
    str("storage").global("torch", type).str(key).str("cpu").i(numel);
    s += "tQ";
    return *this;
  }
  Pk& tensor(std::string_view type, std::string_view key, int64_t numel, int64_t offset, const std::vector<int64_t>& shape,
             const std::vector<int64_t>& stride) {
    global("torch._utils", "_rebuild_tensor_v2");
    s += '(';
    storage(type, key, numel).i(offset).ints(shape).ints(stride);
    s += '\x89';
    global("collections", "OrderedDict").raw(")R");
    s += "tR";
    return *this;
  }
  Bytes done() { return bytes_of(s + "."); }
};

// {'w': tensor} with the given storage and view.
Bytes one_tensor_pickle(std::string_view type = "FloatStorage", int64_t numel = 6, int64_t offset = 0,
                        std::vector<int64_t> shape = {2, 3}, std::vector<int64_t> stride = {3, 1}) {
  Pk p;
  p.raw("}").str("w").tensor(type, "0", numel, offset, shape, stride).raw("s");
  return p.done();
}

std::vector<ZEntry> archive(const Bytes& pkl, Bytes storage = Bytes(24, 0x3f)) {
  return {{"arch/data.pkl", pkl}, {"arch/byteorder", bytes_of("little")}, {"arch/data/0", std::move(storage)},
          {"arch/version", bytes_of("3\n")}};
}

TEST(PytorchArchive, HandBuiltArchiveParses) {
  for (const bool zip64 : {false, true}) {
    const Built b = build_zip(archive(one_tensor_pickle()), zip64, zip64 ? "" : "a comment");
    EXPECT_TRUE(looks_like_zip(b.bytes));
    const FileLayout l = parse_pytorch_zip(b.bytes);
    check_layout(l, b.bytes.size());
    ASSERT_EQ(l.regions.size(), 1u);
    EXPECT_EQ(l.regions[0].dtype, DType::fp32);
    EXPECT_EQ(l.regions[0].size, 24u);
    ASSERT_EQ(l.tensors.size(), 1u);
    EXPECT_EQ(l.tensors[0].name, "w");
    EXPECT_EQ(l.tensors[0].dtype, "torch.float32");
  }
  // Data descriptors, both widths.
  for (const bool zip64 : {false, true}) {
    auto es = archive(one_tensor_pickle());
    for (auto& e : es) e.descriptor = true;
    const Built b = build_zip(es, zip64);
    EXPECT_EQ(parse_pytorch_zip(b.bytes).tensors.size(), 1u);
  }
}

TEST(PytorchArchive, Sniff) {
  EXPECT_FALSE(looks_like_zip({}));
  EXPECT_FALSE(looks_like_zip(bytes_of("PK\x03\x04 and nothing much")));
  // A zip whose first entry is not in a directory (numpy .npz): not a torch archive.
  EXPECT_FALSE(looks_like_zip(build_zip({{"arr_0.npy", Bytes(8)}}).bytes));
  EXPECT_FALSE(looks_like_zip(build_zip({{"META-INF/MANIFEST.MF", Bytes(8)}}).bytes));
  EXPECT_FALSE(looks_like_zip(build_zip({{"model/model.json", Bytes(8)}}).bytes));
  EXPECT_TRUE(looks_like_zip(build_zip({{"a/data.pkl", Bytes(8)}}).bytes));
  EXPECT_TRUE(looks_like_zip(build_zip({{"a/extra/notes.txt", Bytes(8)}}).bytes));
}

// ---------------------------------------------------------------- malformed zips

TEST(ZipErrors, TruncatedArchives) {
  const Bytes good = read_file(kDataDir + "state_dict.pt");
  expect_corrupt(Bytes(good.begin(), good.end() - 1), "no end-of-central-directory record");
  expect_corrupt(Bytes(good.begin(), good.begin() + 10), "too short for a zip archive");
  expect_corrupt({}, "too short");
  // Every cut is an error, never a crash or a layout.
  for (size_t n = 0; n < good.size(); n += 7) {
    const Bytes cut(good.begin(), good.begin() + n);
    const Error e = error_of([&] { parse_pytorch_zip(cut); });
    EXPECT_EQ(e.code(), Errc::corrupt_input) << n << ": " << e.what();
  }
}

TEST(ZipErrors, BadEndOfCentralDirectory) {
  const Built b = build_zip(archive(one_tensor_pickle()));
  Bytes x = b.bytes;
  store_u16(&x[b.eocd + 20], 5);  // comment length past the end
  expect_corrupt(x, "no end-of-central-directory record");
  x = b.bytes;
  store_u16(&x[b.eocd + 4], 1);
  expect_corrupt(x, "multi-disk");
  x = b.bytes;
  store_u16(&x[b.eocd + 10], 4000);
  store_u16(&x[b.eocd + 8], 4000);
  expect_corrupt(x, "4000 entries cannot fit a central directory");
  x = b.bytes;
  store_u32(&x[b.eocd + 16], uint32_t(b.cd_offset + 1));
  expect_corrupt(x, "does not end before the end-of-central-directory record");
  x = b.bytes;
  store_u32(&x[b.eocd + 12], uint32_t(b.eocd - b.cd_offset - 1));
  expect_corrupt(x, "name, extra field and comment run past the central directory");
  x = b.bytes;
  store_u16(&x[b.eocd + 8], 3);
  expect_corrupt(x, "entries on this disk");
  // The central directory must hold exactly its entries.
  x = b.bytes;
  store_u16(&x[b.eocd + 8], 3);
  store_u16(&x[b.eocd + 10], 3);
  expect_corrupt(x, "bytes after its 3 entries");
}

TEST(ZipErrors, BadZip64Records) {
  const Built b = build_zip(archive(one_tensor_pickle()), true);
  const uint64_t loc = b.eocd - 20, rec = loc - 56;
  Bytes x = b.bytes;
  store_u64(&x[loc + 8], rec + 1);
  expect_corrupt(x, "ZIP64 end-of-central-directory record offset");
  x = b.bytes;
  store_u64(&x[loc + 8], 4);
  expect_corrupt(x, "no ZIP64 end-of-central-directory record at offset 4");
  x = b.bytes;
  store_u64(&x[rec + 48], 7);  // central directory offset
  expect_corrupt(x, "no central directory entry 0 at offset 7");
  x = b.bytes;
  store_u32(&x[b.eocd + 16], 12);  // 32-bit offset neither 0xFFFFFFFF nor the ZIP64 value
  expect_corrupt(x, "differs from the ZIP64 record");
  x = b.bytes;
  store_u32(&x[loc + 4], 2);
  expect_corrupt(x, "multi-disk");
  // A ZIP64 extra field too short for the values it stands for.
  x = b.bytes;
  store_u16(&x[b.central[0] + 46 + 13 + 2], 8);
  store_u16(&x[b.central[0] + 46 + 13 + 8 + 4 + 2], 0);
  expect_corrupt(x, "ZIP64 extra field has no compressed size");
}

TEST(ZipErrors, CentralDirectoryAndLocalHeaderMismatch) {
  const Built b = build_zip(archive(one_tensor_pickle()));
  Bytes x = b.bytes;
  x[b.local[2] + 30 + 10] = '1';  // arch/data/0 -> arch/data/1 in the local header
  expect_corrupt(x, "entry 'arch/data/0': local header at offset " + std::to_string(b.local[2]) + " names 'arch/data/1'");
  x = b.bytes;
  store_u16(&x[b.local[2] + 8], 8);
  expect_corrupt(x, "compression method 8, the central directory 0");
  x = b.bytes;
  store_u32(&x[b.local[2] + 18], 23);
  expect_corrupt(x, "compressed size 23 differs from the central directory's 24");
  x = b.bytes;
  store_u32(&x[b.local[2] + 14], 1);
  expect_corrupt(x, "CRC-32 1 differs");
  x = b.bytes;
  store_u32(&x[b.local[2]], 0x04034b51);
  expect_corrupt(x, "entry 'arch/data/0': no local header");
  x = b.bytes;
  store_u32(&x[b.central[0] + 42], uint32_t(b.cd_offset));
  expect_corrupt(x, "does not lie before the central directory");
  // Stored entries cannot change size.
  x = b.bytes;
  store_u32(&x[b.central[2] + 24], 25);
  expect_corrupt(x, "stored entry has compressed size 24 but uncompressed size 25");
  // A data descriptor that disagrees.
  auto es = archive(one_tensor_pickle());
  es[2].descriptor = true;
  const Built d = build_zip(es);
  x = d.bytes;
  store_u32(&x[d.local[3] - 4], 23);
  expect_corrupt(x, "entry 'arch/data/0': data descriptor");
}

TEST(ZipErrors, OverlappingEntries) {
  const Built b = build_zip(archive(one_tensor_pickle()));
  // Entry 'arch/version' claims the local header of 'arch/data/0', under its own name.
  Bytes x = b.bytes;
  store_u32(&x[b.central[3] + 42], uint32_t(b.local[2]));
  expect_corrupt(x, "names 'arch/data/0' instead");
  // Two central entries naming overlapping data: build one whose data hides another's header.
  Built c = build_zip({{"a/data.pkl", Bytes(64)}, {"a/x", Bytes(4)}});
  x = c.bytes;
  // Grow the first entry (both headers) so that its data covers the second local header.
  const uint32_t grown = uint32_t(c.local[1] - c.local[0] - 30 - 10 + 8);
  store_u32(&x[c.local[0] + 18], grown);
  store_u32(&x[c.local[0] + 22], grown);
  store_u32(&x[c.central[0] + 20], grown);
  store_u32(&x[c.central[0] + 24], grown);
  expect_corrupt(x, "entry 'a/x': local header at offset " + std::to_string(c.local[1]) + " overlaps entry 'a/data.pkl'");
}

TEST(ZipErrors, UnsafePaths) {
  const auto with_name = [](const std::string& name) {
    auto es = archive(one_tensor_pickle());
    es.push_back({name, bytes_of("x")});
    return build_zip(es).bytes;
  };
  expect_corrupt(with_name("/etc/passwd"), "entry '/etc/passwd': absolute path");
  expect_corrupt(with_name("C:/x"), "entry 'C:/x': absolute path (drive letter)");
  expect_corrupt(with_name("arch/../../evil"), "entry 'arch/../../evil': '..' path component");
  expect_corrupt(with_name("arch/./x"), "'.' path component");
  expect_corrupt(with_name("arch//x"), "empty path component");
  expect_corrupt(with_name("arch\\x"), "entry 'arch\\x5cx': name contains a backslash");
  expect_corrupt(with_name(std::string("arch/x\0y", 8)), "entry 'arch/x\\x00y': name contains a NUL byte");
  expect_corrupt(with_name("arch/data/0"), "entry 'arch/data/0': appears twice");
  expect_corrupt(with_name(""), "empty name");
}

TEST(ZipErrors, EncryptedEntries) {
  Built b = build_zip(archive(one_tensor_pickle()));
  store_u16(&b.bytes[b.central[3] + 8], 0x801);
  expect_corrupt(b.bytes, "entry 'arch/version': encrypted entries are not supported");
}

TEST(ZipErrors, ZipDirectoryReaderAlone) {
  // A comment containing a fake end-of-central-directory signature does not fool the search.
  std::string comment = "PK\x05\x06";
  comment += std::string(40, 'c');
  const Built b = build_zip({{"a/b", bytes_of("hello")}, {"a/c", bytes_of("")}}, false, comment);
  const zip::Directory d = zip::read_directory(b.bytes, "zip");
  ASSERT_EQ(d.entries.size(), 2u);
  EXPECT_EQ(d.entries[0].data_offset, 30u + 3);
  EXPECT_EQ(d.entries[0].compressed_size, 5u);
  ASSERT_NE(d.find("a/c"), nullptr);
  EXPECT_EQ(d.find("a/c")->uncompressed_size, 0u);
  EXPECT_EQ(d.find("a/d"), nullptr);
  EXPECT_FALSE(d.zip64);
}

// ---------------------------------------------------------------- the archive's contents

TEST(PytorchArchive, ArchiveStructureErrors) {
  auto es = archive(one_tensor_pickle());
  es.erase(es.begin());  // no data.pkl
  expect_corrupt(build_zip(es).bytes, "no entry 'arch/data.pkl'");
  es = archive(one_tensor_pickle());
  es.insert(es.begin(), {"loose", bytes_of("x")});
  expect_corrupt(build_zip(es).bytes, "first entry 'loose' is not inside a directory");
  es = archive(one_tensor_pickle());
  es[0].method = zip::kDeflated;
  expect_corrupt(build_zip(es).bytes, "entry 'arch/data.pkl' is compressed (method 8)");
  es = archive(one_tensor_pickle());
  es[1].data = bytes_of("big");
  expect_corrupt(build_zip(es).bytes, "big-endian archives");
  es[1].data = bytes_of("middle");
  expect_corrupt(build_zip(es).bytes, "says 'middle'");
  expect_corrupt(build_zip({}).bytes, "no entries");
}

TEST(PytorchArchive, StoragesThatDoNotMatchEntries) {
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 7))).bytes,
                 "storage '0': 7 elements of 4 bytes do not fill entry 'arch/data/0' (24 bytes)");
  expect_corrupt(build_zip(archive(one_tensor_pickle("DoubleStorage", 6))).bytes, "6 elements of 8 bytes");
  auto es = archive(one_tensor_pickle());
  es[2].name = "arch/data/9";
  expect_corrupt(build_zip(es).bytes, "storage '0' has no entry 'arch/data/0'");
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 6, 1))).bytes,
                 "tensor 'w': its view (storage_offset 1, size and stride) reaches past storage '0' (6 elements)");
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 6, 0, {3, 2}, {1, 4}))).bytes, "reaches past storage");
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 6, 0, {2, 3}, {3}))).bytes, "1 strides for 2 dimensions");
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 6, -1))).bytes, "storage_offset is a int below 0");
  expect_corrupt(build_zip(archive(one_tensor_pickle("NoSuchStorage", 6))).bytes, "unknown storage type 'torch.NoSuchStorage'");
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", -6))).bytes, "numel is a int below 0");
  // Huge shapes overflow, they do not wrap.
  expect_corrupt(build_zip(archive(one_tensor_pickle("FloatStorage", 6, 0, {int64_t{1} << 40, int64_t{1} << 40}, {0, 0})))
                     .bytes,
                 "more than 2^64 elements");
  // The same key twice with another size.
  Pk p;
  p.raw("}").str("a").tensor("FloatStorage", "0", 6, 0, {6}, {1}).raw("s");
  p.str("b").tensor("FloatStorage", "0", 5, 0, {5}, {1}).raw("s");
  expect_corrupt(build_zip(archive(p.done())).bytes, "storage '0' is declared twice");
  // A persistent id that is not a storage.
  Pk q;
  q.raw("(").str("module").str("x").raw("tQ");
  expect_corrupt(build_zip(archive(q.done())).bytes, "persistent id 0 is not a ('storage', type, key, location, numel) tuple");
  // A tensor whose storage is not a persistent id.
  Pk r;
  r.global("torch._utils", "_rebuild_tensor_v2").raw("(").str("nope").i(0).ints({1}).ints({1}).raw("\x89N").raw("tR");
  expect_corrupt(build_zip(archive(r.done())).bytes, "tensor 'tensor': its storage is a str, not a persistent id");
}

// ---------------------------------------------------------------- malformed pickles

void expect_bad_pickle(const std::string& pkl, const std::string& what) {
  SCOPED_TRACE(what);
  expect_corrupt(build_zip(archive(bytes_of(pkl))).bytes, what);
  // The pickle parser alone says the same.
  const Error e = error_of([&] {
    const auto p = pickle::parse(bytes_of(pkl), "arch/data.pkl");
    pickle::torch_objects(p, false, "arch/data.pkl");
  });
  EXPECT_EQ(e.code(), Errc::corrupt_input);
  EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
}

TEST(PickleErrors, Opcodes) {
  expect_bad_pickle("\x80\x02\xff.", "arch/data.pkl: unknown opcode (opcode 0xff at offset 2)");
  expect_bad_pickle("\x80\x02I01\n.", "unsupported opcode (opcode 'I' (0x49) at offset 2)");
  expect_bad_pickle(std::string("\x80\x02\x97.", 4), "unsupported opcode");  // out-of-band buffer
  expect_bad_pickle("\x80\x02R.", "stack underflow (opcode 'R' (0x52) at offset 2)");
  expect_bad_pickle("\x80\x02N(R.", "stack underflow");  // REDUCE cannot reach below a MARK
  expect_bad_pickle("\x80\x02t.", "no MARK to pop to");
  expect_bad_pickle("\x80\x02NN.", "STOP with 2 objects on the stack");
  expect_bad_pickle("\x80\x02N", "ends without STOP");
  expect_bad_pickle("\x80\x02N.x", "1 bytes after STOP");
  expect_bad_pickle("N.", "does not start with PROTO");
  expect_bad_pickle("\x80\x01N.", "protocol 1 is not supported");
  expect_bad_pickle("\x80\x02h\x05.", "memo key 5 was never stored");
  expect_bad_pickle("\x80\x02]Nb.", "BUILD on a list");
  expect_bad_pickle("\x80\x02)Na.", "appends to a tuple");
  expect_bad_pickle("\x80\x02}(Nu.", "odd number of items");
  expect_bad_pickle("\x80\x02" "ctorch\nFloat", "GLOBAL name has no terminating newline");
}

TEST(PickleErrors, HugeLengths) {
  expect_bad_pickle("\x80\x02X\xff\xff\xff\xff.", "length 4294967295 runs past the end of the pickle (1 bytes left)");
  expect_bad_pickle("\x80\x02\x8e\xff\xff\xff\xff\xff\xff\xff\xff.", "length 18446744073709551615 runs past the end");
  expect_bad_pickle("\x80\x02\x8b\x00\x00\x00\x10."s, "length 268435456 runs past the end");
  expect_bad_pickle("\x80\x02J\x01", "needs 4 bytes but the pickle has 1 left");
  expect_bad_pickle(std::string("\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00N.", 13), "length 281474976710656 runs past");
}

TEST(PickleErrors, DeepNesting) {
  expect_bad_pickle("\x80\x02" + std::string(300, '('), "more than 256 nested MARKs");
  // Lists nested 300 deep: fine to parse, too deep to walk.
  expect_bad_pickle("\x80\x02" + std::string(300, ']') + std::string(299, 'a') + ".", "nested deeper than 256 levels");
  // A dict that contains itself.
  expect_bad_pickle("\x80\x02}q\x00X\x01\x00\x00\x00" "ah\x00s."s, "or a reference cycle");
  // x = (x, x) 30 times: a few bytes that expand to 2^30 paths.
  std::string bomb = "\x80\x02N";
  for (int i = 0; i < 30; ++i) bomb += "2\x86";
  expect_bad_pickle(bomb + ".", "expands to more than");
}

// The walk's caps grow with the object count: a few bytes that share subtrees stop after
// work proportional to their size, not at the absolute caps (2^21 visits, 64 MiB of names).
TEST(PickleErrors, ExpansionStopsInProportionToTheObjects) {
  // The leaf is a tensor, so every path names one: x = (x, x) 40 times.
  Pk leaf;
  leaf.tensor("FloatStorage", "0", 6, 0, {2, 3}, {3, 1});
  std::string bomb = leaf.s;
  for (int i = 0; i < 40; ++i) bomb += "2\x86";
  const auto p = pickle::parse(bytes_of(bomb + "."), "pkl");
  const Error e = error_of([&] { pickle::torch_objects(p, false, "pkl"); });
  ASSERT_EQ(e.code(), Errc::corrupt_input);
  const std::string msg = e.what();
  const std::string names = "tensor names take more than ";
  ASSERT_NE(msg.find(names), std::string::npos) << msg;
  const uint64_t budget = std::stoull(msg.substr(msg.find(names) + names.size()));
  EXPECT_EQ(budget, pickle::kMinNameBudget + pickle::kNameBytesPerObject * p.objects.size()) << msg;
  EXPECT_LT(budget, pickle::kMaxNameBytes / 32) << msg;
  // Leaves without names: the visit cap, likewise in proportion.
  std::string none_bomb = "\x80\x02N";
  for (int i = 0; i < 40; ++i) none_bomb += "2\x86";
  const auto q = pickle::parse(bytes_of(none_bomb + "."), "pkl");
  const std::string msg2 = error_of([&] { pickle::torch_objects(q, false, "pkl"); }).what();
  EXPECT_NE(msg2.find("expands to more than " + std::to_string(pickle::kMinVisitBudget +
                                                                pickle::kVisitsPerObject * q.objects.size()) +
                      " objects"),
            std::string::npos)
      << msg2;
}

TEST(PickleErrors, ParsesTorchOpcodes) {
  // Protocol 4 framing, memo and STACK_GLOBAL, sets, bytes, floats, big ints: all parse.
  const std::string pkl = std::string("\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00", 11) +
                          "}\x94(\x8c\x01" "a\x94" "G?\xf0\x00\x00\x00\x00\x00\x00" "\x8c\x01" "b" "C\x02hi"
                          "\x8c\x01" "c\x8f(K\x01\x90" "\x8c\x01" "d\x8a\x09\x00\x00\x00\x00\x00\x00\x00\x00\x01"
                          "\x8c\x01" "e\x8c\x0b" "collections\x8c\x0b" "OrderedDict\x93)R" "u."s;
  const auto p = pickle::parse(bytes_of(pkl), "pkl");
  const auto& root = p.objects[p.root];
  ASSERT_EQ(root.kind, pickle::Kind::dict);
  ASSERT_EQ(root.items.size(), 10u);
  EXPECT_EQ(p.objects[root.items[1]].kind, pickle::Kind::floating);
  EXPECT_EQ(uint64_t(p.objects[root.items[1]].integer), 0x3ff0000000000000ull);
  EXPECT_EQ(p.objects[root.items[3]].text, "hi");
  EXPECT_EQ(p.objects[root.items[5]].kind, pickle::Kind::set);
  EXPECT_EQ(p.objects[root.items[7]].kind, pickle::Kind::big_integer);
  const auto& od = p.objects[root.items[9]];
  ASSERT_EQ(od.kind, pickle::Kind::call);
  EXPECT_EQ(p.objects[od.items[0]].text + "." + p.objects[od.items[0]].name, "collections.OrderedDict");
  EXPECT_TRUE(pickle::torch_objects(p, false, "pkl").tensors.empty());
}

}  // namespace
}  // namespace tenzip::formats
