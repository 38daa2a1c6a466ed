// Prefetcher: touches memory the caller is about to write, a few cache lines at a time, from
// inside a decoder's loop. A chunk's merge writes its whole output (128-256 KiB) to memory
// that is usually not in cache, and its stores then wait for each line to come from DRAM;
// touched while the exponents decode, the lines arrive during the decoder's compute instead.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tenzip::detail {

class Prefetcher {
 public:
  Prefetcher() = default;  // touches nothing
  Prefetcher(const void* p, size_t bytes) noexcept
      : next_(static_cast<const char*>(p)), end_(static_cast<const char*>(p) + bytes) {}

  // The decoder says how many times it will call step() at least: the range is then spread
  // over that many calls (and touched early if it calls more often).
  void plan(size_t calls) noexcept {
    const size_t lines = (static_cast<size_t>(end_ - next_) + kLine - 1) / kLine;
    lines_per_step_ = calls == 0 ? lines : (lines + calls - 1) / calls;
  }
  // Touches the next lines. Never past the range: a prefetch cannot fault, but a line beyond
  // it would be a wasted read.
  void step() noexcept {
    for (size_t k = 0; k < lines_per_step_ && next_ < end_; ++k) {
      __builtin_prefetch(next_, 1, 3);
      next_ += kLine;
    }
  }
  bool done() const noexcept { return next_ >= end_; }

 private:
  static constexpr size_t kLine = 64;
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  size_t lines_per_step_ = 0;
};

}  // namespace tenzip::detail
