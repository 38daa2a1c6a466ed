// A small fixed thread pool: the calling thread is worker 0, size()-1 threads wait for work
// (started at the first parallel_for with more than one item).
// One parallel_for at a time per pool; callers keep per-worker scratch indexed by `worker`.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

namespace tenzip::detail {

// threads == 0 means std::thread::hardware_concurrency(); the result is clamped to [1, 256].
unsigned resolve_threads(unsigned threads) noexcept;

class ThreadPool {
 public:
  using Fn = std::function<void(size_t index, unsigned worker)>;

  explicit ThreadPool(unsigned threads);  // total workers, calling thread included; 0 = hardware
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const noexcept { return size_; }

  using Lead = std::function<void()>;

  // Runs fn(i, worker) for every i in [0, n), worker in [0, size()). Blocks until done.
  // If calls throw, rethrows the exception of the lowest failing index; every index below it
  // has run, so the error reported does not depend on thread timing.
  // `lead`, if given, runs first on the calling thread while the other workers start on the
  // items (a stream's next input is read while this batch decodes); if it throws, its
  // exception is rethrown once the items are done, unless an item's comes first.
  void parallel_for(size_t n, const Fn& fn, const Lead* lead = nullptr);

  // parallel_for, and emit(i) for every i in order, on the calling thread: as soon as fn(i)
  // and every fn before it have returned, between the calling thread's own items, so that
  // in-order output (a sink) overlaps the other workers' items instead of following the last.
  // If fn(k) throws, emit has run for every i < k when its exception is rethrown. If emit(i)
  // throws, no later emit runs, items not yet started are skipped, and emit's exception is
  // rethrown (it comes before any failing fn in index order).
  // `lead` as in parallel_for (no emit runs before it returns).
  void parallel_for_ordered(size_t n, const Fn& fn, const std::function<void(size_t index)>& emit,
                            const Lead* lead = nullptr);

 private:
  struct State;
  void start_threads();
  void worker_loop(unsigned worker);
  unsigned size_;
  std::unique_ptr<State> st_;
};

// A pool of `threads` workers (0 = hardware) borrowed for as long as this object lives, from
// a process-wide cache: pools given back keep their threads, so the next call does not pay
// for starting them (~30-50 us each here; a 5-chunk decode with 2 threads took 136 us against
// 82 us with 1, with a new pool per call). A few idle pools are kept; a forked child never
// reuses its parent's (their threads did not survive the fork).
class PooledThreads {
 public:
  explicit PooledThreads(unsigned threads);
  ~PooledThreads();
  PooledThreads(const PooledThreads&) = delete;
  PooledThreads& operator=(const PooledThreads&) = delete;
  ThreadPool* operator->() const noexcept { return pool_.get(); }
  ThreadPool& operator*() const noexcept { return *pool_; }

 private:
  std::unique_ptr<ThreadPool> pool_;
  int pid_;  // of the process that borrowed it
};

}  // namespace tenzip::detail
