// Reader::read_range and chunk_at: random access to the decoded bytes, as a file. Ranges are
// compared byte for byte with decode_all's output; a damaged chunk must fail exactly the reads
// that touch it.
#include <gtest/gtest.h>

#include <random>
#include <stdexcept>
#include <string>

#include "container_test_util.hpp"

namespace tenzip::testing {
namespace {

// Segments of every kind of boundary (see segmented_container), in chunks of 64 elements.
Segmented build(unsigned threads) { return segmented_container(threads, 64, 4000, 603, 777); }

// Reads into a buffer with guard bytes after it, which must stay untouched.
Bytes read(const Reader& r, uint64_t offset, size_t size, unsigned threads) {
  constexpr size_t kGuard = 512;
  Bytes buf(size + kGuard, 0xAB);
  r.read_range(offset, std::span<uint8_t>(buf.data(), size), threads);
  for (size_t i = size; i < buf.size(); ++i)
    if (buf[i] != 0xAB) throw std::runtime_error("read_range wrote past its destination");
  buf.resize(size);
  return buf;
}

TEST(ApiReadRange, EveryRangeMatchesTheWholeDecode) {
  const Segmented b = build(2);
  const Reader r(b.container);
  ASSERT_EQ(r.info().decoded_size, b.decoded.size());
  const auto& all = b.decoded;
  const auto expect_range = [&](uint64_t off, size_t n, unsigned t) {
    const Bytes got = read(r, off, n, t);
    ASSERT_TRUE(std::equal(got.begin(), got.end(), all.begin() + static_cast<ptrdiff_t>(off)))
        << "range [" << off << ", +" << n << ") with " << t << " threads";
  };
  for (unsigned t : {1u, 2u, 3u}) {
    expect_range(0, all.size(), t);  // everything
    expect_range(0, 0, t);
    expect_range(all.size(), 0, t);  // empty at the end
    // Around every chunk boundary: starts and ends on it, one before, one after.
    for (const ChunkInfo& c : r.info().chunks)
      for (int64_t d0 : {-1, 0, 1})
        for (size_t n : {size_t{1}, size_t{2}, size_t{255}, size_t{256}, size_t{257}, size_t{1000}}) {
          const int64_t off = static_cast<int64_t>(c.decoded_offset) + d0;
          if (off < 0 || static_cast<uint64_t>(off) + n > all.size()) continue;
          expect_range(static_cast<uint64_t>(off), n, t);
        }
  }
  std::mt19937 rng(7);
  for (int k = 0; k < 300; ++k) {
    const uint64_t off = rng() % (all.size() + 1);
    const size_t n = rng() % (all.size() - off + 1);
    expect_range(off, n, 1 + k % 3);
  }
}

TEST(ApiReadRange, ChunkAtFindsTheChunkHoldingAnOffset) {
  const Segmented b = build(1);
  const Reader r(b.container);
  const auto& chunks = r.info().chunks;
  uint64_t total = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const uint64_t c0 = chunks[i].decoded_offset, n = r.chunk_bytes(i);
    EXPECT_EQ(c0, total);
    total += n;
    EXPECT_EQ(r.chunk_at(c0), i);
    EXPECT_EQ(r.chunk_at(c0 + n - 1), i);
  }
  EXPECT_EQ(total, b.decoded.size());
  EXPECT_THROW(r.chunk_at(b.decoded.size()), Error);
  EXPECT_THROW(r.chunk_bytes(chunks.size()), Error);
}

TEST(ApiReadRange, OutOfRangeIsAnArgumentError) {
  const Segmented b = build(1);
  const Reader r(b.container);
  Bytes out(2);
  try {
    r.read_range(b.decoded.size() - 1, out);
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_argument);
    EXPECT_NE(std::string(e.what()).find("beyond the decoded size"), std::string::npos) << e.what();
  }
  EXPECT_THROW(r.read_range(b.decoded.size() + 1, std::span<uint8_t>()), Error);
}

TEST(ApiReadRange, OnlyTheChunksReadAreDecodedAndChecked) {
  Segmented b = build(1);
  const Reader probe(b.container);
  const size_t bad = 5;  // an fp32 chunk in the middle of the first segment
  const ChunkInfo c = probe.info().chunks[bad];
  b.container[c.frame_offset + c.frame_size - 1] ^= 0x40;  // its payload's last byte
  const Reader r(b.container);  // opening reads the index only: no error yet
  const uint64_t c0 = c.decoded_offset, c1 = c0 + r.chunk_bytes(bad);
  for (unsigned t : {1u, 2u}) {
    EXPECT_EQ(read(r, 0, c0, t), Bytes(b.decoded.begin(), b.decoded.begin() + static_cast<ptrdiff_t>(c0)));
    EXPECT_EQ(read(r, c1, 100, t), Bytes(b.decoded.begin() + static_cast<ptrdiff_t>(c1),
                                         b.decoded.begin() + static_cast<ptrdiff_t>(c1 + 100)));
    for (const auto& [off, n] : {std::pair<uint64_t, size_t>{c0, 1}, {c1 - 1, 1}, {0, c1}, {c0 - 3, 10}}) {
      try {
        read(r, off, n, t);
        ADD_FAILURE() << "damaged chunk read without error: [" << off << ", +" << n << ")";
      } catch (const Error& e) {
        EXPECT_TRUE(e.code() == Errc::checksum_mismatch || e.code() == Errc::corrupt_input) << e.what();
      }
    }
  }
}

}  // namespace
}  // namespace tenzip::testing
