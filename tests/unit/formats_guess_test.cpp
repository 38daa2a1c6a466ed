// guess_layout: float regions in files of no known format, found on real weights.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "formats/layout.hpp"
#include "formats_test_util.hpp"

namespace {

using namespace tenzip;
using tenzip::testing::Bytes;
using tenzip::testing::read_bytes;

Bytes corpus(const std::string& rel) { return read_bytes(std::filesystem::path(TENZIP_CORPUS_DIR) / rel); }

uint64_t covered(const formats::FileLayout& l, DType d, uint64_t lo, uint64_t hi) {
  uint64_t n = 0;
  for (const auto& r : l.regions)
    if (r.dtype == d) {
      const uint64_t b = std::max(lo, r.offset), e = std::min(hi, r.offset + r.size);
      if (e > b) n += e - b;
    }
  return n;
}

TEST(FormatsGuess, Llama2cCheckpointIsOneAlignedFp32Region) {
  const Bytes f = corpus("llm/stories260K.bin");  // 28-byte int header, then fp32 arrays
  const auto l = formats::guess_layout(f);
  formats::check_layout(l, f.size());
  EXPECT_EQ(l.format, "raw");
  EXPECT_TRUE(l.tensors.empty());
  ASSERT_FALSE(l.regions.empty());
  for (const auto& r : l.regions) {
    EXPECT_EQ(r.dtype, DType::fp32);
    EXPECT_EQ(r.offset % 4, 0u) << r.name;  // the floats' true alignment
  }
  EXPECT_GT(covered(l, DType::fp32, 28, f.size()), (f.size() - 28) * 95 / 100);
}

TEST(FormatsGuess, FindsFloatsAtOddOffsetsAndLeavesTextAndNoiseAlone) {
  const Bytes w32 = corpus("llm/stories260K.bin");
  const Bytes w16 = corpus("llm/tiny-rwkv-7v0-834K-FP16.bin");
  Bytes f;
  std::mt19937 rng(5);
  for (int i = 0; i < 37; ++i) f.push_back(static_cast<uint8_t>(rng()));  // header: odd length
  const size_t a32 = f.size();
  f.insert(f.end(), w32.begin() + 28, w32.begin() + 28 + (400 << 10));  // 400 KiB fp32 at offset 37
  const size_t text = f.size();
  std::string json;
  while (json.size() < (96u << 10)) json += "{\"name\": \"layer." + std::to_string(json.size() % 97) + ".weight\", \"shape\": [64, 64]},\n";
  f.insert(f.end(), json.begin(), json.end());
  const size_t noise = f.size();
  for (int i = 0; i < (192 << 10); ++i) f.push_back(static_cast<uint8_t>(rng()));  // incompressible
  const size_t a16 = f.size() + 1;
  f.push_back(0);
  f.insert(f.end(), w16.begin() + 200000, w16.begin() + 200000 + (512 << 10));  // fp16 at an odd offset
  const size_t end16 = f.size();

  const auto l = formats::guess_layout(f);
  formats::check_layout(l, f.size());
  EXPECT_GT(covered(l, DType::fp32, a32, text), (text - a32) * 70 / 100);
  for (const auto& r : l.regions)
    if (r.dtype == DType::fp32 && r.offset < text) {
      EXPECT_EQ(r.offset % 4, a32 % 4) << r.name;
    }
  // Text and noise stay bytes (block granularity: allow one 64 KiB block of spill at each edge).
  const uint64_t spill = 2 * (64 << 10);
  EXPECT_LE(covered(l, DType::fp32, text, a16) + covered(l, DType::fp16, text, a16), spill);
  EXPECT_GT(covered(l, DType::fp16, a16, end16), (end16 - a16) * 70 / 100);
  (void)noise;
}

TEST(FormatsGuess, RandomBytesAndSmallFilesHaveNoRegions) {
  std::mt19937 rng(9);
  Bytes f(1 << 20);
  for (auto& x : f) x = static_cast<uint8_t>(rng());
  EXPECT_TRUE(formats::guess_layout(f).regions.empty());
  EXPECT_TRUE(formats::guess_layout(Bytes{}).regions.empty());
  EXPECT_TRUE(formats::guess_layout(Bytes(100, 7)).regions.empty());
}

}  // namespace
