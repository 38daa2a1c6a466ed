// The model layer on made-up layouts: regions become segments, gaps stay bytes, the whole file
// comes back byte for byte, tensors extract alone, deltas need (and check) their base.
#include <gtest/gtest.h>
#include <zstd.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "model/compress_model.hpp"
#include "model/delta_kernels.hpp"
#include "model/metadata.hpp"
#include "tenzip/model.hpp"

namespace {

using namespace tenzip;
using Bytes = std::vector<uint8_t>;

Bytes random_bytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

// fp32 words that look like trained weights: small normal values, some specials.
void put_f32_weights(Bytes& f, size_t off, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.0f, 0.05f);
  for (size_t i = 0; i < n; ++i) {
    float v = nd(rng);
    uint32_t u;
    std::memcpy(&u, &v, 4);
    if (i % 997 == 3) u = 0x7fc01234u;  // a NaN with a payload
    if (i % 991 == 5) u = 0x80000000u;  // -0.0
    std::memcpy(f.data() + off + 4 * i, &u, 4);
  }
}

struct Synthetic {
  Bytes file;
  formats::FileLayout layout;
};

// [header 100 B][fp32 A: 3000 elems][gap 7 B][bf16 B: 40000 elems][int8 C: 333 B][fp32 D: 0 elems][tail 5 B]
// Tensors: A as [50, 60]; A's transpose view [60, 50] (strides 1, 60); a slice of B; C; D.
Synthetic make_synthetic(uint32_t seed) {
  Synthetic s;
  const size_t a_off = 100, a_n = 3000, b_off = a_off + 4 * a_n + 7, b_n = 40000, c_off = b_off + 2 * b_n, c_n = 333,
               d_off = c_off + c_n, end = d_off + 5;
  s.file = random_bytes(end, seed);
  put_f32_weights(s.file, a_off, a_n, seed + 1);
  for (size_t i = 0; i < b_n; ++i) {  // bf16: top halves of small weights
    float v = 0.02f * std::sin(float(i) * 0.37f + float(seed));
    uint32_t u;
    std::memcpy(&u, &v, 4);
    s.file[b_off + 2 * i] = uint8_t(u >> 16);
    s.file[b_off + 2 * i + 1] = uint8_t(u >> 24);
  }
  auto& l = s.layout;
  l.format = "synthetic";
  l.regions = {{a_off, 4 * a_n, DType::fp32, "A"},
               {b_off, 2 * b_n, DType::bf16, "B"},
               {c_off, c_n, DType::bytes, "C"},
               {d_off, 0, DType::fp32, "D"}};
  l.tensors = {{"A", "F32", {50, 60}, 0, 0, 4 * a_n, {}, 4},
               {"A.T", "F32", {60, 50}, 0, 0, 4 * a_n, {1, 60}, 4},
               {"B[100:300]", "BF16", {200}, 1, 200, 400, {}, 2},
               {"C", "I8", {333}, 2, 0, c_n, {}, 1},
               {"D", "F32", {0, 4}, 3, 0, 0, {}, 4}};
  return s;
}

Bytes compress_layout_to_bytes(const Synthetic& s, unsigned threads, std::span<const uint8_t> base = {},
                               const formats::FileLayout* base_layout = nullptr) {
  Bytes out;
  ModelCompressOptions o;
  o.threads = threads;
  o.chunk_elems = 4096;  // several chunks per region
  model::compress_layout(s.file, s.layout, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); },
                         o, base, base_layout);
  return out;
}

