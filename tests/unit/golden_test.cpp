// Golden files: containers that must keep decoding (tests/golden) and damaged ones that must
// keep failing with the same message (tests/golden_errors).
//
// Regenerate both, deliberately, after a format or codec payload change:
//   tests/golden/regenerate.sh [build-dir]
// which runs this binary with TENZIP_REGENERATE_GOLDEN=1 (test Golden.Regenerate).
#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "container/format.hpp"
#include "container_test_util.hpp"
#include "entropy/stream_coder.hpp"

namespace tenzip::testing {
namespace {

namespace fs = std::filesystem;
using namespace tenzip::detail;

const fs::path kGolden = fs::path(TENZIP_SOURCE_DIR) / "tests" / "golden";
const fs::path kGoldenErrors = fs::path(TENZIP_SOURCE_DIR) / "tests" / "golden_errors";

Bytes read_file(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
void write_file(const fs::path& p, std::span<const uint8_t> b) {
  std::ofstream f(p, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) throw std::runtime_error("cannot write " + p.string());
}
std::string read_text(const fs::path& p) {
  const Bytes b = read_file(p);
  return std::string(b.begin(), b.end());
}

// ---------------------------------------------------------------- SHA-256 (FIPS 180-4)
std::string sha256_hex(std::span<const uint8_t> msg) {
  static constexpr uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
      0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
      0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
      0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
      0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
      0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
      0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  Bytes m(msg.begin(), msg.end());
  const uint64_t bits = uint64_t{msg.size()} * 8;
  m.push_back(0x80);
  while (m.size() % 64 != 56) m.push_back(0);
  for (int i = 7; i >= 0; --i) m.push_back(uint8_t(bits >> (8 * i)));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t off = 0; off < m.size(); off += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i)
      w[i] = (uint32_t(m[off + 4 * i]) << 24) | (uint32_t(m[off + 4 * i + 1]) << 16) |
             (uint32_t(m[off + 4 * i + 2]) << 8) | m[off + 4 * i + 3];
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g, g = f, f = e, e = d + t1, d = c, c = b, b = a, a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  std::string out;
  char buf[9];
  for (uint32_t v : h) {
    std::snprintf(buf, sizeof buf, "%08x", v);
    out += buf;
  }
  return out;
}

// ---------------------------------------------------------------- the golden cases
struct Case {
  Case(std::string n, DType d, uint32_t c, int l, bool la = false, std::string in = {})
      : name(std::move(n)), dtype(d), chunk_elems(c), level(l), lanes(la), input(std::move(in)) {}
  std::string name;
  DType dtype;
  uint32_t chunk_elems;
  int level;
  bool lanes;         // CompressOptions::lanes (format version 3)
  std::string input;  // the input's name, if not `name`
  std::string in_name() const { return input.empty() ? name : input; }
};
// Single-segment cases: <name>.in compressed with these options gives <name>.tnz.
const std::vector<Case>& cases() {
  static const std::vector<Case> c = {
      {"fp32_stories260k", DType::fp32, 4096, 3},   {"bf16_stories260k", DType::bf16, 4096, 9},
      {"fp16_rwkv7", DType::fp16, 4096, 3},         {"special_bytes", DType::bytes, 64, 1},
      {"special_bf16", DType::bf16, 64, 1},         {"special_fp16", DType::fp16, 64, 1},
      {"special_fp32", DType::fp32, 64, 1},         {"special_fp8_e4m3", DType::fp8_e4m3, 64, 1},
      {"special_fp8_e5m2", DType::fp8_e5m2, 64, 1}, {"empty", DType::bytes, 65536, 3},
      {"fp32_silero_stft", DType::fp32, 8192, 3},  // repeated values: chunks coded as ZSTD_ELEMENTS
      {"fp32_rwkv7_clean", DType::fp32, 8192, 3},  // bf16 values stored as fp32: flat codes
      // LANES exponents (level 1: one table; at level 3 zstd codes these 12000 exponents):
      // two chunks, the second with a tail of 96 symbols after its steps. And real exponents
      // at level 3 (several tables per stream).
      {"bf16_stories260k_lanes", DType::bf16, 8192, 1, true, "bf16_stories260k"},
      {"fp32_rwkv7_clean_lanes", DType::fp32, 8192, 3, true, "fp32_rwkv7_clean"},
  };
  return c;
}

const std::string kMultiMetadata = "{\"tensors\":[\"w\",\"empty\",\"h\",\"tail\",\"text\"]}";

// Multi-segment case, built from other golden inputs: fp32 (300 values), an empty bf16
// segment, fp16 (101 values and 1 stray byte: a bytes tail segment), and text.
Bytes build_multi_segment(Bytes* decoded) {
  const Bytes f32 = read_file(kGolden / "fp32_stories260k.in");
  const Bytes f16 = read_file(kGolden / "fp16_rwkv7.in");
  const std::string text = "tenzip golden multi-segment container\n";
  CompressOptions opts;
  opts.dtype = DType::fp32;
  opts.chunk_elems = 256;
  Bytes out;
  Compressor c(opts, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  auto put = [&](std::span<const uint8_t> b) {
    c.write(b);
    if (decoded) decoded->insert(decoded->end(), b.begin(), b.end());
  };
  put(std::span(f32).first(300 * 4));
  c.begin_segment(DType::bf16);
  c.begin_segment(DType::fp16);
  put(std::span(f16).first(101 * 2 + 1));
  c.begin_segment(DType::bytes);
  put({reinterpret_cast<const uint8_t*>(text.data()), text.size()});
  c.set_metadata({reinterpret_cast<const uint8_t*>(kMultiMetadata.data()), kMultiMetadata.size()});
  c.finish();
  return out;
}

Bytes compress_case(const Case& k, const Bytes& in) {
  CompressOptions o;
  o.dtype = k.dtype;
  o.chunk_elems = k.chunk_elems;
  o.level = k.level;
  o.lanes = k.lanes;
  return compress(in, o);
}

// ---------------------------------------------------------------- golden error files
struct ErrorCase {
  std::string name;
  Errc code;
  Errc also = Errc::internal;  // a second acceptable code (never produced for these files)
};
const std::vector<ErrorCase>& error_cases() {
  static const std::vector<ErrorCase> c = {
      {"truncated", Errc::truncated_input},       {"bitflip", Errc::checksum_mismatch, Errc::corrupt_input},
      {"wrong_magic", Errc::corrupt_input},       {"future_version", Errc::unsupported_version},
      {"bad_index", Errc::corrupt_input},         {"checksum_mismatch", Errc::checksum_mismatch},
      {"bad_frame_reserved", Errc::corrupt_input}, {"trailing_data", Errc::corrupt_input},
      {"empty_file", Errc::truncated_input},
      {"elements_wrong_size", Errc::corrupt_input},  // a ZSTD_ELEMENTS frame that declares another size
      {"elements_bitflip", Errc::checksum_mismatch, Errc::corrupt_input},
  };
  return c;
}

// The message every decoding path must give for a damaged file.
std::vector<Outcome> all_path_outcomes(const Bytes& c) {
  return {outcome_of([&] { decompress(c, 1); }), outcome_of([&] { stream_decode(c, 4096); }),
          outcome_of([&] { stream_decode(c, 1, 2); }), outcome_of([&] { reader_decode_all(c, 2); })};
}

// Derives the damaged files from fp16_rwkv7.tnz (two chunks).
std::map<std::string, Bytes> make_error_files(const Bytes& good) {
  const uint64_t footer = good.size() - kFooterSize;
  const uint64_t index_offset = load_u64(&good[footer]);
  const uint64_t index_size = load_u64(&good[footer + 8]);
  const uint64_t f1 = kFileHeaderSize + kFrameHeaderSize + load_u32(&good[kFileHeaderSize + 8]);  // chunk 1 frame
  const uint64_t p1 = f1 + kFrameHeaderSize, p1_size = load_u32(&good[f1 + 8]);
  const uint64_t chunk_table = index_offset + 8 + kIndexSegmentSize * load_u32(&good[index_offset]) + 8;
  auto reseal_frame = [](Bytes& c, uint64_t off) { store_u32(&c[off + 28], xxh3_low32({c.data() + off, 28})); };
  auto reseal_index = [&](Bytes& c) { store_u64(&c[footer + 16], xxh3({c.data() + index_offset, index_size})); };

  std::map<std::string, Bytes> out;
  out["truncated"] = Bytes(good.begin(), good.begin() + static_cast<ptrdiff_t>(p1 + p1_size / 2));
  Bytes b = good;
  b[p1 + p1_size / 2] ^= 0x10;  // a mantissa-ish bit in the middle of chunk 1's payload
  out["bitflip"] = b;
  b = good;
  b[1] = 't';
  out["wrong_magic"] = b;
  b = good;
  store_u16(&b[8], kFormatVersion + 1);
  store_u32(&b[16], xxh3_low32({b.data(), 16}));
  store_u16(&b[footer + 24], kFormatVersion + 1);
  out["future_version"] = b;
  b = good;
  b[chunk_table + kIndexChunkSize + 16] ^= 0x01;  // index's checksum of chunk 1, index re-sealed
  reseal_index(b);
  out["bad_index"] = b;
  b = good;  // same wrong checksum in frame header and index: only the data disagrees
  b[f1 + 16] ^= 0x01;
  reseal_frame(b, f1);
  b[chunk_table + kIndexChunkSize + 16] ^= 0x01;
  reseal_index(b);
  out["checksum_mismatch"] = b;
  b = good;
  b[kFileHeaderSize + 12] = 1;
  reseal_frame(b, kFileHeaderSize);
  out["bad_frame_reserved"] = b;
  b = good;
  for (char ch : std::string("garbage")) b.push_back(static_cast<uint8_t>(ch));
  out["trailing_data"] = b;
  out["empty_file"] = Bytes{};
  return out;
}

// Derives damaged ZSTD_ELEMENTS chunks from fp32_silero_stft.tnz. Chunk 0's payload: mode 4,
// u32 section size, a zstd frame: magic (4), frame header descriptor (1, single segment), and
// a 2-byte content size (size - 256, for 256..65791 bytes) that the damage changes to 1 element more.
std::map<std::string, Bytes> make_elements_error_files(const Bytes& good) {
  const uint64_t p0 = kFileHeaderSize + kFrameHeaderSize, p0_size = load_u32(&good[kFileHeaderSize + 8]);
  if (good[p0] != 4 || load_u32(&good[p0 + 5]) != 0xFD2FB528u || (good[p0 + 9] & 0xE0) != 0x60)
    throw std::runtime_error("fp32_silero_stft.tnz: chunk 0 is not a ZSTD_ELEMENTS frame with a 2-byte content size");
  std::map<std::string, Bytes> out;
  Bytes b = good;
  const uint16_t fcs = load_u16(&b[p0 + 10]);
  b[p0 + 10] = static_cast<uint8_t>(fcs + 4);
  b[p0 + 11] = static_cast<uint8_t>((fcs + 4) >> 8);
  out["elements_wrong_size"] = b;
  b = good;
  b[p0 + p0_size / 2] ^= 0x10;  // in the middle of the compressed data
  out["elements_bitflip"] = b;
  return out;
}

std::map<std::string, Bytes> all_error_files() {
  auto out = make_error_files(read_file(kGolden / "fp16_rwkv7.tnz"));
  out.merge(make_elements_error_files(read_file(kGolden / "fp32_silero_stft.tnz")));
  return out;
}

// ---------------------------------------------------------------- corpus slices (regeneration only)
Bytes corpus_file(const std::string& rel) {
  const char* env = std::getenv("TENZIP_CORPUS_DIR");
  const fs::path dir = env ? fs::path(env) : fs::path(TENZIP_SOURCE_DIR) / ".." / "shared" / "corpus";
  return read_file(dir / rel);
}

uint16_t bf16_round_nearest_even(uint32_t x) {
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // NaN: keep sign and payload top, quiet
  return uint16_t((x + 0x7fffu + ((x >> 16) & 1)) >> 16);
}

template <class T>
Bytes le_bytes(const std::vector<T>& v) {
  Bytes b(v.size() * sizeof(T));
  for (size_t i = 0; i < v.size(); ++i)
    for (size_t k = 0; k < sizeof(T); ++k) b[i * sizeof(T) + k] = uint8_t(uint64_t(v[i]) >> (8 * k));
  return b;
}

std::map<std::string, Bytes> make_inputs() {
  std::map<std::string, Bytes> in;
  const Bytes stories = corpus_file("llm/stories260K.bin");  // 28-byte header, then fp32
  std::vector<uint32_t> f32(12000);
  for (size_t i = 0; i < f32.size(); ++i) f32[i] = load_u32(&stories[28 + 4 * i]);
  in["fp32_stories260k"] = le_bytes(f32);
  std::vector<uint16_t> b16(f32.size());
  for (size_t i = 0; i < f32.size(); ++i) b16[i] = bf16_round_nearest_even(f32[i]);
  in["bf16_stories260k"] = le_bytes(b16);
  // rwkv ggmf: 24-byte header, then records; the first is emb.weight, F16 [64 x 256].
  const Bytes rwkv = corpus_file("llm/tiny-rwkv-7v0-834K-FP16.bin");
  const uint32_t n_dims = load_u32(&rwkv[24]), key_len = load_u32(&rwkv[28]), type = load_u32(&rwkv[32]);
  if (type != 1) throw std::runtime_error("rwkv: first tensor is not F16");
  const size_t data = 24 + 12 + 4 * n_dims + key_len;
  in["fp16_rwkv7"] = Bytes(rwkv.begin() + static_cast<ptrdiff_t>(data), rwkv.begin() + static_cast<ptrdiff_t>(data + 8000 * 2));
  // The same checkpoint's FP32 file, same layout: its emb.weight is F32 [64 x 256], "clean" fp32
  // (the low 16 bits of every value are zero).
  const Bytes rwkv32 = corpus_file("llm/tiny-rwkv-7v0-834K-FP32.bin");
  const uint32_t n_dims32 = load_u32(&rwkv32[24]), key_len32 = load_u32(&rwkv32[28]);
  if (load_u32(&rwkv32[32]) != 0) throw std::runtime_error("rwkv FP32: first tensor is not F32");
  const size_t data32 = 24 + 12 + 4 * n_dims32 + key_len32;
  in["fp32_rwkv7_clean"] = Bytes(rwkv32.begin() + static_cast<ptrdiff_t>(data32),
                                 rwkv32.begin() + static_cast<ptrdiff_t>(data32 + 16384 * 4));

  // Special values, as bit patterns: +-0, subnormals, normals, max, +-inf, NaN payloads.
  in["special_fp32"] = le_bytes(std::vector<uint32_t>{
      0x00000000, 0x80000000, 0x00000001, 0x807fffff, 0x00400000, 0x00800000, 0x3f800000, 0xbf800000, 0x7f7fffff,
      0xff7fffff, 0x7f800000, 0xff800000, 0x7fc00000, 0xffc00000, 0x7f800001, 0x7fbfffff, 0xffc0dead, 0x7fffffff,
      0x34000000, 0xc2f6e979});
  in["special_fp32"].push_back(0xa5);  // 1 byte that does not fill an element: a bytes tail segment
  in["special_bf16"] = le_bytes(std::vector<uint16_t>{0x0000, 0x8000, 0x0001, 0x807f, 0x0080, 0x3f80, 0xbf80, 0x7f7f,
                                                      0xff7f, 0x7f80, 0xff80, 0x7fc0, 0xffc0, 0x7f81, 0x7fff, 0xffa5,
                                                      0x3c00, 0x4049});
  in["special_bf16"].push_back(0x5a);
  in["special_fp16"] = le_bytes(std::vector<uint16_t>{0x0000, 0x8000, 0x0001, 0x83ff, 0x0200, 0x0400, 0x3c00, 0xbc00,
                                                      0x7bff, 0xfbff, 0x7c00, 0xfc00, 0x7e00, 0xfe00, 0x7c01, 0x7dff,
                                                      0xfe5a, 0x7fff, 0x3555});
  for (const char* name : {"special_fp8_e4m3", "special_fp8_e5m2", "special_bytes"}) {
    Bytes all(256);  // every code, NaNs and +-0 included, then a descending run
    for (int i = 0; i < 256; ++i) all[i] = uint8_t(i);
    for (int i = 255; i >= 0; i -= 3) all.push_back(uint8_t(i));
    in[name] = all;
  }
  in["empty"] = Bytes{};
  // Silero's STFT basis (the first tensor of the 16 kHz safetensors file): 66K fp32 values, 11K
  // distinct. Its first 16384 values, two chunks of 8192.
  const Bytes silero = corpus_file("audio/silero_vad_16k.safetensors");
  const size_t data_start = 8 + load_u64(&silero[0]);
  const std::string header(silero.begin() + 8, silero.begin() + static_cast<ptrdiff_t>(data_start));
  if (header.find("\"stft_conv.weight\":{\"dtype\":\"F32\",\"shape\":[258,1,256],\"data_offsets\":[0,") == std::string::npos)
    throw std::runtime_error("silero_vad_16k.safetensors: stft_conv.weight is not the first F32 tensor");
  in["fp32_silero_stft"] = Bytes(silero.begin() + static_cast<ptrdiff_t>(data_start),
                                 silero.begin() + static_cast<ptrdiff_t>(data_start + 16384 * 4));
  return in;
}

// ---------------------------------------------------------------- tests

TEST(Golden, Regenerate) {
  if (!std::getenv("TENZIP_REGENERATE_GOLDEN")) GTEST_SKIP() << "set TENZIP_REGENERATE_GOLDEN=1 (tests/golden/regenerate.sh)";
  fs::create_directories(kGolden);
  fs::create_directories(kGoldenErrors);
  for (const auto& [name, bytes] : make_inputs()) write_file(kGolden / (name + ".in"), bytes);
  for (const Case& k : cases()) {
    const Bytes tnz = compress_case(k, read_file(kGolden / (k.in_name() + ".in")));
    ASSERT_LT(tnz.size(), 64u * 1024) << k.name;
    write_file(kGolden / (k.name + ".tnz"), tnz);
  }
  Bytes decoded;
  const Bytes multi = build_multi_segment(&decoded);
  write_file(kGolden / "multi_segment.tnz", multi);
  write_file(kGolden / "multi_segment.in", decoded);
  for (const auto& [name, file] : all_error_files()) {
    const Bytes& bytes = file;  // a named reference: clang 14 cannot capture a structured binding
    write_file(kGoldenErrors / (name + ".tnz"), bytes);
    const Outcome o = outcome_of([&] { decompress(bytes); });
    ASSERT_TRUE(o.threw_error) << name;
    const std::string msg = o.message + "\n";
    write_file(kGoldenErrors / (name + ".expected"), {reinterpret_cast<const uint8_t*>(msg.data()), msg.size()});
  }
}

// sha256 of each input, as written by `sha256sum *.in` in regenerate.sh.
std::map<std::string, std::string> input_hashes() {
  std::map<std::string, std::string> h;
  std::istringstream s(read_text(kGolden / "SHA256SUMS"));
  std::string hash, file;
  while (s >> hash >> file) h[file] = hash;
  return h;
}

TEST(Golden, DecodesToTheOriginalInput) {
  const auto hashes = input_hashes();
  std::vector<std::string> names;
  std::vector<std::string> inputs;
  for (const Case& k : cases()) {
    names.push_back(k.name);
    inputs.push_back(k.in_name());
  }
  names.push_back("multi_segment");
  inputs.push_back("multi_segment");
  for (size_t i = 0; i < names.size(); ++i) {
    const std::string& name = names[i];
    SCOPED_TRACE(name);
    const Bytes tnz = read_file(kGolden / (name + ".tnz"));
    const Bytes in = read_file(kGolden / (inputs[i] + ".in"));
    EXPECT_LT(tnz.size(), 64u * 1024);
    ASSERT_TRUE(hashes.count(inputs[i] + ".in")) << "missing from SHA256SUMS";
    EXPECT_EQ(sha256_hex(in), hashes.at(inputs[i] + ".in"));
    const Bytes out = decompress(tnz, 2);
    EXPECT_EQ(sha256_hex(out), hashes.at(inputs[i] + ".in"));
    EXPECT_TRUE(same_bytes(out, in));
    EXPECT_TRUE(same_bytes(stream_decode(tnz, 777), in));
    EXPECT_TRUE(same_bytes(reader_decode_chunks(Reader(tnz)), in));
  }
}

// Files written by format version 1 (before ZSTD_ELEMENTS) decode forever: same inputs.
TEST(Golden, Version1FilesStillDecode) {
  const auto hashes = input_hashes();
  int files = 0;
  for (const auto& entry : fs::directory_iterator(kGolden / "v1")) {
    if (entry.path().extension() != ".tnz") continue;
    const std::string name = entry.path().stem().string();
    SCOPED_TRACE(name);
    const Bytes tnz = read_file(entry.path());
    EXPECT_EQ(load_u16(&tnz[8]), 1u) << "not a version 1 file";
    const Bytes out = decompress(tnz, 2);
    EXPECT_EQ(sha256_hex(out), hashes.at(name + ".in"));
    EXPECT_TRUE(same_bytes(stream_decode(tnz, 777), out));
    ++files;
  }
  EXPECT_EQ(files, 11);
}

// The STFT golden file pins ZSTD_ELEMENTS: both its chunks use it.
TEST(Golden, RepeatedValuesGoldenUsesZstdOfTheElements) {
  const Bytes tnz = read_file(kGolden / "fp32_silero_stft.tnz");  // the Reader only views it
  const Reader r(tnz);
  const auto sum = summarize_streams(r);
  ASSERT_EQ(sum.size(), 1u);
  EXPECT_EQ(sum[0].stream, "elements");
  EXPECT_EQ(sum[0].chunks_by_mode[4], 2u);
}

// The LANES golden files pin the layout: version 3, and both chunks' exponents coded LANES.
TEST(Golden, LanesGoldensUseLanes) {
  for (const char* name : {"bf16_stories260k_lanes", "fp32_rwkv7_clean_lanes"}) {
    SCOPED_TRACE(name);
    const Bytes tnz = read_file(kGolden / (std::string(name) + ".tnz"));
    EXPECT_EQ(load_u16(&tnz[8]), 3u);
    const Reader r(tnz);
    const auto sum = summarize_streams(r);
    ASSERT_FALSE(sum.empty());
    EXPECT_EQ(sum[0].stream, "exponent");
    EXPECT_EQ(sum[0].chunks_by_mode[static_cast<int>(StreamMode::lanes)], 2u);
  }
}

// The clean-fp32 golden file pins flat codes: in each chunk the top mantissa byte (stream 1)
// has a flat 7-bit code and the sign byte (stream 3, sign over zero bits) a flat 1-bit code.
TEST(Golden, CleanFp32GoldenUsesFlatCodes) {
  const Bytes tnz = read_file(kGolden / "fp32_rwkv7_clean.tnz");
  const uint64_t p0 = kFileHeaderSize + kFrameHeaderSize;
  const uint32_t n = load_u32(&tnz[kFileHeaderSize + 4]), size = load_u32(&tnz[kFileHeaderSize + 8]);
  ASSERT_EQ(n, 8192u);
  const std::span<const uint8_t> payload(tnz.data() + p0, size);
  tenzip::detail::StreamDecoder dec;
  std::vector<uint8_t> scratch(n);
  size_t pos = 0;
  int flat[4];
  for (int s = 0; s < 4; ++s) {
    dec.decode(payload, pos, n, scratch.data());
    flat[s] = dec.last_flat_length();
  }
  EXPECT_EQ(pos, payload.size());
  EXPECT_EQ(flat[1], 7);
  EXPECT_EQ(flat[3], 1);
}

TEST(Golden, RecompressingReproducesTheFileByteForByte) {
  for (const Case& k : cases()) {
    SCOPED_TRACE(k.name);
    const Bytes tnz = read_file(kGolden / (k.name + ".tnz"));
    const Bytes in = read_file(kGolden / (k.in_name() + ".in"));
    EXPECT_TRUE(same_bytes(compress_case(k, in), tnz)) << "format or codec output changed: regenerate deliberately "
                                                          "with tests/golden/regenerate.sh";
  }
  EXPECT_TRUE(same_bytes(build_multi_segment(nullptr), read_file(kGolden / "multi_segment.tnz")));
}

TEST(Golden, MultiSegmentLayout) {
  const Bytes tnz = read_file(kGolden / "multi_segment.tnz");
  const Reader r(tnz);
  ASSERT_EQ(r.info().segments.size(), 5u);
  const DType want[] = {DType::fp32, DType::bf16, DType::fp16, DType::bytes, DType::bytes};
  for (size_t s = 0; s < 5; ++s) EXPECT_EQ(r.info().segments[s].dtype, want[s]);
  EXPECT_EQ(r.info().segments[1].decoded_size, 0u);
  EXPECT_EQ(r.info().segments[3].decoded_size, 1u);
  EXPECT_EQ(std::string(r.info().metadata.begin(), r.info().metadata.end()), kMultiMetadata);
}

TEST(Golden, ErrorFilesFailWithTheExpectedMessage) {
  for (const ErrorCase& k : error_cases()) {
    SCOPED_TRACE(k.name);
    const Bytes bad = read_file(kGoldenErrors / (k.name + ".tnz"));
    std::string expected = read_text(kGoldenErrors / (k.name + ".expected"));
    ASSERT_FALSE(expected.empty());
    ASSERT_EQ(expected.back(), '\n');
    expected.pop_back();
    const auto outs = all_path_outcomes(bad);
    for (size_t p = 0; p < outs.size(); ++p) {
      SCOPED_TRACE("path " + std::to_string(p));
      ASSERT_TRUE(outs[p].threw_error) << outs[p].message;
      // A payload flip may be caught by the codec (corrupt) or by the checksum.
      EXPECT_TRUE(outs[p].code == k.code || (k.also != Errc::internal && outs[p].code == k.also))
          << errc_name(outs[p].code);
      EXPECT_EQ(outs[p].message, expected);
    }
  }
}

TEST(Golden, ErrorFilesDeriveFromTheGoldenFile) {
  // The damaged files are exactly what the make_*error_files produce today: regenerated together.
  const auto files = all_error_files();
  ASSERT_EQ(files.size(), error_cases().size());
  for (const auto& [name, bytes] : files) EXPECT_TRUE(same_bytes(read_file(kGoldenErrors / (name + ".tnz")), bytes)) << name;
}

TEST(Golden, Sha256MatchesKnownVectors) {
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::string abc = "abc";
  EXPECT_EQ(sha256_hex({reinterpret_cast<const uint8_t*>(abc.data()), 3}),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace tenzip::testing
