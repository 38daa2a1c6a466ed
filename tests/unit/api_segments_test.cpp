// Multi-segment containers, metadata, argument errors, Compressor state rules,
// summarize_streams, and the thread pool under the API.
#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <sys/wait.h>
#include <unistd.h>

#include "container_test_util.hpp"
#include "parallel/thread_pool.hpp"

namespace tenzip::testing {
namespace {

Bytes as_bytes(const std::string& s) { return Bytes(s.begin(), s.end()); }

// fp32 (100 elems), empty bf16, fp16 (13 elems + 1 tail byte), bytes (50), with metadata.
Segmented multi_segment(unsigned threads, uint32_t chunk_elems) {
  return segmented_container(threads, chunk_elems, 400, 27, 50, as_bytes("{\"tensors\":[\"a\",\"b\",\"c\",\"d\"]}"));
}

TEST(ApiSegments, LayoutAndMetadata) {
  for (uint32_t ce : {1u, 7u, 64u, 4096u}) {
    SCOPED_TRACE("chunk_elems " + std::to_string(ce));
    const Segmented b = multi_segment(2, ce);
    const Reader r(b.container);
    const auto& info = r.info();
    ASSERT_EQ(info.segments.size(), 5u);
    const DType want[] = {DType::fp32, DType::bf16, DType::fp16, DType::bytes, DType::bytes};
    const uint64_t sizes[] = {400, 0, 26, 1, 50};
    uint64_t off = 0, first = 0;
    for (size_t s = 0; s < 5; ++s) {
      EXPECT_EQ(info.segments[s].dtype, want[s]) << s;
      EXPECT_EQ(info.segments[s].decoded_size, sizes[s]) << s;
      EXPECT_EQ(info.segments[s].decoded_offset, off) << s;
      EXPECT_EQ(info.segments[s].first_chunk, first) << s;
      off += sizes[s];
      first += info.segments[s].n_chunks;
    }
    EXPECT_EQ(info.decoded_size, b.decoded.size());
    EXPECT_EQ(info.chunks.size(), first);
    EXPECT_EQ(info.chunk_elems, ce);
    EXPECT_EQ(info.format_version, kFormatVersionDefault);
    EXPECT_EQ(info.container_size, b.container.size());
    EXPECT_TRUE(same_bytes(info.metadata, as_bytes("{\"tensors\":[\"a\",\"b\",\"c\",\"d\"]}")));
    EXPECT_TRUE(same_bytes(decompress(b.container, 3), b.decoded));
    EXPECT_TRUE(same_bytes(stream_decode(b.container, 5, 2), b.decoded));
    EXPECT_TRUE(same_bytes(reader_decode_segments(r, 3), b.decoded));
    EXPECT_TRUE(same_bytes(reader_decode_chunks(r), b.decoded));
    // Threads never change the bytes written.
    EXPECT_TRUE(same_bytes(multi_segment(1, ce).container, b.container));
    EXPECT_TRUE(same_bytes(multi_segment(3, ce).container, b.container));
  }
}

TEST(ApiSegments, EmptyInputIsOneEmptySegment) {
  for (DType d : {DType::bytes, DType::bf16, DType::fp32}) {
    CompressOptions opts;
    opts.dtype = d;
    const Bytes c = compress({}, opts);
    const Reader r(c);
    ASSERT_EQ(r.info().segments.size(), 1u);
    EXPECT_EQ(r.info().segments[0].dtype, d);
    EXPECT_EQ(r.info().chunks.size(), 0u);
    EXPECT_EQ(r.info().decoded_size, 0u);
    EXPECT_TRUE(decompress(c).empty());
    EXPECT_TRUE(stream_decode(c, 1).empty());
    Bytes none;
    EXPECT_NO_THROW(r.decode_all(none, 2));
  }
}

TEST(ApiSegments, BeginSegmentFirstReplacesTheImplicitOne) {
  CompressOptions opts;
  opts.dtype = DType::fp32;
  Bytes out;
  Compressor c(opts, [&](std::span<const uint8_t> x) { out.insert(out.end(), x.begin(), x.end()); });
  c.begin_segment(DType::bf16);
  c.write(weight_bytes(DType::bf16, 20, 3));
  c.finish();
  const Reader r(out);
  ASSERT_EQ(r.info().segments.size(), 1u);
  EXPECT_EQ(r.info().segments[0].dtype, DType::bf16);
}

TEST(ApiSegments, InvalidArguments) {
  auto sink = [](std::span<const uint8_t>) {};
  auto code = [](auto&& f) { return outcome_of(f).code; };
  CompressOptions o;
  o.level = 0;
  EXPECT_EQ(code([&] { Compressor c(o, sink); }), Errc::invalid_argument);
  o = {};
  o.level = kMaxLevel + 1;
  EXPECT_EQ(code([&] { compress({}, o); }), Errc::invalid_argument);
  o = {};
  o.chunk_elems = 0;
  EXPECT_EQ(code([&] { compress({}, o); }), Errc::invalid_argument);
  o.chunk_elems = (1u << 24) + 1;
  EXPECT_EQ(code([&] { compress({}, o); }), Errc::invalid_argument);
  o = {};
  o.dtype = static_cast<DType>(6);
  EXPECT_EQ(code([&] { compress({}, o); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { Compressor c({}, Sink{}); }), Errc::invalid_argument);

  Compressor c({}, sink);
  EXPECT_EQ(code([&] { c.begin_segment(static_cast<DType>(200)); }), Errc::invalid_argument);
  Compressor c2({}, sink);
  c2.finish();
  EXPECT_EQ(code([&] { c2.write(Bytes{1}); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { c2.finish(); }), Errc::invalid_argument);

  const Segmented b = multi_segment(1, 7);
  const Reader r(b.container);
  Bytes small(3);
  EXPECT_EQ(code([&] { r.decode_chunk(r.info().chunks.size(), small); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { r.decode_chunk(0, small); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { r.decode_segment(99, small); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { r.decode_segment(0, small); }), Errc::invalid_argument);
  EXPECT_EQ(code([&] { r.decode_all(small); }), Errc::invalid_argument);

  // A Source that claims more than it was asked for is a caller bug.
  EXPECT_EQ(code([&] { decompress_stream([](std::span<uint8_t> d) { return d.size() + 1; }, sink); }),
            Errc::invalid_argument);
}

// The sink is never called again once it has thrown (frames are emitted while others are
// still being encoded), and the Compressor refuses further use.
TEST(ApiSegments, SinkFailureStopsTheCompressor) {
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    int calls = 0;
    CompressOptions opts;
    opts.chunk_elems = 16;
    opts.threads = threads;
    Compressor c(opts, [&](std::span<const uint8_t>) {
      if (++calls == 3) throw std::runtime_error("disk full");
    });
    const Bytes data = weight_bytes(DType::bytes, 1000, 5);  // 63 chunks: one batch
    EXPECT_THROW(c.write(data), std::runtime_error);
    EXPECT_EQ(calls, 3);
    const Outcome o = outcome_of([&] { c.finish(); });
    EXPECT_TRUE(o.threw_error);
    EXPECT_EQ(o.code, Errc::invalid_argument);
    EXPECT_EQ(calls, 3);
  }
}

// write() with `alongside`: it runs once per write, on the calling thread, whether the write
// encodes chunks (a large write: during the encoding) or only stages them; the container is
// the one plain writes make; an exception from it comes out of write() and ends the
// Compressor's use.
TEST(ApiSegments, WriteAlongsideRunsOnceOnTheCallingThread) {
  const std::thread::id caller = std::this_thread::get_id();
  const Bytes data = weight_bytes(DType::fp32, 4 * 5000, 9);
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    CompressOptions opts;
    opts.dtype = DType::fp32;
    opts.chunk_elems = 256;  // 1 KiB chunks: a 1000-byte write is staged, a 12 KiB one mostly encoded in place
    opts.threads = threads;
    auto piece = [](size_t k) -> size_t { return k % 3 == 0 ? 1000 : 12288; };
    Bytes plain, with;
    {
      Compressor c(opts, [&](std::span<const uint8_t> b) { plain.insert(plain.end(), b.begin(), b.end()); });
      for (size_t off = 0, k = 0; off < data.size(); off += piece(k++))
        c.write(std::span<const uint8_t>(data).subspan(off, std::min(piece(k), data.size() - off)));
      c.finish();
    }
    int runs = 0, writes = 0;
    bool off_thread = false;
    Compressor c(opts, [&](std::span<const uint8_t> b) { with.insert(with.end(), b.begin(), b.end()); });
    for (size_t off = 0, k = 0; off < data.size(); off += piece(k++), ++writes)
      c.write(std::span<const uint8_t>(data).subspan(off, std::min(piece(k), data.size() - off)), [&] {
        ++runs;
        if (std::this_thread::get_id() != caller) off_thread = true;
      });
    c.finish();
    EXPECT_EQ(runs, writes);
    EXPECT_FALSE(off_thread);
    EXPECT_EQ(with, plain);
    EXPECT_EQ(decompress(with), data);

    Compressor bad(opts, [](std::span<const uint8_t>) {});
    EXPECT_THROW(bad.write(data, [] { throw std::runtime_error("read failed"); }), std::runtime_error);
    EXPECT_EQ(outcome_of([&] { bad.finish(); }).code, Errc::invalid_argument);
  }
}

TEST(ApiSegments, SinkFailureInDecompressStreamPropagates) {
  const Segmented b = multi_segment(1, 7);
  size_t pos = 0;
  auto src = [&](std::span<uint8_t> d) {
    const size_t k = std::min(d.size(), b.container.size() - pos);
    std::copy_n(b.container.begin() + static_cast<ptrdiff_t>(pos), k, d.begin());
    pos += k;
    return k;
  };
  EXPECT_THROW(decompress_stream(src, [](std::span<const uint8_t>) { throw std::runtime_error("pipe closed"); }),
               std::runtime_error);
}

TEST(ApiSegments, SummarizeStreamsCoversEveryChunk) {
  const Segmented b = multi_segment(1, 7);
  const Reader r(b.container);
  const auto sum = summarize_streams(r);
  ASSERT_FALSE(sum.empty());
  uint64_t chunks_fp32 = 0;
  for (const auto& s : sum) {
    EXPECT_FALSE(s.stream.empty());
    EXPECT_GT(s.coded_size, 0u);
    uint64_t chunks = 0;
    for (uint64_t c : s.chunks_by_mode) chunks += c;
    if (s.dtype == DType::fp32) chunks_fp32 = std::max(chunks_fp32, chunks);
  }
  EXPECT_EQ(chunks_fp32, r.info().segments[0].n_chunks);
  for (size_t i = 1; i < sum.size(); ++i) EXPECT_LE(sum[i - 1].dtype, sum[i].dtype);
}

TEST(ApiThreadPool, RunsEveryIndexOnce) {
  for (unsigned threads : {1u, 2u, 3u, 8u}) {
    detail::ThreadPool pool(threads);
    EXPECT_EQ(pool.size(), threads);
    for (size_t n : {0u, 1u, 5u, 1000u}) {
      std::vector<std::atomic<int>> hits(n);
      std::atomic<bool> bad_worker{false};
      pool.parallel_for(n, [&](size_t i, unsigned w) {
        if (w >= pool.size()) bad_worker = true;
        ++hits[i];
      });
      EXPECT_FALSE(bad_worker);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << i;
    }
  }
  EXPECT_GE(detail::ThreadPool(0).size(), 1u);
}

TEST(ApiThreadPool, ReportsTheLowestFailingIndex) {
  detail::ThreadPool pool(3);
  for (int round = 0; round < 50; ++round) {
    try {
      pool.parallel_for(200, [&](size_t i, unsigned) {
        if (i % 37 == 36) throw std::runtime_error(std::to_string(i));
      });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "36");
    }
  }
  std::atomic<int> n{0};
  pool.parallel_for(10, [&](size_t, unsigned) { ++n; });  // still usable after a failure
  EXPECT_EQ(n.load(), 10);
}

// The in-order emission: every index once, in order, on the calling thread; chunks of work
// whose time varies so that items finish out of order.
TEST(ApiThreadPool, OrderedEmitsEveryIndexInOrderOnTheCallingThread) {
  const std::thread::id caller = std::this_thread::get_id();
  for (unsigned threads : {1u, 2u, 3u}) {
    detail::ThreadPool pool(threads);
    for (size_t n : {0u, 1u, 7u, 300u}) {
      std::vector<std::atomic<int>> ran(n);
      std::vector<size_t> emitted;
      bool off_thread = false, early = false;
      pool.parallel_for_ordered(
          n,
          [&](size_t i, unsigned) {
            volatile uint64_t x = 0;
            for (size_t k = 0; k < (i * 7919) % 5000; ++k) x = x + k;  // uneven items
            ran[i].store(1, std::memory_order_relaxed);
          },
          [&](size_t i) {
            if (std::this_thread::get_id() != caller) off_thread = true;
            if (ran[i].load(std::memory_order_relaxed) != 1) early = true;
            emitted.push_back(i);
          });
      EXPECT_FALSE(off_thread);
      EXPECT_FALSE(early);
      ASSERT_EQ(emitted.size(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(emitted[i], i);
    }
  }
}

// fn failing at k: exactly [0, k) emitted, fn's error rethrown. emit failing at i: nothing
// after i emitted, emit's error rethrown even when a later fn also fails.
TEST(ApiThreadPool, OrderedStopsAtTheFirstFailureInIndexOrder) {
  detail::ThreadPool pool(3);
  for (int round = 0; round < 30; ++round) {
    std::vector<size_t> emitted;
    try {
      pool.parallel_for_ordered(
          200, [&](size_t i, unsigned) { if (i == 57 || i == 150) throw std::runtime_error("fn " + std::to_string(i)); },
          [&](size_t i) { emitted.push_back(i); });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "fn 57");
    }
    ASSERT_EQ(emitted.size(), 57u);
    for (size_t i = 0; i < emitted.size(); ++i) EXPECT_EQ(emitted[i], i);

    emitted.clear();
    try {
      pool.parallel_for_ordered(
          200, [&](size_t i, unsigned) { if (i == 150) throw std::runtime_error("fn 150"); },
          [&](size_t i) {
            if (i == 20) throw std::runtime_error("emit 20");
            emitted.push_back(i);
          });
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "emit 20");
    }
    EXPECT_EQ(emitted.size(), 20u);
  }
  std::atomic<int> n{0};
  pool.parallel_for(10, [&](size_t, unsigned) { ++n; });  // still usable after a failure
  EXPECT_EQ(n.load(), 10);
}

// The lead: runs once, on the calling thread, before any emit; every item still runs and is
// emitted in order; its error comes after the items', and only if none of them failed.
TEST(ApiThreadPool, LeadRunsOnTheCallingThreadBeforeAnyEmit) {
  const std::thread::id caller = std::this_thread::get_id();
  for (unsigned threads : {1u, 2u, 3u}) {
    detail::ThreadPool pool(threads);
    for (size_t n : {0u, 1u, 7u, 300u}) {
      SCOPED_TRACE("threads " + std::to_string(threads) + ", n " + std::to_string(n));
      int leads = 0;
      bool lead_off_thread = false, emit_before_lead = false;
      std::atomic<int> ran{0};
      std::vector<size_t> emitted;
      const detail::ThreadPool::Lead lead = [&] {
        ++leads;
        if (std::this_thread::get_id() != caller) lead_off_thread = true;
      };
      pool.parallel_for_ordered(
          n, [&](size_t, unsigned) { ran.fetch_add(1, std::memory_order_relaxed); },
          [&](size_t i) {
            if (leads == 0) emit_before_lead = true;
            emitted.push_back(i);
          },
          &lead);
      EXPECT_EQ(leads, 1);
      EXPECT_FALSE(lead_off_thread);
      EXPECT_FALSE(emit_before_lead);
      EXPECT_EQ(ran.load(), static_cast<int>(n));
      ASSERT_EQ(emitted.size(), n);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(emitted[i], i);

      leads = 0;
      ran = 0;
      pool.parallel_for(n, [&](size_t, unsigned) { ran.fetch_add(1, std::memory_order_relaxed); }, &lead);
      EXPECT_EQ(leads, 1);
      EXPECT_EQ(ran.load(), static_cast<int>(n));
    }
  }
}

TEST(ApiThreadPool, LeadErrorComesAfterTheItems) {
  for (unsigned threads : {1u, 2u, 3u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    detail::ThreadPool pool(threads);
    const detail::ThreadPool::Lead lead = [] { throw std::runtime_error("lead"); };
    std::vector<size_t> emitted;
    try {
      pool.parallel_for_ordered(50, [](size_t, unsigned) {}, [&](size_t i) { emitted.push_back(i); }, &lead);
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "lead");
    }
    EXPECT_EQ(emitted.size(), 50u);  // every item ran and went out first
    try {
      pool.parallel_for(
          50, [](size_t i, unsigned) { if (i == 30) throw std::runtime_error("fn 30"); }, &lead);
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "fn 30");
    }
    try {
      pool.parallel_for(0, [](size_t, unsigned) {}, &lead);
      FAIL() << "no exception";
    } catch (const std::runtime_error& e) {
      EXPECT_STREQ(e.what(), "lead");
    }
    std::atomic<int> n{0};
    pool.parallel_for(10, [&](size_t, unsigned) { ++n; });  // still usable
    EXPECT_EQ(n.load(), 10);
  }
}

// Pools come back from the cache (same threads) when given back, one per borrower at a time.
TEST(ApiThreadPool, BorrowedPoolsAreReusedNotShared) {
  const detail::ThreadPool* first = nullptr;
  {
    detail::PooledThreads a(3);
    EXPECT_EQ(a->size(), 3u);
    first = &*a;
    detail::PooledThreads b(3);  // while a is out: another pool
    EXPECT_NE(&*b, first);
    std::atomic<int> n{0};
    a->parallel_for(100, [&](size_t, unsigned) { ++n; });
    EXPECT_EQ(n.load(), 100);
  }
  bool seen = false;
  for (int k = 0; k < 2; ++k) {  // both came back; the cache holds them both
    detail::PooledThreads c(3);
    seen |= &*c == first;
    std::atomic<int> n{0};
    c->parallel_for(100, [&](size_t, unsigned) { ++n; });
    EXPECT_EQ(n.load(), 100);
  }
  EXPECT_TRUE(seen);
}

#if !defined(__SANITIZE_THREAD__)  // TSan ends a child that starts threads after a threaded fork
// A forked child must not reuse the parent's idle pools: their threads are not in the child.
TEST(ApiThreadPool, ForkedChildStartsItsOwnThreads) {
  const Segmented b = multi_segment(2, 9);
  ASSERT_EQ(decompress(b.container, 2), b.decoded);  // leaves an idle 2-thread pool cached
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    alarm(20);  // a hang (waiting for threads that do not exist) fails instead of blocking
    const bool ok = decompress(b.container, 2) == b.decoded && compress(b.decoded, CompressOptions{}).size() > 0;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status)) << "child killed by signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0);
}
#endif

}  // namespace
}  // namespace tenzip::testing