Bytes decompress_model(const ModelReader& r, std::span<const uint8_t> base = {}, unsigned threads = 1) {
  Bytes out;
  r.decompress([&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, base, threads);
  return out;
}

Bytes expected_tensor(const Synthetic& s, size_t i) {
  const auto& t = s.layout.tensors[i];
  const auto& r = s.layout.regions[t.region];
  return formats::gather_tensor(std::span<const uint8_t>(s.file).subspan(r.offset, r.size), t);
}

TEST(Model, RoundTripAndDirectory) {
  const Synthetic s = make_synthetic(1);
  for (unsigned threads : {1u, 2u, 3u}) {
    const Bytes c = compress_layout_to_bytes(s, threads);
    const ModelReader r(c);
    EXPECT_TRUE(r.is_model());
    EXPECT_FALSE(r.needs_base());
    EXPECT_EQ(r.format(), "synthetic");
    EXPECT_EQ(r.file_size(), s.file.size());
    EXPECT_EQ(decompress_model(r, {}, threads), s.file);
    EXPECT_EQ(decompress(c, threads), s.file);  // a model container is an ordinary container
    // Segments: header, A, gap, B, C, D, tail; each region is its own segment of its dtype.
    const auto& segs = r.reader().info().segments;
    ASSERT_EQ(segs.size(), 7u);
    EXPECT_EQ(segs[1].dtype, DType::fp32);
    EXPECT_EQ(segs[3].dtype, DType::bf16);
    EXPECT_EQ(segs[5].n_chunks, 0u);
    ASSERT_EQ(r.tensors().size(), s.layout.tensors.size());
    for (size_t i = 0; i < r.tensors().size(); ++i) {
      EXPECT_EQ(r.tensors()[i].name, s.layout.tensors[i].name);
      EXPECT_EQ(r.tensors()[i].shape, s.layout.tensors[i].shape);
      EXPECT_EQ(r.extract(i, {}, threads), expected_tensor(s, i)) << r.tensors()[i].name;
    }
    EXPECT_EQ(r.find("A.T"), std::optional<size_t>(1));
    EXPECT_EQ(r.find("nope"), std::nullopt);
  }
}

TEST(Model, ExtractRefusesAMissingTensorOrAWrongDestination) {
  const Synthetic s = make_synthetic(3);
  const ModelReader r(compress_layout_to_bytes(s, 1));
  const size_t n = r.tensors().size();
  try {
    r.extract(n);
    ADD_FAILURE() << "extracted tensor " << n << " of " << n;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("out of range (" + std::to_string(n) + " tensors)"), std::string::npos);
  }
  Bytes dst(r.tensors()[0].size + 1);
  try {
    r.extract_into(0, dst);
    ADD_FAILURE() << "extracted into a destination one byte too large";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("destination holds " + std::to_string(dst.size()) + " bytes"), std::string::npos);
  }
}

TEST(Model, TransposeViewGathersColumnMajorOrder) {
  const Synthetic s = make_synthetic(2);
  const Bytes t = expected_tensor(s, 1);  // A.T[i][j] = A[j][i]
  ASSERT_EQ(t.size(), 12000u);
  for (size_t i : {0u, 7u, 59u})
    for (size_t j : {0u, 13u, 49u})
      EXPECT_EQ(0, std::memcmp(t.data() + 4 * (i * 50 + j), s.file.data() + 100 + 4 * (j * 60 + i), 4));
}

TEST(Model, EmptyFileAndNoRegions) {
  for (size_t n : {size_t{0}, size_t{1}, size_t{77}}) {
    Synthetic s;
    s.file = random_bytes(n, 9);
    s.layout.format = "raw";
    const Bytes c = compress_layout_to_bytes(s, 1);
    const ModelReader r(c);
    EXPECT_EQ(decompress_model(r), s.file);
    EXPECT_TRUE(r.tensors().empty());
  }
}

TEST(Model, PlainContainerHasNoDirectory) {
  const Bytes data = random_bytes(1000, 3);
  const Bytes c = compress(data);
  const ModelReader r(c);
  EXPECT_FALSE(r.is_model());
  EXPECT_EQ(r.format(), "raw");
  EXPECT_EQ(decompress_model(r), data);
}

TEST(Model, RejectsLayoutsThatBreakTheRules) {
  Synthetic s = make_synthetic(4);
  std::swap(s.layout.regions[0], s.layout.regions[1]);  // out of order
  EXPECT_THROW(compress_layout_to_bytes(s, 1), Error);
  s = make_synthetic(4);
  s.layout.regions[0].size += 4;  // runs into the gap and then B
  s.layout.regions[0].size += 8;
  EXPECT_THROW(compress_layout_to_bytes(s, 1), Error);
  s = make_synthetic(4);
  s.layout.regions[1].size -= 1;  // not whole bf16 elements
  EXPECT_THROW(compress_layout_to_bytes(s, 1), Error);
  s = make_synthetic(4);
  s.layout.tensors[1].strides = {2, 60};  // the view reaches past its region
  EXPECT_THROW(compress_layout_to_bytes(s, 1), Error);
  s = make_synthetic(4);
  s.layout.tensors[1].size -= 4;  // a view whose size is not its element count times 4
  EXPECT_THROW(
      try { compress_layout_to_bytes(s, 1); } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'A.T': size 11996 is not its element count times 4 bytes"),
                  std::string::npos)
            << e.what();
        throw;
      },
      Error);
}

