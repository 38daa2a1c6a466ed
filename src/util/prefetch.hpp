// Prefetcher: touches memory the caller is about to write (and, optionally, read), a few cache
// lines at a time, from inside a decoder's loop. A chunk's merge writes its whole output
// (128-256 KiB) to memory that is usually not in cache, and its stores then wait for each
// line to come from DRAM; touched while the exponents decode, the lines arrive during the
// decoder's compute instead. The same holds for the chunk's input beyond what the decoder
// has reached: the hardware prefetchers follow a few sequential streams, not the five or
// more a chunk's decode reads at once.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tenzip::detail {

class Prefetcher {
 public:
  Prefetcher() = default;  // touches nothing
  Prefetcher(const void* p, size_t bytes) noexcept
      : next_(static_cast<const char*>(p)), end_(static_cast<const char*>(p) + bytes) {}
  // Also reads `rbytes` from `r` ahead (input the caller reads after the decoder's loop).
  void also_read(const void* r, size_t rbytes) noexcept {
    rnext_ = static_cast<const char*>(r);
    rend_ = rnext_ + rbytes;
  }

  // The decoder says how many times it will call step() at least: the range is then spread
  // over that many calls (and touched early if it calls more often).
  void plan(size_t calls) noexcept {
    const size_t lines = (static_cast<size_t>(end_ - next_) + kLine - 1) / kLine;
    lines_per_step_ = calls == 0 ? lines : (lines + calls - 1) / calls;
    const size_t rlines = (static_cast<size_t>(rend_ - rnext_) + kLine - 1) / kLine;
    rlines_per_step_ = calls == 0 ? rlines : (rlines + calls - 1) / calls;
  }
  // Touches the next lines. Never past the range: a prefetch cannot fault, but a line beyond
  // it would be a wasted read.
  void step() noexcept {
    for (size_t k = 0; k < lines_per_step_ && next_ < end_; ++k) {
      __builtin_prefetch(next_, 1, 3);
      next_ += kLine;
    }
    for (size_t k = 0; k < rlines_per_step_ && rnext_ < rend_; ++k) {
      __builtin_prefetch(rnext_, 0, 3);
      rnext_ += kLine;
    }
  }
  bool done() const noexcept { return next_ >= end_; }

 private:
  static constexpr size_t kLine = 64;
  const char* next_ = nullptr;
  const char* end_ = nullptr;
  size_t lines_per_step_ = 0;
  const char* rnext_ = nullptr;
  const char* rend_ = nullptr;
  size_t rlines_per_step_ = 0;
};

}  // namespace tenzip::detail
