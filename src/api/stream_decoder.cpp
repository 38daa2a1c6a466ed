#include "api/stream_decoder.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <utility>
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

// An allocator whose resize() leaves new bytes uninitialized: a payload buffer is read into
// right after it grows, and zeroing it first took ~6% of `tenzip decompress`.
template <class T>
struct UninitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = UninitAllocator<U>;
  };
  template <class U>
  void construct(U* p) noexcept {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... A>
  void construct(U* p, A&&... a) {
    ::new (static_cast<void*>(p)) U(std::forward<A>(a)...);
  }
};
using Bytes = std::vector<uint8_t, UninitAllocator<uint8_t>>;

// Appends up to n bytes to buf, growing it block by block so that a size claimed by a corrupt
// file costs memory only for the bytes really present. Returns bytes appended.
template <class Buffer>
uint64_t append_exact(Input& in, Buffer& buf, uint64_t n) {
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
  Bytes payload;
  Bytes out;
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
      pool_ = std::make_unique<PooledThreads>(threads_);
      for (Batch& b : batches_) b.jobs.resize(decode_batch_chunks((*pool_)->size()));
      decoders_.reset(new ChunkDecoder[(*pool_)->size()]);
      decode_frames();
    } else {
      read_frames(nullptr);
    }
    read_index_and_footer();
    return decoded_;
  }

 private:
  struct Batch {
    std::vector<Job> jobs;
    size_t n = 0;        // jobs read
    uint64_t bytes = 0;  // their decoded size
  };

  // Batches go through in turn: while one decodes, the calling thread reads the next (the
  // other workers start decoding meanwhile), so reading and decoding overlap. An error found
  // while reading waits until every chunk before it has been decoded and sent to the sink:
  // an earlier bad chunk is reported first, and the sink gets every good chunk.
  void decode_frames() {
    Batch* cur = &batches_[0];
    Batch* next = &batches_[1];
    std::exception_ptr read_error;
    auto read_into = [&](Batch* b) {
      try {
        read_frames(b);
      } catch (...) {
        read_error = std::current_exception();
      }
    };
    read_into(cur);
    while (cur->n > 0) {
      const bool more = !ended_ && !read_error;
      const ThreadPool::Lead lead = [&] { read_into(next); };
      decode_batch(*cur, more ? &lead : nullptr);
      if (!more) break;
      std::swap(cur, next);
    }
    if (read_error) std::rethrow_exception(read_error);
  }

  // Reads chunk frames until the batch is full or the end frame (structure only, without a
  // batch: to the end frame, payloads skipped).
  void read_frames(Batch* batch) {
    std::vector<uint8_t> hdr;
    if (batch) {
      batch->n = 0;
      batch->bytes = 0;
    }
    while (!ended_ && (!batch || (batch->n < batch->jobs.size() && batch->bytes < kBatchBudget))) {
      const uint64_t n = seen_.size();
      hdr.clear();
      append_exact(in_, hdr, kFrameHeaderSize);
      const FrameHeader h = parse_frame_header(hdr, n, pos_, fh_);
      if (h.type == kFrameEnd) {
        pos_ += kFrameHeaderSize;
        ended_ = true;
        return;
      }
      check_sequence(n, h);
      const uint64_t frame_offset = pos_;
      pos_ += kFrameHeaderSize;
      Job* job = batch ? &batch->jobs[batch->n] : nullptr;
      uint64_t got = 0;
      if (job) {
        job->payload.clear();
        got = append_exact(in_, job->payload, h.payload_size);
      } else {
        got = in_.skip(h.payload_size);
      }
      if (got < h.payload_size)
        fail(Errc::truncated_input, at("chunk", n, frame_offset),
             "truncated (payload of " + std::to_string(h.payload_size) + " bytes, " + std::to_string(got) + " present)");
      pos_ += h.payload_size;
      seen_.push_back({frame_offset, h});
      if (job) {
        job->chunk_no = n;
        job->offset = frame_offset;
        job->h = h;
        ++batch->n;
        batch->bytes += uint64_t{h.n_elems} * dtype_size(h.dtype);
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

  // Decodes the batch's chunks on the pool's workers and sends them to the sink in order, on
  // the calling thread, while the other workers decode; a bad chunk stops the batch after
  // every chunk before it has gone out. `lead` runs first on the calling thread.
  void decode_batch(Batch& b, const ThreadPool::Lead* lead) {
    (*pool_)->parallel_for_ordered(
        b.n,
        [&](size_t j, unsigned w) {
          Job& job = b.jobs[j];
          job.out.resize(size_t{job.h.n_elems} * dtype_size(job.h.dtype));
          decode_checked(decoders_[w], job.chunk_no, job.offset, job.h.dtype, job.h.n_elems, job.h.checksum,
                         job.payload, job.out.data());
        },
        [&](size_t j) {
          (*sink_)(b.jobs[j].out);
          decoded_ += b.jobs[j].out.size();
        },
        lead);
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
  bool ended_ = false;  // the end frame has been read
  Batch batches_[2];
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
