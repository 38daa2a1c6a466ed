#include "parallel/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include <unistd.h>

namespace tenzip::detail {

unsigned resolve_threads(unsigned threads) noexcept {
  if (threads == 0) threads = std::thread::hardware_concurrency();
  return std::clamp(threads, 1u, 256u);
}

namespace {
// Waits up to ~50 us for `ready` by polling, before the caller blocks on a condition variable.
// A batch of chunks ends and the next begins within that time (the stream decoder's batches
// take ~0.3 ms), and a blocked thread's wake-up took 10-50 us here, twice per batch.
template <class Ready>
void spin_until(Ready ready) noexcept {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(50);
  for (;;) {
    for (int k = 0; k < 64; ++k) {
      if (ready()) return;
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
    }
    if (std::chrono::steady_clock::now() >= until) return;
  }
}
}  // namespace

struct ThreadPool::State {
  std::mutex m;
  std::condition_variable cv_work;
  std::condition_variable cv_done;
  // Written under m (so that a worker about to wait cannot miss a change), also read without
  // it by threads spinning before they wait.
  std::atomic<uint64_t> generation{0};
  std::atomic<bool> stop{false};
  std::atomic<unsigned> busy{0};  // background workers still inside the current generation

  const Fn* fn = nullptr;
  size_t n = 0;
  std::atomic<size_t> next{0};
  std::atomic<size_t> fail_index{SIZE_MAX};  // lowest index that threw so far
  std::exception_ptr error;                  // guarded by m

  std::vector<std::thread> threads;

