// Compressor: stages input into batches of chunks, encodes a batch in parallel, emits frames
// in file order, and keeps the index entries to write at finish(). compress() is a Compressor
// writing into a vector. The calling thread emits each frame as soon as it and every frame
// before it are encoded, between its own chunks, so the sink's copying overlaps the other
// workers' encoding and little of it is left for after a batch's last chunk.
#include <algorithm>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "api/chunk_ops.hpp"
#include "codec/chunk_codec.hpp"
#include "container/format.hpp"
#include "parallel/thread_pool.hpp"
#include "tenzip/tenzip.hpp"
#include "util/huge_pages.hpp"

namespace tenzip {

using namespace detail;

namespace {

void validate_options(const CompressOptions& o) {
  if (!dtype_is_valid(static_cast<uint8_t>(o.dtype)))
    throw Error(Errc::invalid_argument, "invalid dtype code " + std::to_string(static_cast<int>(o.dtype)));
  if (o.level < kMinLevel || o.level > kMaxLevel)
    throw Error(Errc::invalid_argument, "level " + std::to_string(o.level) + " is outside " +
                                            std::to_string(kMinLevel) + ".." + std::to_string(kMaxLevel));
  if (o.chunk_elems < 1 || o.chunk_elems > kMaxChunkElems)
    throw Error(Errc::invalid_argument,
                "chunk_elems " + std::to_string(o.chunk_elems) + " is outside 1.." + std::to_string(kMaxChunkElems));
}

}  // namespace

struct Compressor::Impl {
  struct Job {
    const uint8_t* direct = nullptr;  // into the caller's buffer (valid during write()) ...
    size_t buf_off = 0;               // ... or into `buf`
    uint32_t n_elems = 0;
    DType dtype = DType::bytes;
    uint32_t segment = 0;
  };

  CompressOptions opts;
  Sink sink;
  PooledThreads pool;
  std::unique_ptr<ChunkEncoder[]> encoders;
  size_t batch_max;

  std::vector<uint8_t> buf;  // staged bytes: those of `jobs`, then the open (unchunked) bytes
  size_t open_off = 0;       // start of the open bytes in buf
  std::vector<Job> jobs;
  std::vector<std::vector<uint8_t>> frames;  // per job of the batch: frame header + payload
  // Frame buffers already emitted, for the next jobs: a frame leaves soon after it is encoded,
  // so a few buffers, still in cache, serve a whole batch.
  std::vector<std::vector<uint8_t>> spare;
  std::mutex spare_mutex;

  bool implicit_segment = true;  // segment 0 was not asked for; begin_segment() may replace it
  Index index;
  std::vector<uint8_t> metadata;

  uint64_t in = 0, out = 0;
  bool header_written = false, finished = false, failed = false;

  Impl(const CompressOptions& o, Sink s)
      : opts(o), sink(std::move(s)), pool(o.threads), encoders(new ChunkEncoder[pool->size()]),
        batch_max(batch_chunks(pool->size(), o.chunk_elems)) {
    jobs.reserve(batch_max + 2);
    index.segments.push_back({opts.dtype, 0, 0});
  }

  uint32_t cur_segment() const { return static_cast<uint32_t>(index.segments.size() - 1); }
  DType cur_dtype() const { return index.segments.back().dtype; }
  size_t chunk_bytes() const { return size_t{opts.chunk_elems} * dtype_size(cur_dtype()); }

  void emit(std::span<const uint8_t> bytes) {
    sink(bytes);
    out += bytes.size();
  }
  uint16_t version() const noexcept { return opts.lanes ? kFormatVersion : kFormatVersionDefault; }
  void ensure_header() {
    if (header_written) return;
    header_written = true;
    const auto h = encode_file_header(opts.chunk_elems, version());
    emit(h);
  }

  void add_job(const uint8_t* direct, size_t buf_off, uint32_t n_elems, DType dtype, uint32_t segment) {
    jobs.push_back({direct, buf_off, n_elems, dtype, segment});
    auto& seg = index.segments[segment];
    ++seg.n_chunks;
    seg.decoded_size += uint64_t{n_elems} * dtype_size(dtype);
  }