// ---------------------------------------------------------------- deltas

// A "fine-tuned" copy: every float nudged by a few units in the last place, the rest unchanged.
Synthetic fine_tune(const Synthetic& base, uint32_t seed) {
  Synthetic s = base;
  std::mt19937 rng(seed);
  const auto& a = s.layout.regions[0];
  for (uint64_t off = a.offset; off < a.offset + a.size; off += 4) {
    uint32_t u;
    std::memcpy(&u, s.file.data() + off, 4);
    if ((u & 0x7f800000u) != 0x7f800000u) u += static_cast<uint32_t>(static_cast<int>(rng() % 2001) - 1000);
    std::memcpy(s.file.data() + off, &u, 4);
  }
  return s;
}

// decompress() decodes a few MiB at a time and hands chunks to the sink in order as they are
// ready: a file of several batches (3.2 MB of fp32 and bf16, 4096-element chunks) comes back
// whole, in order, with the whole-file hash checked, and a checkpoint delta too, whatever
// the thread count.
TEST(Model, DecompressSpansManyBatches) {
  Synthetic s;
  const size_t a_n = 600000, b_n = 400000, b_off = 64 + 4 * a_n;
  s.file = random_bytes(b_off + 2 * b_n + 3, 21);
  put_f32_weights(s.file, 64, a_n, 22);
  for (size_t i = 0; i < b_n; ++i) s.file[b_off + 2 * i + 1] = uint8_t(0x3c + (i * 7919 % 5));  // bf16 exponents
  s.layout.format = "synthetic";
  s.layout.regions = {{64, 4 * a_n, DType::fp32, "A"}, {b_off, 2 * b_n, DType::bf16, "B"}};
  s.layout.tensors = {{"A", "F32", {a_n}, 0, 0, 4 * a_n, {}, 4}, {"B", "BF16", {b_n}, 1, 0, 2 * b_n, {}, 2}};
  Synthetic tuned = s;
  for (size_t i = 0; i < a_n; i += 13) tuned.file[64 + 4 * i] ^= 1;  // a fine-tune's small changes
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    const Bytes c = compress_layout_to_bytes(s, threads);
    EXPECT_GT(ModelReader(c).reader().info().chunks.size(), 200u);
    EXPECT_EQ(decompress_model(ModelReader(c), {}, threads), s.file);
    const Bytes d = compress_layout_to_bytes(tuned, threads, s.file, &s.layout);
    EXPECT_EQ(decompress_model(ModelReader(d), s.file, threads), tuned.file);
  }
}

TEST(Model, DeltaRoundTripNeedsTheRightBase) {
  const Synthetic base = make_synthetic(5);
  const Synthetic cur = fine_tune(base, 6);
  const Bytes alone = compress_layout_to_bytes(cur, 1);
  const Bytes delta = compress_layout_to_bytes(cur, 2, base.file, &base.layout);
  const ModelReader r(delta);
  EXPECT_TRUE(r.needs_base());
  EXPECT_LT(delta.size(), alone.size());
  EXPECT_EQ(decompress_model(r, base.file, 2), cur.file);
  for (size_t i = 0; i < cur.layout.tensors.size(); ++i)
    EXPECT_EQ(r.extract(i, base.file), expected_tensor(cur, i)) << cur.layout.tensors[i].name;

  try {
    decompress_model(r);
    FAIL() << "decompressed a delta without its base";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("base"), std::string::npos);
  }
  Bytes wrong = base.file;
  wrong[100] ^= 1;  // inside region A of the base
  try {
    decompress_model(r, wrong);
    FAIL() << "decompressed against a modified base";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("wrong base"), std::string::npos) << e.what();
  }
  Bytes shorter(base.file.begin(), base.file.end() - 1);
  EXPECT_THROW(decompress_model(r, shorter), Error);
}