  void run(unsigned worker) {
    for (;;) {
      size_t i = next.fetch_add(1, std::memory_order_relaxed);
      // Indices are handed out in increasing order, so skipping those above a failure
      // never skips one below it.
      if (i >= n || i > fail_index.load(std::memory_order_relaxed)) return;
      try {
        (*fn)(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lk(m);
        if (i < fail_index.load(std::memory_order_relaxed)) {
          fail_index.store(i, std::memory_order_relaxed);
          error = std::current_exception();
        }
      }
    }
  }
};

// The threads start at the first parallel_for that has work for them: a pool that only ever
// sees single items (a small input) never pays for creating them (~30 us each here).
ThreadPool::ThreadPool(unsigned threads) : size_(resolve_threads(threads)), st_(std::make_unique<State>()) {}

void ThreadPool::start_threads() {
  State& s = *st_;
  if (!s.threads.empty()) return;
  try {
    s.threads.reserve(size_ - 1);
    for (unsigned w = 1; w < size_; ++w) s.threads.emplace_back([this, w] { worker_loop(w); });
  } catch (...) {  // all or none: a parallel_for counts on size() - 1 of them
    {
      std::lock_guard<std::mutex> lk(s.m);
      s.stop.store(true);
    }
    s.cv_work.notify_all();
    for (auto& t : s.threads) t.join();
    s.threads.clear();
    s.stop.store(false);
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(st_->m);
    st_->stop.store(true);
  }
  st_->cv_work.notify_all();
  for (auto& t : st_->threads) t.join();
}

void ThreadPool::worker_loop(unsigned worker) {
  State& s = *st_;
  uint64_t seen = 0;
  for (;;) {
    spin_until([&] { return s.stop.load(std::memory_order_acquire) || s.generation.load(std::memory_order_acquire) != seen; });
    {
      std::unique_lock<std::mutex> lk(s.m);
      s.cv_work.wait(lk, [&] { return s.stop.load() || s.generation.load() != seen; });
      if (s.stop.load()) return;
      seen = s.generation.load();
    }
    s.run(worker);
    if (s.busy.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lk(s.m);  // the caller checks busy under m before it waits
      s.cv_done.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n, const Fn& fn, const Lead* lead) {
  std::exception_ptr lead_error;
  auto run_lead = [&] {
    if (!lead) return;
    try {
      (*lead)();
    } catch (...) {
      lead_error = std::current_exception();
    }
  };
  if (n == 0) {
    run_lead();
    if (lead_error) std::rethrow_exception(lead_error);
    return;
  }
  State& s = *st_;
  s.fn = &fn;
  s.n = n;
  s.next.store(0);
  s.fail_index.store(SIZE_MAX);
  s.error = nullptr;
  // A single item is cheaper on the calling thread, unless that thread has a lead to run.
  const bool wake = size_ > 1 && (n > 1 || lead != nullptr);
  if (wake) {
    start_threads();
    {
      std::lock_guard<std::mutex> lk(s.m);
      s.busy.store(size_ - 1, std::memory_order_relaxed);
      s.generation.fetch_add(1, std::memory_order_release);
    }
    s.cv_work.notify_all();
  }
  run_lead();
  s.run(0);
  if (wake) {
    spin_until([&] { return s.busy.load(std::memory_order_acquire) == 0; });
    std::unique_lock<std::mutex> lk(s.m);
    s.cv_done.wait(lk, [&] { return s.busy.load() == 0; });
  }
  s.fn = nullptr;
  if (s.error) std::rethrow_exception(s.error);
  if (lead_error) std::rethrow_exception(lead_error);
}

void ThreadPool::parallel_for_ordered(size_t n, const Fn& fn, const std::function<void(size_t)>& emit,
                                      const Lead* lead) {
  if (n == 0) {
    parallel_for(0, fn, lead);
    return;
  }
  std::unique_ptr<std::atomic<bool>[]> done(new std::atomic<bool>[n]);
  for (size_t i = 0; i < n; ++i) done[i].store(false, std::memory_order_relaxed);
  std::atomic<bool> stop{false};
  // Only the calling thread (worker 0) touches these.
  size_t next = 0;
  std::exception_ptr emit_error;
  auto drain = [&] {
    while (!emit_error && next < n && done[next].load(std::memory_order_acquire)) {
      try {
        emit(next);
      } catch (...) {
        emit_error = std::current_exception();
        stop.store(true, std::memory_order_relaxed);
        return;
      }
      ++next;
    }
  };
  try {
    parallel_for(n, [&](size_t i, unsigned worker) {
      if (stop.load(std::memory_order_relaxed)) return;
      fn(i, worker);
      done[i].store(true, std::memory_order_release);
      if (worker == 0) drain();
    }, lead);
  } catch (...) {
    drain();  // every item below the failing one has run
    if (emit_error) std::rethrow_exception(emit_error);
    throw;
  }
  drain();
  if (emit_error) std::rethrow_exception(emit_error);
}

namespace {

struct PoolCache {
  static constexpr size_t kMaxIdle = 4;
  std::mutex m;
  std::vector<std::unique_ptr<ThreadPool>> idle;
  pid_t pid = getpid();

  // After a fork the idle pools' threads exist only in the parent: forget them without
  // destroying them (joining a thread that is not there would hang).
  void forget_if_forked() {
    if (pid == getpid()) return;
    for (auto& p : idle) static_cast<void>(p.release());
    idle.clear();
    pid = getpid();
  }
};

// Never destroyed: at exit its threads simply end with the process, whatever order the static
// destructors run in.
PoolCache& pool_cache() {
  static PoolCache* cache = new PoolCache;
  return *cache;
}

}  // namespace

PooledThreads::PooledThreads(unsigned threads) : pid_(getpid()) {
  const unsigned n = resolve_threads(threads);
  PoolCache& c = pool_cache();
  {
    std::lock_guard<std::mutex> lk(c.m);
    c.forget_if_forked();
    for (size_t i = c.idle.size(); i-- > 0;)
      if (c.idle[i]->size() == n) {
        pool_ = std::move(c.idle[i]);
        c.idle.erase(c.idle.begin() + static_cast<ptrdiff_t>(i));
        break;
      }
  }
  if (!pool_) pool_ = std::make_unique<ThreadPool>(n);
}

PooledThreads::~PooledThreads() {
  if (pid_ != getpid()) {  // borrowed before a fork: its threads are the parent's
    static_cast<void>(pool_.release());
    return;
  }
  PoolCache& c = pool_cache();
  std::unique_ptr<ThreadPool> drop;  // destroyed (threads joined) outside the lock
  {
    std::lock_guard<std::mutex> lk(c.m);
    c.forget_if_forked();
    // Full: the pool idle longest goes (the one given back now is the likeliest to be borrowed
    // next, by the same caller's next call).
    if (c.idle.size() == PoolCache::kMaxIdle) {
      drop = std::move(c.idle.front());
      c.idle.erase(c.idle.begin());
    }
    c.idle.push_back(std::move(pool_));
  }
}

}  // namespace tenzip::detail