  // Turns open bytes [open_off, open_off + n) of `dtype` into chunks of at most chunk_elems.
  void chunk_open_bytes(size_t n, DType dtype, uint32_t segment) {
    const size_t es = dtype_size(dtype);
    while (n > 0) {
      const size_t elems = std::min<size_t>(n / es, opts.chunk_elems);
      add_job(nullptr, open_off, static_cast<uint32_t>(elems), dtype, segment);
      open_off += elems * es;
      n -= elems * es;
    }
  }

  // Runs once, from the next flush (see Compressor::write with `alongside`).
  const ThreadPool::Lead* lead = nullptr;

  void write(std::span<const uint8_t> data, const ThreadPool::Lead* alongside = nullptr) {
    lead = alongside;
    write_data(data);
    if (const ThreadPool::Lead* l = std::exchange(lead, nullptr)) (*l)();  // no flush ran it
  }

  void write_data(std::span<const uint8_t> data) {
    if (!data.empty()) implicit_segment = false;
    in += data.size();
    const size_t cb = chunk_bytes();
    while (!data.empty()) {
      // Large writes at a chunk boundary are encoded in place, without staging, together with
      // the staged chunks before them (a model's small tensors), and before write() returns:
      // the caller's buffer is only valid until then. (Requiring no staged chunk copied a
      // model's large tensors too, whenever a small one came before: 11% of the profile.)
      if (buf.size() == open_off && data.size() >= size_t{pool->size()} * cb) {
        if (jobs.size() >= batch_max) flush();
        const size_t k = std::min(batch_max - jobs.size(), data.size() / cb);
        for (size_t i = 0; i < k; ++i) add_job(data.data() + i * cb, 0, opts.chunk_elems, cur_dtype(), cur_segment());
        flush();
        data = data.subspan(k * cb);
        continue;
      }
      const size_t take = std::min(data.size(), cb - (buf.size() - open_off));
      buf.insert(buf.end(), data.begin(), data.begin() + static_cast<ptrdiff_t>(take));
      data = data.subspan(take);
      if (buf.size() - open_off == cb) chunk_open_bytes(cb, cur_dtype(), cur_segment());
      if (jobs.size() >= batch_max) flush();
    }
  }

  // Ends the current segment: whole elements become its last chunk; a tail shorter than one
  // element becomes a segment of dtype `bytes` of its own.
  void close_segment() {
    const size_t open = buf.size() - open_off;
    const size_t es = dtype_size(cur_dtype());
    const size_t whole = open / es * es;
    chunk_open_bytes(whole, cur_dtype(), cur_segment());
    if (const size_t tail = open - whole; tail > 0) {
      new_segment(DType::bytes);
      chunk_open_bytes(tail, DType::bytes, cur_segment());
    }
    if (jobs.size() >= batch_max) flush();
  }

  void new_segment(DType dtype) {
    if (index.segments.size() >= std::numeric_limits<uint32_t>::max())
      throw Error(Errc::invalid_argument, "too many segments (the format allows 2^32 - 1)");
    index.segments.push_back({dtype, 0, 0});
  }

  void begin_segment(DType dtype) {
    if (!dtype_is_valid(static_cast<uint8_t>(dtype)))
      throw Error(Errc::invalid_argument, "invalid dtype code " + std::to_string(static_cast<int>(dtype)));
    if (implicit_segment) {
      implicit_segment = false;
      index.segments.back().dtype = dtype;
      return;
    }
    close_segment();
    new_segment(dtype);
  }