// ModelReader::read_range gives the original file's bytes of any range, deltas undone against
// the base, including ranges that cut a delta region's elements (a `sub` delta undoes whole
// integers); ranges that touch no delta region need no base.
TEST(Model, ReadRangeUndoesDeltasAgainstTheBase) {
  const Synthetic base = make_synthetic(5);
  const Synthetic cur = fine_tune(base, 6);
  const Bytes delta = compress_layout_to_bytes(cur, 2, base.file, &base.layout);
  const ModelReader r(delta);
  ASSERT_TRUE(r.needs_base());
  const auto read = [&](uint64_t off, size_t n, std::span<const uint8_t> b, unsigned t) {
    Bytes out(n);
    r.read_range(off, out, b, t);
    return out;
  };
  const auto slice = [&](uint64_t off, size_t n) {
    return Bytes(cur.file.begin() + static_cast<ptrdiff_t>(off), cur.file.begin() + static_cast<ptrdiff_t>(off + n));
  };
  std::vector<uint64_t> edges;
  for (const auto& reg : cur.layout.regions) edges.insert(edges.end(), {reg.offset, reg.offset + reg.size});
  for (unsigned t : {1u, 2u})
    for (const uint64_t e : edges)
      for (const int64_t d : {-3, -1, 0, 1, 2, 3})
        for (const size_t n : {size_t{1}, size_t{2}, size_t{3}, size_t{5}, size_t{4096}, size_t{20000}}) {
          const int64_t off = static_cast<int64_t>(e) + d;
          if (off < 0 || static_cast<uint64_t>(off) + n > cur.file.size()) continue;
          ASSERT_EQ(read(static_cast<uint64_t>(off), n, base.file, t), slice(static_cast<uint64_t>(off), n))
              << "[" << off << ", +" << n << ") with " << t << " threads";
        }
  std::mt19937 rng(3);
  for (int k = 0; k < 200; ++k) {
    const uint64_t off = rng() % cur.file.size();
    const size_t n = rng() % (cur.file.size() - off + 1);
    ASSERT_EQ(read(off, n, base.file, 1 + k % 2), slice(off, n)) << "[" << off << ", +" << n << ")";
  }
  // The header (before region A) needs no base; region A does, and the right one.
  EXPECT_EQ(read(0, 100, {}, 1), slice(0, 100));
  try {
    read(96, 8, {}, 1);
    ADD_FAILURE() << "read a delta region without its base";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("base"), std::string::npos) << e.what();
  }
  Bytes wrong = base.file;
  wrong[100] ^= 1;  // inside region A of the base
  const ModelReader fresh(delta);  // its base regions not yet checked
  Bytes out(8);
  try {
    fresh.read_range(96, out, wrong);
    ADD_FAILURE() << "read a delta region against a modified base";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("wrong base"), std::string::npos) << e.what();
  }
}

TEST(Model, DeltaPairsRegionsByNameDtypeAndSize) {
  const Synthetic base = make_synthetic(7);
  Synthetic cur = fine_tune(base, 8);
  cur.layout.regions[1].name = "renamed";  // B no longer pairs
  Bytes out;
  ModelCompressOptions o;
  const auto res = model::compress_layout(
      cur.file, cur.layout, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, o,
      base.file, &base.layout);
  EXPECT_EQ(res.n_delta_regions, 2u);  // A and C (D is empty and never paired)
  const ModelReader r(out);
  EXPECT_EQ(decompress_model(r, base.file), cur.file);
}

TEST(ModelDelta, KernelsInvertEachOtherOnEveryWidth) {
  const Bytes a = random_bytes(4096, 11), b = random_bytes(4096, 12);
  for (auto d : {model::Delta::xor_, model::Delta::sub})
    for (size_t es : {1u, 2u, 4u}) {
      Bytes enc(a.size()), dec(a.size());
      model::delta_encode(d, es, a.data(), b.data(), enc.data(), a.size());
      model::delta_decode(d, es, enc.data(), b.data(), dec.data(), a.size());
      EXPECT_EQ(dec, a) << model::delta_name(d) << " es=" << es;
      Bytes inplace = a;  // the reader decodes in place
      model::delta_encode(d, es, inplace.data(), b.data(), inplace.data(), a.size());
      EXPECT_EQ(inplace, enc);
      model::delta_decode(d, es, inplace.data(), b.data(), inplace.data(), a.size());
      EXPECT_EQ(inplace, a);
    }
}

TEST(ModelDelta, SubZigzagsSmallDifferencesToSmallNumbers) {
  const uint32_t base[3] = {0x3f800000u, 0x3f800000u, 0x00000000u};
  const uint32_t cur[3] = {0x3f800003u, 0x3f7ffffeu, 0xffffffffu};  // +3, -2, -1 (wraps)
  uint32_t out[3];
  model::delta_encode(model::Delta::sub, 4, reinterpret_cast<const uint8_t*>(cur),
                      reinterpret_cast<const uint8_t*>(base), reinterpret_cast<uint8_t*>(out), 12);
  EXPECT_EQ(out[0], 6u);
  EXPECT_EQ(out[1], 3u);
  EXPECT_EQ(out[2], 1u);
}

