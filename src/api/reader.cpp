// Reader: validates a container held in memory from its footer and index, then decodes any
// chunk or segment alone. Also decompress() and summarize_streams().
#include <algorithm>
#include <cstring>
#include <map>
#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "api/chunk_ops.hpp"
#include "api/stream_decoder.hpp"
#include "codec/chunk_codec.hpp"
#include "container/format.hpp"
#include "parallel/thread_pool.hpp"
#include "tenzip/tenzip.hpp"
#include "util/huge_pages.hpp"

namespace tenzip {

using namespace detail;

namespace {

// Segment holding chunk i: the last segment whose first_chunk <= i (empty segments before it
// share its first_chunk; those after it start later).
size_t segment_of(const ContainerInfo& info, size_t i) {
  auto it = std::upper_bound(info.segments.begin(), info.segments.end(), uint64_t{i},
                             [](uint64_t v, const SegmentInfo& s) { return v < s.first_chunk; });
  return static_cast<size_t>(it - info.segments.begin()) - 1;
}

std::span<const uint8_t> payload_of(std::span<const uint8_t> data, const ChunkInfo& c) {
  return data.subspan(c.frame_offset + kFrameHeaderSize, c.frame_size - kFrameHeaderSize);
}

// Rule 12 of doc/FORMAT.md for chunk i, checked lazily, just before the chunk is decoded.
void check_frame(std::span<const uint8_t> data, const ContainerInfo& info, size_t i, uint32_t segment) {
  const ChunkInfo& c = info.chunks[i];
  const FileHeader fh{info.format_version, info.chunk_elems};
  const FrameHeader h = parse_frame_header(data.subspan(c.frame_offset, kFrameHeaderSize), i, c.frame_offset, fh);
  const IndexChunk e{c.frame_offset, c.frame_size, c.n_elems, c.checksum};
  check_frame_matches_index(i, c.frame_offset, h, e, segment, info.segments[segment].dtype);
}

void decode_range(std::span<const uint8_t> data, const ContainerInfo& info, size_t first, size_t count,
                  uint8_t* dst, uint64_t dst_base, unsigned threads) {
  if (count == 0) return;
  PooledThreads pool(static_cast<unsigned>(std::min<uint64_t>(resolve_threads(threads), count)));
  std::unique_ptr<ChunkDecoder[]> decoders(new ChunkDecoder[pool->size()]);
  pool->parallel_for(count, [&](size_t k, unsigned w) {
    const size_t i = first + k;
    const ChunkInfo& c = info.chunks[i];
    const size_t seg = segment_of(info, i);
    check_frame(data, info, i, static_cast<uint32_t>(seg));
    const DType dtype = info.segments[seg].dtype;
    decode_checked(decoders[w], i, c.frame_offset, dtype, c.n_elems, c.checksum, payload_of(data, c),
                   dst + (c.decoded_offset - dst_base));
  });
}

}  // namespace

Reader::Reader(std::span<const uint8_t> container) : data_(container) {
  const auto& d = data_;
  const FileHeader fh = parse_file_header(d.first(std::min(d.size(), kFileHeaderSize)));
  // With no valid footer (most often a truncated file) the front-to-back parse names the
  // first problem the way decompress_stream would; if it finds none, report the footer's.
  std::optional<Footer> footer;
  std::exception_ptr footer_error;
  if (d.size() >= kMinContainerSize) {
    try {
      footer = parse_footer(d.last(kFooterSize), d.size() - kFooterSize, fh);
    } catch (const Error&) {
      footer_error = std::current_exception();
    }
  }
  if (!footer) {
    MemoryInput in(d);
    parse_stream(in, nullptr, 1);
    if (footer_error) std::rethrow_exception(footer_error);
    throw Error(Errc::internal, "container shorter than the minimum, yet it parsed");
  }
  const Footer& f = *footer;
  const auto idx_bytes = d.subspan(f.index_offset, f.index_size);  // in range: parse_footer checked
  check_index_hash(idx_bytes, f);
  Index idx = parse_index(idx_bytes, f.index_offset, fh);

  // Each chunk's frame header is checked against the index when the chunk is decoded (rule 12),
  // not here: opening a multi-GB container then touches only its footer and index, and
  // extracting one tensor reads about that tensor's frames.
  uint64_t i = idx.chunks.size();
  const uint64_t end_off = f.index_offset - kFrameHeaderSize;
  const FrameHeader end = parse_frame_header(d.subspan(end_off, kFrameHeaderSize), i, end_off, fh);
  if (end.type != kFrameEnd)
    fail(Errc::corrupt_input, at("frame", i, end_off), "expected the end frame right before the index");

  info_.format_version = fh.format_version;
  info_.chunk_elems = fh.chunk_elems;
  info_.container_size = d.size();
  info_.segments.reserve(idx.segments.size());
  info_.chunks.reserve(idx.chunks.size());
  uint64_t decoded = 0;
  i = 0;
  for (const auto& s : idx.segments) {
    info_.segments.push_back({s.dtype, i, s.n_chunks, decoded, s.decoded_size});
    const size_t es = dtype_size(s.dtype);
    for (uint64_t k = 0; k < s.n_chunks; ++k, ++i) {
      const IndexChunk& e = idx.chunks[i];
      info_.chunks.push_back({e.frame_offset, e.frame_size, e.n_elems, decoded, e.checksum});
      decoded += uint64_t{e.n_elems} * es;
    }
  }
  info_.decoded_size = decoded;
  chunk_segment_.resize(info_.chunks.size());
  for (uint32_t s = 0; s < info_.segments.size(); ++s)
    for (uint64_t k = 0; k < info_.segments[s].n_chunks; ++k) chunk_segment_[info_.segments[s].first_chunk + k] = s;
  info_.metadata = std::move(idx.metadata);
}

void Reader::decode_chunk(size_t i, std::span<uint8_t> dst) const {
  if (i >= info_.chunks.size())
    throw Error(Errc::invalid_argument, "decode_chunk: chunk " + std::to_string(i) + " out of range (" +
                                            std::to_string(info_.chunks.size()) + " chunks)");
  const ChunkInfo& c = info_.chunks[i];
  const uint32_t seg = chunk_segment_[i];
  const DType dtype = info_.segments[seg].dtype;
  const size_t bytes = size_t{c.n_elems} * dtype_size(dtype);
  if (dst.size() != bytes)
    throw Error(Errc::invalid_argument, "decode_chunk: destination holds " + std::to_string(dst.size()) +
                                            " bytes, chunk " + std::to_string(i) + " decodes to " +
                                            std::to_string(bytes));
  check_frame(data_, info_, i, seg);
  thread_local ChunkDecoder dec;  // scratch reused across calls on this thread
  decode_checked(dec, i, c.frame_offset, dtype, c.n_elems, c.checksum, payload_of(data_, c), dst.data());
}

void Reader::decode_segment(size_t s, std::span<uint8_t> dst, unsigned threads) const {
  if (s >= info_.segments.size())
    throw Error(Errc::invalid_argument, "decode_segment: segment " + std::to_string(s) + " out of range (" +
                                            std::to_string(info_.segments.size()) + " segments)");
  const SegmentInfo& seg = info_.segments[s];
  if (dst.size() != seg.decoded_size)
    throw Error(Errc::invalid_argument, "decode_segment: destination holds " + std::to_string(dst.size()) +
                                            " bytes, segment " + std::to_string(s) + " decodes to " +
                                            std::to_string(seg.decoded_size));
  detail::advise_huge_pages(dst.data(), dst.size());  // written whole: see util/huge_pages.hpp
  decode_range(data_, info_, seg.first_chunk, seg.n_chunks, dst.data(), seg.decoded_offset, threads);
}

void Reader::decode_all(std::span<uint8_t> dst, unsigned threads) const {
  if (dst.size() != info_.decoded_size)
    throw Error(Errc::invalid_argument, "decode_all: destination holds " + std::to_string(dst.size()) +
                                            " bytes, the container decodes to " + std::to_string(info_.decoded_size));
  detail::advise_huge_pages(dst.data(), dst.size());  // written whole: see util/huge_pages.hpp
  decode_range(data_, info_, 0, info_.chunks.size(), dst.data(), 0, threads);
}

size_t Reader::chunk_at(uint64_t offset) const {
  if (offset >= info_.decoded_size)
    throw Error(Errc::invalid_argument, "chunk_at: offset " + std::to_string(offset) + " is not below the decoded size " +
                                            std::to_string(info_.decoded_size));
  // The last chunk starting at or before offset (chunks are in decoded order and not empty).
  const auto it = std::upper_bound(info_.chunks.begin(), info_.chunks.end(), offset,
                                   [](uint64_t v, const ChunkInfo& c) { return v < c.decoded_offset; });
  return static_cast<size_t>(it - info_.chunks.begin()) - 1;
}

uint64_t Reader::chunk_bytes(size_t i) const {
  if (i >= info_.chunks.size())
    throw Error(Errc::invalid_argument, "chunk_bytes: chunk " + std::to_string(i) + " out of range (" +
                                            std::to_string(info_.chunks.size()) + " chunks)");
  return uint64_t{info_.chunks[i].n_elems} * dtype_size(info_.segments[chunk_segment_[i]].dtype);
}

void Reader::read_range(uint64_t offset, std::span<uint8_t> dst, unsigned threads) const {
  if (offset > info_.decoded_size || dst.size() > info_.decoded_size - offset)
    throw Error(Errc::invalid_argument, "read_range: [" + std::to_string(offset) + ", +" + std::to_string(dst.size()) +
                                            ") is beyond the decoded size " + std::to_string(info_.decoded_size));
  if (dst.empty()) return;
  const uint64_t end = offset + dst.size();
  size_t first = chunk_at(offset);
  size_t last = chunk_at(end - 1);
  // A chunk cut by the range is decoded aside and its part copied; those the range covers
  // whole decode in place, in parallel.
  std::vector<uint8_t> scratch;
  const auto partial = [&](size_t i) {
    const uint64_t c0 = info_.chunks[i].decoded_offset, c1 = c0 + chunk_bytes(i);
    scratch.resize(static_cast<size_t>(c1 - c0));
    decode_chunk(i, scratch);
    const uint64_t a = std::max(c0, offset), b = std::min(c1, end);
    std::memcpy(dst.data() + (a - offset), scratch.data() + (a - c0), static_cast<size_t>(b - a));
  };
  if (info_.chunks[first].decoded_offset < offset) {
    partial(first);
    if (first == last) return;
    ++first;
  }
  if (info_.chunks[last].decoded_offset + chunk_bytes(last) > end) {
    partial(last);
    if (last == first) return;
    --last;
  }
  decode_range(data_, info_, first, last - first + 1, dst.data(), offset, threads);
}

std::vector<uint8_t> decompress(std::span<const uint8_t> container, unsigned threads) {
  Reader r(container);
  // decoded_size is what the validated index justifies: every chunk has a frame in the file.
  // Advised before the vector's zero-fill, which is the buffer's first write (decode_all
  // advises again: one madvise call on pages already advised, kept for its other callers).
  const size_t n = r.info().decoded_size;
  std::vector<uint8_t> out;
  out.reserve(n);
  detail::advise_huge_pages(out.data(), n);
  out.resize(n);
  r.decode_all(out, threads);
  return out;
}

std::vector<StreamSummary> summarize_streams(const Reader& reader) {
  const ContainerInfo& info = reader.info();
  std::vector<StreamSummary> out;
  std::map<std::pair<uint8_t, std::string>, size_t> slot;  // (dtype, stream) -> position in out
  for (size_t i = 0; i < info.chunks.size(); ++i) {
    const ChunkInfo& c = info.chunks[i];
    const DType dtype = info.segments[segment_of(info, i)].dtype;
    std::vector<StreamStats> stats;
    try {
      stats = describe_chunk(dtype, payload_of(reader.data(), c), c.n_elems);
    } catch (const Error& e) {
      throw Error(e.code(), at("chunk", i, c.frame_offset) + ": " + e.what());
    }
    for (const auto& st : stats) {
      auto [it, added] = slot.try_emplace({static_cast<uint8_t>(dtype), st.name}, out.size());
      if (added) out.push_back(StreamSummary{dtype, st.name});
      StreamSummary& sum = out[it->second];
      sum.raw_size += st.raw_size;
      sum.coded_size += st.coded_size;
      if (st.mode < kStreamModes) ++sum.chunks_by_mode[st.mode];
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const StreamSummary& a, const StreamSummary& b) { return a.dtype < b.dtype; });
  return out;
}

}  // namespace tenzip
