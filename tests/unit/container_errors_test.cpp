// Malformed containers: every truncation, every bit flip, and hand-crafted field errors must
// give a tenzip::Error with the right code through every decoding path, never a crash.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "container/format.hpp"
#include "container_test_util.hpp"

namespace tenzip::testing {
namespace {

using namespace tenzip::detail;

// A small container with several chunks, segments (one empty), a tail and metadata.
Bytes small_container() {
  CompressOptions opts;
  opts.dtype = DType::fp16;
  opts.chunk_elems = 7;
  Bytes out;
  Compressor c(opts, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  c.write(weight_bytes(DType::fp16, 2 * 17 + 1, 1));  // 17 elements and a 1-byte tail
  c.begin_segment(DType::bf16);                        // empty
  c.begin_segment(DType::fp32);
  c.write(weight_bytes(DType::fp32, 4 * 9, 2));
  const std::string meta = "{\"t\":1}";
  c.set_metadata({reinterpret_cast<const uint8_t*>(meta.data()), meta.size()});
  c.finish();
  return out;
}

// Every way to decode a whole container.
std::vector<Outcome> decode_all_paths(const Bytes& c) {
  return {outcome_of([&] { decompress(c, 2); }), outcome_of([&] { stream_decode(c, 1); }),
          outcome_of([&] { stream_decode(c, c.size() + 1, 3); }),
          outcome_of([&] { Reader r(c); reader_decode_chunks(r); })};
}
const char* kPathNames[] = {"decompress", "decompress_stream(1 byte)", "decompress_stream(all)", "Reader"};

// Where things are, read from the footer and index without validation.
struct Layout {
  uint64_t footer_offset, index_offset, index_size, end_frame;
  std::vector<uint64_t> frames;  // chunk frame offsets
};
Layout layout_of(const Bytes& c) {
  Layout l;
  l.footer_offset = c.size() - kFooterSize;
  l.index_offset = load_u64(&c[l.footer_offset]);
  l.index_size = load_u64(&c[l.footer_offset + 8]);
  l.end_frame = l.index_offset - kFrameHeaderSize;
  for (uint64_t off = kFileHeaderSize; off < l.end_frame; off += kFrameHeaderSize + load_u32(&c[off + 8]))
    l.frames.push_back(off);
  return l;
}
// Offset of the chunk table inside the index.
uint64_t chunk_table(const Bytes& c) {
  const Layout l = layout_of(c);
  return l.index_offset + 8 + kIndexSegmentSize * load_u32(&c[l.index_offset]) + 8;
}

// Re-seal checks after editing a field, so the edit itself is what a reader must catch.
void reseal_file_header(Bytes& c) { store_u32(&c[16], xxh3_low32({c.data(), 16})); }
void reseal_frame(Bytes& c, uint64_t off) { store_u32(&c[off + 28], xxh3_low32({c.data() + off, 28})); }
void reseal_index(Bytes& c) {
  const Layout l = layout_of(c);
  store_u64(&c[l.footer_offset + 16], xxh3({c.data() + l.index_offset, l.index_size}));
}

// All paths must throw tenzip::Error with `code`; the message must contain `needle`.
void expect_error(const Bytes& c, Errc code, const std::string& needle) {
  const auto outs = decode_all_paths(c);
  for (size_t p = 0; p < outs.size(); ++p) {
    SCOPED_TRACE(kPathNames[p]);
    ASSERT_TRUE(outs[p].threw_error) << (outs[p].threw_other ? "non-tenzip exception: " + outs[p].message : "no error");
    EXPECT_EQ(errc_name(outs[p].code), errc_name(code)) << outs[p].message;
    EXPECT_NE(outs[p].message.find(needle), std::string::npos) << outs[p].message;
  }
}

// Streams c through decompress_stream with `threads`, collecting what reaches the sink.
Outcome stream_collect(const Bytes& c, unsigned threads, Bytes& got) {
  size_t pos = 0;
  return outcome_of([&] {
    decompress_stream(
        [&](std::span<uint8_t> dst) {
          const size_t k = std::min(dst.size(), c.size() - pos);
          std::memcpy(dst.data(), c.data() + pos, k);
          pos += k;
          return k;
        },
        [&](std::span<const uint8_t> b) { got.insert(got.end(), b.begin(), b.end()); }, threads);
  });
}

// A bad chunk, or a file cut or damaged at a chunk, in a later batch than the first (the
// stream decoder reads the next batch while one decodes): whatever the thread count, the
// sink gets exactly the chunks before it, then the error names it.
TEST(ContainerErrors, StreamSinkGetsEveryChunkBeforeABadOne) {
  CompressOptions opts;
  opts.dtype = DType::fp32;
  opts.chunk_elems = 1000;
  const Bytes good = compress(weight_bytes(DType::fp32, 4 * 40000, 3), opts);  // 40 chunks, several batches
  const Bytes ref = decompress(good);
  const Layout l = layout_of(good);
  ASSERT_EQ(l.frames.size(), 40u);
  struct Case {
    const char* what;
    size_t bad;
    Errc code;
    Bytes c;
    const char* named = "chunk ";  // a frame header that fails its check is not yet known as a chunk
  };
  std::vector<Case> cases;
  for (size_t bad : {size_t{13}, size_t{29}}) {
    Bytes c = good;
    c[l.frames[bad] + 16] ^= 1;  // the frame's stored checksum, the frame header resealed
    reseal_frame(c, l.frames[bad]);
    cases.push_back({"checksum", bad, Errc::checksum_mismatch, c});
    c = good;
    c.resize(l.frames[bad] + kFrameHeaderSize + 5);  // cut inside the payload
    cases.push_back({"cut", bad, Errc::truncated_input, c});
    c = good;
    c[l.frames[bad] + 8] ^= 0x40;  // payload size, the frame header not resealed
    cases.push_back({"frame header", bad, Errc::corrupt_input, c, "frame "});
  }
  for (const Case& k : cases)
    for (unsigned threads : {1u, 2u, 3u}) {
      SCOPED_TRACE(std::string(k.what) + " at chunk " + std::to_string(k.bad) + ", threads " +
                   std::to_string(threads));
      Bytes got;
      const Outcome o = stream_collect(k.c, threads, got);
      ASSERT_TRUE(o.threw_error) << o.message;
      EXPECT_EQ(errc_name(o.code), errc_name(k.code)) << o.message;
      EXPECT_NE(o.message.find(k.named + std::to_string(k.bad) + " at offset"), std::string::npos) << o.message;
      ASSERT_EQ(got.size(), k.bad * 1000 * 4);
      EXPECT_TRUE(std::equal(got.begin(), got.end(), ref.begin()));
    }
}

TEST(ContainerErrors, SmallContainerIsValid) {
  const Bytes c = small_container();
  const Reader r(c);
  EXPECT_EQ(r.info().segments.size(), 4u);  // fp16, bytes tail, empty bf16, fp32
  EXPECT_GE(r.info().chunks.size(), 6u);
  for (const auto& o : decode_all_paths(c)) EXPECT_FALSE(o.threw_error || o.threw_other) << o.message;
}

TEST(ContainerErrors, EveryTruncationIsTruncatedInput) {
  const Bytes c = small_container();
  for (size_t n = 0; n < c.size(); ++n) {
    SCOPED_TRACE("length " + std::to_string(n));
    const Bytes t(c.begin(), c.begin() + static_cast<ptrdiff_t>(n));
    const auto outs = decode_all_paths(t);
    for (size_t p = 0; p < outs.size(); ++p) {
      ASSERT_TRUE(outs[p].threw_error) << kPathNames[p];
      EXPECT_EQ(outs[p].code, Errc::truncated_input) << kPathNames[p] << ": " << outs[p].message;
      // A file cut short is described the same way whichever path reads it.
      EXPECT_EQ(outs[p].message, outs[0].message) << kPathNames[p];
    }
  }
}

TEST(ContainerErrors, EveryBitFlipIsDetected) {
  const Bytes c = small_container();
  const Bytes ref = decompress(c);
  // Payload bytes: a flip there may leave the decoded bytes unchanged (a bit the codec does not
  // use); then decoding must give exactly the original. Everywhere else a flip must be caught.
  std::vector<bool> in_payload(c.size(), false);
  const Reader reader(c);
  for (const auto& ch : reader.info().chunks)
    for (uint64_t i = ch.frame_offset + kFrameHeaderSize; i < ch.frame_offset + ch.frame_size; ++i) in_payload[i] = true;
  for (size_t bit = 0; bit < c.size() * 8; ++bit) {
    SCOPED_TRACE("bit " + std::to_string(bit) + " (byte " + std::to_string(bit / 8) + ")");
    Bytes f = c;
    f[bit / 8] ^= uint8_t(1u << (bit % 8));
    const auto outs = decode_all_paths(f);
    for (size_t p = 0; p < outs.size(); ++p) {
      ASSERT_FALSE(outs[p].threw_other) << kPathNames[p] << ": " << outs[p].message;
      if (!outs[p].threw_error) {
        ASSERT_TRUE(in_payload[bit / 8]) << kPathNames[p] << ": a flip outside any payload went unnoticed";
        EXPECT_TRUE(same_bytes(decompress(f), ref)) << "an unnoticed flip changed the output";
        continue;
      }
      EXPECT_NE(outs[p].code, Errc::internal) << outs[p].message;
      EXPECT_NE(outs[p].code, Errc::invalid_argument) << outs[p].message;
      EXPECT_FALSE(outs[p].message.empty());
    }
    // All paths agree on whether the flipped file is valid.
    for (size_t p = 1; p < outs.size(); ++p) EXPECT_EQ(outs[p].threw_error, outs[0].threw_error) << kPathNames[p];
  }
}

TEST(ContainerErrors, WrongMagic) {
  Bytes c = small_container();
  c[1] = 'X';
  expect_error(c, Errc::corrupt_input, "file header: bad magic");
  expect_error(Bytes{'h', 'e', 'l', 'l', 'o'}, Errc::corrupt_input, "bad magic");
  Bytes crlf = small_container();  // text-mode damage: \r\n -> \n
  crlf.erase(crlf.begin() + 4);
  expect_error(crlf, Errc::corrupt_input, "bad magic");
}

TEST(ContainerErrors, FutureVersionIsUnsupported) {
  Bytes c = small_container();
  store_u16(&c[8], kFormatVersion + 1);
  const std::string next = "format version " + std::to_string(kFormatVersion + 1);
  expect_error(c, Errc::unsupported_version, next + " is not supported");
  // Even with a header check that does not match: a newer version may lay out the header differently.
  c[17] ^= 0x55;
  expect_error(c, Errc::unsupported_version, next);
  Bytes z = small_container();
  store_u16(&z[8], 0);
  reseal_file_header(z);
  expect_error(z, Errc::corrupt_input, "format version 0 is invalid");
}

TEST(ContainerErrors, FileHeaderFields) {
  Bytes c = small_container();
  c[12] ^= 1;  // chunk_elems, check not updated
  expect_error(c, Errc::corrupt_input, "file header: header check mismatch");
  c = small_container();
  store_u16(&c[10], 4);
  reseal_file_header(c);
  expect_error(c, Errc::corrupt_input, "flags must be 0");
  for (uint32_t bad : {0u, kMaxChunkElems + 1}) {
    c = small_container();
    store_u32(&c[12], bad);
    reseal_file_header(c);
    expect_error(c, Errc::corrupt_input, "chunk_elems " + std::to_string(bad) + " is outside");
  }
  // A smaller chunk_elems than the frames use: n_elems exceeds it.
  c = small_container();
  store_u32(&c[12], 3);
  reseal_file_header(c);
  expect_error(c, Errc::corrupt_input, "n_elems 7 is outside 1..chunk_elems (3)");
}

TEST(ContainerErrors, FrameHeaderFields) {
  const Bytes base = small_container();
  const Layout l = layout_of(base);
  const uint64_t f1 = l.frames[1];
  const std::string where = "chunk 1 at offset " + std::to_string(f1);
  Bytes c = base;
  c[f1 + 4] ^= 1;
  expect_error(c, Errc::corrupt_input, "frame 1 at offset " + std::to_string(f1) + ": frame header check mismatch");
  c = base;
  c[f1 + 2] = 1;
  reseal_frame(c, f1);
  expect_error(c, Errc::corrupt_input, where + ": reserved fields");
  c = base;
  c[f1 + 13] = 1;
  reseal_frame(c, f1);
  expect_error(c, Errc::corrupt_input, where + ": reserved fields");
  c = base;
  c[f1] = 9;
  reseal_frame(c, f1);
  expect_error(c, Errc::corrupt_input, "unknown frame type 9");
  c = base;
  c[f1 + 1] = 6;
  reseal_frame(c, f1);
  expect_error(c, Errc::corrupt_input, where + ": unknown dtype code 6");
  c = base;
  store_u32(&c[f1 + 4], 0);
  reseal_frame(c, f1);
  expect_error(c, Errc::corrupt_input, where + ": n_elems 0 is outside");
  // A chunk moved to an earlier segment.
  c = base;
  store_u32(&c[l.frames.back() + 24], 0);
  reseal_frame(c, l.frames.back());
  expect_error(c, Errc::corrupt_input, "chunk " + std::to_string(l.frames.size() - 1));
  // End frame with a non-zero field.
  c = base;
  store_u32(&c[l.end_frame + 4], 1);
  reseal_frame(c, l.end_frame);
  expect_error(c, Errc::corrupt_input, "end frame at offset " + std::to_string(l.end_frame) + ": dtype, n_elems");
}

TEST(ContainerErrors, StoredChecksumMismatch) {
  // Same wrong checksum in frame header and index: every structure agrees, the data does not.
  Bytes c = small_container();
  const Layout l = layout_of(c);
  const uint64_t f2 = l.frames[2];
  store_u64(&c[f2 + 16], load_u64(&c[f2 + 16]) ^ 1);
  reseal_frame(c, f2);
  const uint64_t e2 = chunk_table(c) + 2 * kIndexChunkSize;
  store_u64(&c[e2 + 16], load_u64(&c[e2 + 16]) ^ 1);
  reseal_index(c);
  expect_error(c, Errc::checksum_mismatch, "chunk 2 at offset " + std::to_string(f2) + ": checksum mismatch");
  // Reader: only that chunk fails; the others decode.
  Reader r(c);
  Bytes dst(r.info().chunks[0].n_elems * 2);
  EXPECT_NO_THROW(r.decode_chunk(0, dst));
  Bytes dst2(r.info().chunks[2].n_elems * 2);
  EXPECT_THROW(r.decode_chunk(2, dst2), Error);
}

TEST(ContainerErrors, IndexFields) {
  const Bytes base = small_container();
  const Layout l = layout_of(base);
  Bytes c = base;
  c[l.index_offset + 9] ^= 1;  // inside the index, check not updated
  expect_error(c, Errc::corrupt_input, "index at offset " + std::to_string(l.index_offset) + ": index check mismatch");
  c = base;
  c[l.index_offset + 4] = 1;
  reseal_index(c);
  expect_error(c, Errc::corrupt_input, "reserved field at index byte 4");
  c = base;
  c[l.index_offset + 8 + 3] = 1;  // segment 0 reserved byte
  reseal_index(c);
  expect_error(c, Errc::corrupt_input, "segment 0: reserved bytes");
  c = base;
  c[l.index_offset + 8] = 7;  // segment 0 dtype
  reseal_index(c);
  expect_error(c, Errc::corrupt_input, "segment 0: unknown dtype code 7");
  // The index disagrees with a frame header (checksum of chunk 1), index check re-sealed.
  c = base;
  const uint64_t e1 = chunk_table(c) + kIndexChunkSize;
  c[e1 + 16] ^= 1;
  reseal_index(c);
  expect_error(c, Errc::corrupt_input,
               "chunk 1 at offset " + std::to_string(l.frames[1]) + ": frame and index disagree on checksum");
  // Segment decoded size off by one.
  c = base;
  store_u64(&c[l.index_offset + 8 + 16], load_u64(&c[l.index_offset + 8 + 16]) + 1);
  reseal_index(c);
  expect_error(c, Errc::corrupt_input, "segment 0: decoded_size");
}

// The frame right before the index must be the end frame. Here it is a well-formed chunk frame
// (1 element, no payload) that the index does not list: the random-access paths stop at it, the
// streaming ones when it would start a segment again.
TEST(ContainerErrors, ChunkFrameWhereTheEndFrameBelongs) {
  Bytes c = small_container();
  const Layout l = layout_of(c);
  c[l.end_frame] = kFrameChunk;
  store_u32(&c[l.end_frame + 4], 1);
  reseal_frame(c, l.end_frame);
  const std::string where = "frame " + std::to_string(l.frames.size()) + " at offset " + std::to_string(l.end_frame);
  const auto outs = decode_all_paths(c);
  for (size_t p = 0; p < outs.size(); ++p) {
    SCOPED_TRACE(kPathNames[p]);
    ASSERT_TRUE(outs[p].threw_error) << outs[p].message;
    EXPECT_EQ(outs[p].code, Errc::corrupt_input) << outs[p].message;
    const bool streaming = p == 1 || p == 2;
    EXPECT_NE(outs[p].message.find(streaming ? "chunk " + std::to_string(l.frames.size()) + " at offset " +
                                                   std::to_string(l.end_frame) + ": segment 0 follows segment 3"
                                             : where + ": expected the end frame right before the index"),
              std::string::npos)
        << outs[p].message;
  }
}

TEST(ContainerErrors, FooterFields) {
  const Bytes base = small_container();
  const Layout l = layout_of(base);
  const std::string where = "footer at offset " + std::to_string(l.footer_offset);
  Bytes c = base;
  c[c.size() - 1] = 'G';
  expect_error(c, Errc::corrupt_input, where + ": bad magic");
  c = base;
  store_u16(&c[l.footer_offset + 24], kFormatVersionDefault - 1);
  expect_error(c, Errc::corrupt_input, where + ": format version " + std::to_string(kFormatVersionDefault - 1) + " differs");
  c = base;
  c[l.footer_offset + 26] = 1;
  expect_error(c, Errc::corrupt_input, where + ": reserved field");
  c = base;
  store_u64(&c[l.footer_offset], l.index_offset + 1);
  expect_error(c, Errc::corrupt_input, where + ": index_offset");
  c = base;
  c.push_back(0);
  expect_error(c, Errc::corrupt_input, where + ": data follows the footer");
  c = base;
  c.insert(c.end(), base.begin(), base.end());  // two containers back to back
  const auto outs = decode_all_paths(c);
  for (const auto& o : outs) EXPECT_TRUE(o.threw_error && o.code == Errc::corrupt_input) << o.message;
}

TEST(ContainerErrors, MessagesNameTheProblemAndPlace) {
  Bytes c = small_container();
  const Layout l = layout_of(c);
  const uint64_t off = l.frames[1] + kFrameHeaderSize + 3;
  c.resize(off);
  expect_error(c, Errc::truncated_input, "chunk 1 at offset " + std::to_string(l.frames[1]) + ": truncated (payload of");
}

}  // namespace
}  // namespace tenzip::testing
