#include "api/stream_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "api/chunk_ops.hpp"
#include "codec/chunk_codec.hpp"
#include "container/format.hpp"
#include "parallel/thread_pool.hpp"

namespace tenzip::detail {

namespace {

constexpr size_t kReadBlock = size_t{1} << 20;  // grow buffers by what actually arrives

class SourceInput final : public Input {
 public:
  explicit SourceInput(const Source& src) : src_(src) {}
  size_t read(uint8_t* dst, size_t n) override {
    size_t total = 0;
    while (total < n && !eof_) {
      const size_t got = src_(std::span<uint8_t>(dst + total, n - total));
      if (got > n - total) throw Error(Errc::invalid_argument, "Source returned more bytes than requested");
      if (got == 0) eof_ = true;  // never call a finished source again (stdin may block)
      total += got;
    }
    return total;
  }

 private:
  const Source& src_;
  bool eof_ = false;
};

// Appends up to n bytes to buf, growing it block by block so that a size claimed by a corrupt
// file costs memory only for the bytes really present. Returns bytes appended.
uint64_t append_exact(Input& in, std::vector<uint8_t>& buf, uint64_t n) {
  uint64_t done = 0;
  while (done < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, kReadBlock));
    const size_t old = buf.size();
    buf.resize(old + want);
    const size_t got = in.read(buf.data() + old, want);
    buf.resize(old + got);
    done += got;
    if (got < want) break;
  }
  return done;
}

struct Job {
  uint64_t chunk_no = 0;
  uint64_t offset = 0;
  FrameHeader h;
  std::vector<uint8_t> payload;
  std::vector<uint8_t> out;
};

struct Seen {
  uint64_t offset;
  FrameHeader h;
};

class StreamParser {
 public:
  StreamParser(Input& in, const Sink* sink, unsigned threads, std::vector<uint8_t>* metadata)
      : in_(in), sink_(sink), threads_(resolve_threads(threads)), metadata_out_(metadata) {}

  uint64_t run() {
    std::vector<uint8_t> buf;
    append_exact(in_, buf, kFileHeaderSize);
    fh_ = parse_file_header(buf);
    pos_ = kFileHeaderSize;
    if (sink_) {
      const size_t n = batch_chunks(threads_, fh_.chunk_elems);
      jobs_.resize(n);
      pool_ = std::make_unique<PooledThreads>(threads_);
      decoders_.reset(new ChunkDecoder[(*pool_)->size()]);
    }
    read_frames();
    read_index_and_footer();
    return decoded_;
  }

 private:
  // Any error found while reading: first decode what is pending, so an earlier bad chunk is
  // reported before a later structural error and the sink gets every good chunk.
  template <class F>
  auto flush_first(F&& f) {
    try {
      return f();
    } catch (...) {
      flush();
      throw;
    }
  }

  void read_frames() {
    std::vector<uint8_t> hdr;
    for (uint64_t n = 0;; ++n) {
      hdr.clear();
      append_exact(in_, hdr, kFrameHeaderSize);
      const FrameHeader h = flush_first([&] { return parse_frame_header(hdr, n, pos_, fh_); });
      if (h.type == kFrameEnd) {
        flush();
        pos_ += kFrameHeaderSize;
        return;
      }
      flush_first([&] { check_sequence(n, h); });
      const uint64_t frame_offset = pos_;
      pos_ += kFrameHeaderSize;
      Job* job = nullptr;
      uint64_t got = 0;
      if (sink_) {
        job = &jobs_[n_jobs_];
        job->payload.clear();
        got = append_exact(in_, job->payload, h.payload_size);
      } else {
        got = in_.skip(h.payload_size);
      }
      if (got < h.payload_size) {
        flush();
        fail(Errc::truncated_input, at("chunk", n, frame_offset),
             "truncated (payload of " + std::to_string(h.payload_size) + " bytes, " + std::to_string(got) + " present)");
      }
      pos_ += h.payload_size;
      seen_.push_back({frame_offset, h});
      if (job) {
        job->chunk_no = n;
        job->offset = frame_offset;
        job->h = h;
        ++n_jobs_;
        pending_bytes_ += uint64_t{h.n_elems} * dtype_size(h.dtype);
        if (n_jobs_ == jobs_.size() || pending_bytes_ >= kBatchBudget) flush();
      }
    }
  }

  // Rules between consecutive chunk frames (the index repeats them; see parse_index).
  void check_sequence(uint64_t n, const FrameHeader& h) {
    if (seen_.empty()) return;
    const FrameHeader& p = seen_.back().h;
    const std::string where = at("chunk", n, pos_);
    if (h.segment < p.segment)
      fail(Errc::corrupt_input, where,
           "segment " + std::to_string(h.segment) + " follows segment " + std::to_string(p.segment) +
               " (segments must not decrease)");
    if (h.segment == p.segment) {
      if (h.dtype != p.dtype)
        fail(Errc::corrupt_input, where,
             "dtype " + std::string(dtype_name(h.dtype)) + " differs from the previous chunk of segment " +
                 std::to_string(h.segment) + " (" + std::string(dtype_name(p.dtype)) + ")");
      if (p.n_elems != fh_.chunk_elems)
        fail(Errc::corrupt_input, where,
             "follows a chunk of the same segment that is not full (" + std::to_string(p.n_elems) + " of " +
                 std::to_string(fh_.chunk_elems) + " elements)");
    }
  }

