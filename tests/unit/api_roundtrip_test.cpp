// Round trips through every API path over dtypes x lengths x threads x chunk_elems.
#include <gtest/gtest.h>

#include <string>
#include <tuple>

#include "container_test_util.hpp"

namespace tenzip::testing {
namespace {

constexpr DType kDTypes[] = {DType::bytes, DType::bf16, DType::fp16, DType::fp32, DType::fp8_e4m3, DType::fp8_e5m2};

class ApiRoundTrip : public ::testing::TestWithParam<std::tuple<DType, uint32_t>> {};

TEST_P(ApiRoundTrip, AllPathsAgree) {
  const auto [dtype, chunk_elems] = GetParam();
  const size_t es = dtype_size(dtype);
  const size_t ce = chunk_elems;
  // Lengths in elements, plus tail bytes that do not fill an element.
  const std::pair<size_t, size_t> lengths[] = {{0, 0},      {1, 0},      {13, 0},     {ce - 1, 0},
                                               {ce, 0},     {ce + 1, 0}, {3 * ce + 5, es - 1}, {0, es - 1}};
  for (const auto& [elems, tail] : lengths) {
    const size_t n = elems * es + tail;
    const Bytes src = weight_bytes(dtype, n, static_cast<uint32_t>(n * 31 + chunk_elems));
    const Bytes src_copy = src;
    CompressOptions opts;
    opts.dtype = dtype;
    opts.chunk_elems = chunk_elems;
    opts.threads = 1;
    const Bytes ref = compress(src, opts);
    ASSERT_TRUE(same_bytes(src, src_copy)) << "compress modified its input";

    const Reader r0(ref);
    const size_t want_segments = tail > 0 ? 2 : 1;  // the tail gets a bytes segment
    ASSERT_EQ(r0.info().segments.size(), want_segments);
    ASSERT_EQ(r0.info().decoded_size, n);
    ASSERT_EQ(r0.info().chunks.size(), (elems + ce - 1) / ce + (tail + ce - 1) / ce);
    for (unsigned threads : {1u, 2u, 3u}) {
      SCOPED_TRACE("elems=" + std::to_string(elems) + " tail=" + std::to_string(tail) +
                   " threads=" + std::to_string(threads));
      opts.threads = threads;
      // Compression is deterministic: independent of threads and of how the input is written.
      EXPECT_TRUE(same_bytes(compress(src, opts), ref));
      for (size_t piece : {size_t{1}, size_t{3}, size_t{1000}, ce * es + 1}) {
        if (piece == 1 && n > 20000) continue;
        EXPECT_TRUE(same_bytes(compress_in_pieces(src, opts, piece), ref)) << "piece " << piece;
      }
      EXPECT_TRUE(same_bytes(decompress(ref, threads), src));
      for (size_t piece : {size_t{1}, size_t{7}, size_t{4096}, ref.size()}) {
        if (piece == 1 && ref.size() > 20000) continue;
        EXPECT_TRUE(same_bytes(stream_decode(ref, piece, threads), src)) << "piece " << piece;
      }
      const Reader r(ref);
      EXPECT_TRUE(same_bytes(reader_decode_chunks(r), src));
      EXPECT_TRUE(same_bytes(reader_decode_segments(r, threads), src));
      EXPECT_TRUE(same_bytes(reader_decode_all(ref, threads), src));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Grid, ApiRoundTrip,
                         ::testing::Combine(::testing::ValuesIn(kDTypes), ::testing::Values(1u, 7u, 64u, 4096u)),
                         [](const auto& info) {
                           return std::string(dtype_name(std::get<0>(info.param))) + "_chunk" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace tenzip::testing