// ---------------------------------------------------------------- metadata validation

ContainerInfo info_for(const Bytes& container) { return Reader(container).info(); }

TEST(ModelMetadata, RejectsDirectoriesThatDisagreeWithTheIndex) {
  const Synthetic s = make_synthetic(13);
  const Bytes c = compress_layout_to_bytes(s, 1);
  const ContainerInfo good = info_for(c);
  ASSERT_TRUE(model::decode_metadata(good).has_value());
  auto with = [&](const std::string& from, const std::string& to) {
    ContainerInfo i = good;
    std::string m = *model::metadata_text(i.metadata);  // stored compressed; plain JSON is accepted too
    const auto pos = m.find(from);
    EXPECT_NE(pos, std::string::npos) << from;
    m.replace(pos, from.size(), to);
    i.metadata.assign(m.begin(), m.end());
    return i;
  };
  struct Case {
    std::string from, to, message;
  };
  const Case cases[] = {
      {"\"tenzip_model\":1", "\"tenzip_model\":2", "newer"},
      {"\"segment\":1", "\"segment\":99", "does not exist"},
      {"\"segment\":1", "\"segment\":2", "does not match segment"},
      {"\"dtype\":\"bf16\"", "\"dtype\":\"fp64\"", "unknown"},
      {"\"file_size\":" + std::to_string(s.file.size()), "\"file_size\":1", "differs"},
      {"\"region\":0", "\"region\":9", "missing region"},
      {"\"shape\":[50,60]", "\"shape\":\"x\"", "'shape'"},
      {"\"regions\":", "\"regionz\":", "malformed"},  // a required key missing
  };
  for (const Case& k : cases) {
    try {
      model::decode_metadata(with(k.from, k.to));
      ADD_FAILURE() << "accepted " << k.to;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(k.message), std::string::npos) << k.to << ": " << e.what();
    }
  }
  ASSERT_GE(good.metadata.size(), 4u);
  EXPECT_EQ(good.metadata[0], 0x28);  // a zstd frame
  ContainerInfo broken = good;
  broken.metadata.resize(broken.metadata.size() / 2);  // a cut zstd frame
  EXPECT_THROW(model::decode_metadata(broken), Error);
  // A bomb: 64 MiB of text from a frame of a few KB is refused before it is allocated.
  ContainerInfo bomb = good;
  const std::string huge(size_t{64} << 20, ' ');
  bomb.metadata.resize(ZSTD_compressBound(huge.size()));
  bomb.metadata.resize(ZSTD_compress(bomb.metadata.data(), bomb.metadata.size(), huge.data(), huge.size(), 1));
  ASSERT_LT(bomb.metadata.size(), size_t{64} << 10);
  try {
    model::decode_metadata(bomb);
    ADD_FAILURE() << "accepted a directory of 64 MiB from " << bomb.metadata.size() << " bytes";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("claims 67108864 bytes of text, more than 1024 times its size"),
              std::string::npos)
        << e.what();
  }
  ContainerInfo other = good;
  const std::string foreign = "{\"some_app\":1}";
  other.metadata.assign(foreign.begin(), foreign.end());
  EXPECT_FALSE(model::decode_metadata(other).has_value());  // another application's metadata: not a model
}

}  // namespace

namespace {

TEST(ModelFolder, PolicyByExtensionThenContent) {
  const std::vector<uint8_t> text = {'{', '"', 'a', '"', ':', '1', '}'};
  EXPECT_TRUE(tenzip::folder_compresses("model.safetensors", text));
  EXPECT_TRUE(tenzip::folder_compresses("sub/pytorch_model.bin", text));
  EXPECT_TRUE(tenzip::folder_compresses("notes.tnz", text));  // every .tnz of an output folder is tenzip's
  EXPECT_FALSE(tenzip::folder_compresses("config.json", text));
  EXPECT_FALSE(tenzip::folder_compresses(".bin", text));  // a dot file, not an extension
  EXPECT_FALSE(tenzip::folder_compresses("tokenizer.model", text));
  // by content: a safetensors file under any name
  std::vector<uint8_t> st = {2, 0, 0, 0, 0, 0, 0, 0, '{', '}'};
  EXPECT_TRUE(tenzip::folder_compresses("weights.dat", st));
}

}  // namespace
