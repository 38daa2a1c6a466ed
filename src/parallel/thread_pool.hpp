// A small fixed thread pool: the calling thread is worker 0, size()-1 threads wait for work.
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

  // Runs fn(i, worker) for every i in [0, n), worker in [0, size()). Blocks until done.
  // If calls throw, rethrows the exception of the lowest failing index; every index below it
  // has run, so the error reported does not depend on thread timing.
  void parallel_for(size_t n, const Fn& fn);

 private:
  struct State;
  void worker_loop(unsigned worker);
  unsigned size_;
  std::unique_ptr<State> st_;
};

}  // namespace tenzip::detail