  void flush() {
    if (jobs.empty()) return;
    ensure_header();
    const size_t n = jobs.size();
    if (frames.size() < n) frames.resize(n);
    auto encode = [&](size_t j, unsigned w) {
      const Job& job = jobs[j];
      const uint8_t* src = job.direct ? job.direct : buf.data() + job.buf_off;
      const size_t bytes = size_t{job.n_elems} * dtype_size(job.dtype);
      auto& f = frames[j];
      {
        std::lock_guard<std::mutex> lk(spare_mutex);
        if (!spare.empty()) {
          f.swap(spare.back());
          spare.pop_back();
        }
      }
      f.resize(kFrameHeaderSize);
      encoders[w].encode(job.dtype, src, job.n_elems, opts.level, f, opts.lanes);
      const size_t payload = f.size() - kFrameHeaderSize;
      if (payload > UINT32_MAX - kFrameHeaderSize)
        throw Error(Errc::internal, "chunk payload of " + std::to_string(payload) + " bytes does not fit a frame");
      FrameHeader h;
      h.dtype = job.dtype;
      h.n_elems = job.n_elems;
      h.payload_size = static_cast<uint32_t>(payload);
      h.checksum = xxh3({src, bytes});
      h.segment = job.segment;
      const auto hb = encode_frame_header(h);
      std::memcpy(f.data(), hb.data(), hb.size());
    };
    // Frames and their index entries go out in file order, on the calling thread (the sink
    // runs where write() was called), while the other workers encode.
    auto emit_frame = [&](size_t j) {
      auto& f = frames[j];
      const uint64_t at = out;
      emit(f);
      index.chunks.push_back({at, static_cast<uint32_t>(f.size()), jobs[j].n_elems, load_u64(&f[16])});
      std::lock_guard<std::mutex> lk(spare_mutex);
      spare.push_back(std::move(f));  // leaves f empty
    };
    pool->parallel_for_ordered(n, encode, emit_frame, std::exchange(lead, nullptr));
    jobs.clear();
    buf.erase(buf.begin(), buf.begin() + static_cast<ptrdiff_t>(open_off));  // keep only open bytes
    open_off = 0;
  }

  uint64_t finish() {
    close_segment();
    flush();
    ensure_header();
    emit(encode_end_frame());
    index.metadata = std::move(metadata);
    const std::vector<uint8_t> idx = encode_index(index);
    Footer f;
    f.format_version = version();
    f.index_offset = out;
    f.index_size = idx.size();
    f.index_check = xxh3(idx);
    emit(idx);
    emit(encode_footer(f));
    return out;
  }

  // Runs a public call; after a failure (e.g. the sink threw) the object refuses further use,
  // because part of a frame may already be out.
  template <class F>
  auto guarded(const char* what, F&& f) {
    if (failed) throw Error(Errc::invalid_argument, std::string("Compressor::") + what + ": unusable after an earlier error");
    if (finished) throw Error(Errc::invalid_argument, std::string("Compressor::") + what + ": called after finish()");
    try {
      return f();
    } catch (...) {
      failed = true;
      throw;
    }
  }
};

Compressor::Compressor(const CompressOptions& opts, Sink sink) {
  validate_options(opts);
  if (!sink) throw Error(Errc::invalid_argument, "Compressor: empty sink");
  impl_ = std::make_unique<Impl>(opts, std::move(sink));
}

Compressor::~Compressor() = default;

void Compressor::begin_segment(DType dtype) {
  impl_->guarded("begin_segment", [&] { impl_->begin_segment(dtype); });
}

void Compressor::write(std::span<const uint8_t> data) {
  impl_->guarded("write", [&] { impl_->write(data); });
}

void Compressor::write(std::span<const uint8_t> data, const std::function<void()>& alongside) {
  impl_->guarded("write", [&] { impl_->write(data, &alongside); });
}

void Compressor::set_metadata(std::span<const uint8_t> metadata) {
  impl_->guarded("set_metadata", [&] { impl_->metadata.assign(metadata.begin(), metadata.end()); });
}

uint64_t Compressor::finish() {
  return impl_->guarded("finish", [&] {
    const uint64_t n = impl_->finish();
    impl_->finished = true;
    return n;
  });
}

uint64_t Compressor::bytes_in() const noexcept { return impl_->in; }
uint64_t Compressor::bytes_out() const noexcept { return impl_->out; }

std::vector<uint8_t> compress(std::span<const uint8_t> src, const CompressOptions& opts) {
  std::vector<uint8_t> out;
  // Reserve the worst case (stored streams) so that appending frames never reallocates.
  const size_t chunk_bytes = std::max<size_t>(1, size_t{opts.chunk_elems} * dtype_size(opts.dtype));
  out.reserve(src.size() + (src.size() / chunk_bytes + 3) * 128 + 4096);
  detail::advise_huge_pages(out.data(), out.capacity());  // fresh memory, written in order
  Compressor c(opts, [&out](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  c.write(src);
  c.finish();
  return out;
}

}  // namespace tenzip
