// The .npy / .npz parser: fixtures written by numpy (tests/formats/gen_numpy.py) and checked
// against np.load's view, headers built here, and malformed files, each of which must be refused
// with corrupt_input and a message naming the problem.
#include <gtest/gtest.h>

#include <string>

#include "formats_test_util.hpp"

namespace tenzip::testing {
namespace {

using formats::FileLayout;

fs::path numpy_data(const std::string& name) { return kFormatsData / "numpy" / name; }

FileLayout parse_fixture(const std::string& name, Bytes& file) {
  file = read_bytes(numpy_data(name));
  FileLayout l = name.ends_with(".npz") ? formats::parse_npz(file) : formats::parse_npy(file);
  formats::check_layout(l, file.size());
  return l;
}

// A .npy of the given version with `header` padded as numpy pads it, then `data`.
Bytes npy(std::string header, const Bytes& data = {}, int major = 1) {
  const size_t len_size = major == 1 ? 2 : 4;
  header += std::string((64 - (8 + len_size + header.size() + 1) % 64) % 64, ' ') + "\n";
  Bytes b = as_bytes("\x93NUMPY");
  b.push_back(uint8_t(major));
  b.push_back(0);
  for (size_t i = 0; i < len_size; ++i) b.push_back(uint8_t(header.size() >> (8 * i)));
  b.insert(b.end(), header.begin(), header.end());
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

Bytes zeros(size_t n) { return Bytes(n, 0); }

TEST(FormatsNumpy, EveryFixtureMatchesNpLoad) {
  for (const char* name :
       {"f32.npy", "f16.npy", "fortran_f32.npy", "scalar_f64.npy", "empty_f32.npy", "v2_i64.npy", "v3_c64.npy",
        "bigendian_f32.npy", "unicode.npy", "bool.npy", "datetime.npy", "bf16_v2.npy", "random_v2.npy", "object.npy",
        "structured.npy", "savez.npz",
        "savez_compressed.npz", "mixed.npz"}) {
    SCOPED_TRACE(name);
    Bytes file;
    const FileLayout l = parse_fixture(name, file);
    expect_matches_sidecar(l, file, numpy_data(name), /*same_order=*/true);
  }
}

TEST(FormatsNumpy, SniffsByMagicAndFirstMember) {
  Bytes file = read_bytes(numpy_data("f32.npy"));
  EXPECT_TRUE(formats::looks_like_npy(file));
  EXPECT_FALSE(formats::looks_like_npz(file));
  file = read_bytes(numpy_data("savez.npz"));
  EXPECT_TRUE(formats::looks_like_npz(file));
  EXPECT_FALSE(formats::looks_like_npy(file));
  EXPECT_FALSE(formats::looks_like_zip(file));  // not mistaken for a torch archive
  EXPECT_FALSE(formats::looks_like_npy(as_bytes("\x93NUMPY")));
}

TEST(FormatsNumpy, CodesFloatsWithTheirDtypeAndTheRestAsBytes) {
  const std::pair<const char*, DType> cases[] = {
      {"f32.npy", DType::fp32},   {"f16.npy", DType::fp16},           {"v3_c64.npy", DType::fp32},
      {"v2_i64.npy", DType::bytes}, {"bigendian_f32.npy", DType::bytes}, {"unicode.npy", DType::bytes},
      {"fortran_f32.npy", DType::fp32}, {"bf16_v2.npy", DType::bf16}, {"random_v2.npy", DType::bytes}};
  for (const auto& [name, dtype] : cases) {
    SCOPED_TRACE(name);
    Bytes file;
    const FileLayout l = parse_fixture(name, file);
    ASSERT_EQ(l.regions.size(), 1u);
    EXPECT_EQ(l.regions[0].dtype, dtype);
    EXPECT_EQ(l.tensors[0].name, "array");
  }
}

TEST(FormatsNumpy, FortranOrderIsAColumnMajorView) {
  Bytes file;
  const FileLayout l = parse_fixture("fortran_f32.npy", file);
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].shape, (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(l.tensors[0].strides, (std::vector<uint64_t>{1, 3, 12}));
  EXPECT_EQ(l.tensors[0].element_size, 4u);
}

TEST(FormatsNumpy, NpzKeepsMembersTheLoaderCannotReadInPlaceAsBytes) {
  Bytes file;
  FileLayout l = parse_fixture("savez_compressed.npz", file);  // deflated members
  EXPECT_EQ(l.format, "npz");
  EXPECT_TRUE(l.tensors.empty());
  EXPECT_TRUE(l.regions.empty());
  l = parse_fixture("mixed.npz", file);  // notes.txt between two arrays
  ASSERT_EQ(l.tensors.size(), 2u);
  EXPECT_EQ(l.tensors[0].name, "w");
  EXPECT_EQ(l.tensors[1].name, "later");
}

TEST(FormatsNumpy, HandWrittenHeadersParse) {
  // Spacing, double quotes, Python 2 longs in a 1.0 header, any key order, a trailing comma.
  const Bytes data = zeros(24);
  FileLayout l = formats::parse_npy(npy("{ \"shape\" : (2L, 3L) , 'fortran_order':False,'descr':'<f4', }", data));
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(l.tensors[0].size, 24u);
  // Trailing bytes after the array are left to the gap (np.load ignores them).
  l = formats::parse_npy(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4,), }", zeros(10)));
  EXPECT_EQ(l.regions.at(0).size, 4u);
  // Structured descr: nested lists and tuples, no tensor.
  l = formats::parse_npy(npy("{'descr': [('x', '<f4'), ('y', '<i2', (2, 3))], 'fortran_order': False, 'shape': (1,), }",
                             zeros(16)));
  EXPECT_TRUE(l.tensors.empty());
  // Zero-size items in Fortran order: an empty tensor, not a strided view of nothing.
  const Bytes v0 = npy("{'descr': '|V0', 'fortran_order': True, 'shape': (2, 3), }");
  l = formats::parse_npy(v0);
  formats::check_layout(l, v0.size());
  ASSERT_EQ(l.tensors.size(), 1u);
  EXPECT_EQ(l.tensors[0].size, 0u);
  EXPECT_TRUE(l.tensors[0].strides.empty());
}

TEST(FormatsNumpy, MalformedFilesAreRefusedByName) {
  const auto refuse = [](const Bytes& f, const std::string& needle) {
    expect_error([&] { formats::parse_npy(f); }, Errc::corrupt_input, "npy: ", needle);
  };
  const std::string ok_tail = "'fortran_order': False, 'shape': (2,), }";
  refuse(as_bytes("\x93NUMPX\x01\x00\x10\x00{}"), "no .npy magic");
  refuse(npy("{'descr': '<f4', " + ok_tail, zeros(8), 4), "format version 4.0");
  Bytes cut = npy("{'descr': '<f4', " + ok_tail, zeros(8));
  cut.resize(40);
  refuse(cut, "runs past the end");
  refuse(npy("{'descr': '<f4', " + ok_tail, zeros(7)), "needs 8 bytes, 7 follow");
  refuse(npy("{'descr': '<f4', 'fortran_order': False}", zeros(8)), "lacks the key 'shape'");
  refuse(npy("{'descr': '<f4', 'extra': 1, " + ok_tail, zeros(8)), "the key 'extra'");
  refuse(npy("{'descr': '<f4', 'descr': '<f4', " + ok_tail, zeros(8)), "'descr' twice");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", zeros(8)), "(2) is an int");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", zeros(8)), "negative dimension");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", zeros(8)), "shape is not a tuple");
  refuse(npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", zeros(8)), "not True or False");
  refuse(npy("{'descr': '<x4', " + ok_tail, zeros(8)), "descr '<x4' is not a valid dtype");
  for (const char* d : {"<f", "<f0", "<f3", "<i3", "|b2", "<c4", "<M4", "<f4x", "|U", "|"})
    refuse(npy("{'descr': '" + std::string(d) + "', " + ok_tail, zeros(8)), "descr '" + std::string(d) + "' is not");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"), "above 2^64");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 2), }"), "overflows 64 bits");
  refuse(npy("{'descr': '<f4\\n', " + ok_tail, zeros(8)), "escape");
  refuse(npy("{'descr': '<f4', " + ok_tail + " junk", zeros(8)), "text after its dict");
  refuse(npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", zeros(8), 3), "expected ',' or ')'");
  refuse(npy("{'descr': '<f4', " + ok_tail + std::string(10000, ' '), zeros(8)), "longer than numpy reads");
  refuse(npy("{'descr': " + std::string(40, '[') + "'<f4'" + std::string(40, ']') + ", " + ok_tail, zeros(8)),
         "nests deeper");
}

TEST(FormatsNumpy, MalformedNpzMembersAreRefusedByName) {
  // savez.npz with its first member's magic damaged: the member is named.
  Bytes file = read_bytes(numpy_data("savez.npz"));
  const size_t at = std::string_view(reinterpret_cast<const char*>(file.data()), file.size()).find("\x93NUMPY");
  ASSERT_NE(at, std::string_view::npos);
  file[at + 1] = 'X';
  expect_error([&] { formats::parse_npz(file); }, Errc::corrupt_input, "npz: member 'emb.weight.npy': ", "magic");
  // A broken zip is the zip reader's error, under the npz name.
  file = read_bytes(numpy_data("savez.npz"));
  file.resize(file.size() - 10);
  expect_error([&] { formats::parse_npz(file); }, Errc::corrupt_input, "npz: ", "end-of-central-directory");
}

}  // namespace
}  // namespace tenzip::testing