  void flush() {
    if (n_jobs_ == 0) return;
    const size_t n = n_jobs_;
    n_jobs_ = 0;
    pending_bytes_ = 0;
    // Chunks go to the sink in order, on the calling thread, while the other workers decode;
    // a bad chunk stops the batch after every chunk before it has gone out.
    (*pool_)->parallel_for_ordered(
        n,
        [&](size_t j, unsigned w) {
          Job& job = jobs_[j];
          job.out.resize(size_t{job.h.n_elems} * dtype_size(job.h.dtype));
          decode_checked(decoders_[w], job.chunk_no, job.offset, job.h.dtype, job.h.n_elems, job.h.checksum,
                         job.payload, job.out.data());
        },
        [&](size_t j) {
          (*sink_)(jobs_[j].out);
          decoded_ += jobs_[j].out.size();
        });
  }

  void read_index_and_footer() {
    const uint64_t index_offset = pos_;
    std::vector<uint8_t> idx_bytes;
    for (;;) {
      const uint64_t need = index_size_from_prefix(idx_bytes, index_offset);
      if (idx_bytes.size() >= need) break;
      const uint64_t want = need - idx_bytes.size();
      if (append_exact(in_, idx_bytes, want) < want)
        fail(Errc::truncated_input, at("index", index_offset),
             "truncated (" + std::to_string(need) + " bytes needed so far, " + std::to_string(idx_bytes.size()) +
                 " present)");
    }
    const uint64_t footer_offset = index_offset + idx_bytes.size();
    std::vector<uint8_t> ftr;
    append_exact(in_, ftr, kFooterSize);
    const Footer f = parse_footer(ftr, footer_offset, fh_);
    if (f.index_offset != index_offset)
      fail(Errc::corrupt_input, at("footer", footer_offset),
           "index_offset " + std::to_string(f.index_offset) + " does not point at the index (at " +
               std::to_string(index_offset) + ")");
    check_index_hash(idx_bytes, f);
    const Index idx = parse_index(idx_bytes, index_offset, fh_);
    if (idx.chunks.size() != seen_.size())
      fail(Errc::corrupt_input, at("index", index_offset),
           "lists " + std::to_string(idx.chunks.size()) + " chunks, but the file has " + std::to_string(seen_.size()) +
               " chunk frames");
    uint64_t i = 0;
    for (uint32_t s = 0; s < idx.segments.size(); ++s)
      for (uint64_t k = 0; k < idx.segments[s].n_chunks; ++k, ++i)
        check_frame_matches_index(i, seen_[i].offset, seen_[i].h, idx.chunks[i], s, idx.segments[s].dtype);
    uint8_t extra = 0;
    if (in_.read(&extra, 1) != 0)
      fail(Errc::corrupt_input, at("footer", footer_offset), "data follows the footer (the container ends there)");
    if (metadata_out_) *metadata_out_ = idx.metadata;
  }

  Input& in_;
  const Sink* sink_;
  unsigned threads_;
  std::vector<uint8_t>* metadata_out_;
  FileHeader fh_;
  uint64_t pos_ = 0;
  uint64_t decoded_ = 0;
  std::vector<Seen> seen_;
  std::vector<Job> jobs_;
  size_t n_jobs_ = 0;
  uint64_t pending_bytes_ = 0;
  std::unique_ptr<PooledThreads> pool_;
  std::unique_ptr<ChunkDecoder[]> decoders_;
};

}  // namespace

uint64_t Input::skip(uint64_t n) {
  uint8_t scratch[4096];
  uint64_t done = 0;
  while (done < n) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(n - done, sizeof scratch));
    const size_t got = read(scratch, want);
    done += got;
    if (got < want) break;
  }
  return done;
}

size_t MemoryInput::read(uint8_t* dst, size_t n) {
  const size_t k = std::min(n, data_.size() - pos_);
  if (k) std::memcpy(dst, data_.data() + pos_, k);
  pos_ += k;
  return k;
}

uint64_t MemoryInput::skip(uint64_t n) {
  const uint64_t k = std::min<uint64_t>(n, data_.size() - pos_);
  pos_ += static_cast<size_t>(k);
  return k;
}

uint64_t parse_stream(Input& in, const Sink* sink, unsigned threads, std::vector<uint8_t>* metadata) {
  return StreamParser(in, sink, threads, metadata).run();
}

}  // namespace tenzip::detail

namespace tenzip {

uint64_t decompress_stream(const Source& src, const Sink& sink, unsigned threads, std::vector<uint8_t>* metadata) {
  if (!src || !sink) throw Error(Errc::invalid_argument, "decompress_stream: empty source or sink");
  detail::SourceInput in(src);
  return detail::parse_stream(in, &sink, threads, metadata);
}

}  // namespace tenzip
