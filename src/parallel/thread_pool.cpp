#include "parallel/thread_pool.hpp"

#include <algorithm>
#include <atomic>
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

struct ThreadPool::State {
  std::mutex m;
  std::condition_variable cv_work;
  std::condition_variable cv_done;
  uint64_t generation = 0;
  bool stop = false;
  unsigned busy = 0;  // background workers still inside the current generation

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
      s.stop = true;
    }
    s.cv_work.notify_all();
    for (auto& t : s.threads) t.join();
    s.threads.clear();
    s.stop = false;
    throw;
  }
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lk(st_->m);
    st_->stop = true;
  }
  st_->cv_work.notify_all();
  for (auto& t : st_->threads) t.join();
}

void ThreadPool::worker_loop(unsigned worker) {
  State& s = *st_;
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> lk(s.m);
      s.cv_work.wait(lk, [&] { return s.stop || s.generation != seen; });
      if (s.stop) return;
      seen = s.generation;
    }
    s.run(worker);
    {
      std::lock_guard<std::mutex> lk(s.m);
      if (--s.busy == 0) s.cv_done.notify_one();
    }
  }
}

void ThreadPool::parallel_for(size_t n, const Fn& fn) {
  if (n == 0) return;
  State& s = *st_;
  s.fn = &fn;
  s.n = n;
  s.next.store(0);
  s.fail_index.store(SIZE_MAX);
  s.error = nullptr;
  const bool wake = size_ > 1 && n > 1;  // a single item is cheaper on the calling thread
  if (wake) {
    start_threads();
    {
      std::lock_guard<std::mutex> lk(s.m);
      s.busy = size_ - 1;
      ++s.generation;
    }
    s.cv_work.notify_all();
  }
  s.run(0);
  if (wake) {
    std::unique_lock<std::mutex> lk(s.m);
    s.cv_done.wait(lk, [&] { return s.busy == 0; });
  }
  s.fn = nullptr;
  if (s.error) std::rethrow_exception(s.error);
}

void ThreadPool::parallel_for_ordered(size_t n, const Fn& fn, const std::function<void(size_t)>& emit) {
  if (n == 0) return;
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
    });
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
    if (c.idle.size() < PoolCache::kMaxIdle) c.idle.push_back(std::move(pool_));
    else drop = std::move(pool_);
  }
}

}  // namespace tenzip::detail
