// Progress line on stderr for long runs, and human-readable sizes for summaries.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace tzcli {

// "12.3 MB" (decimal units, like the MB/s figures).
std::string human_size(uint64_t bytes);

// Shows "label  done / total  (pct)  MB/s" on stderr, redrawn at most every 100 ms, only
// when stderr is a terminal, not silenced, and the run is long: more than 1 s so far, or an
// input larger than 64 MiB. Call update() from the thread that does the I/O.
class Progress {
 public:
  Progress(std::string label, std::optional<uint64_t> total, bool enabled);
  ~Progress();  // clears the line
  void update(uint64_t done);
  void finish();  // clears the line (idempotent)

 private:
  using Clock = std::chrono::steady_clock;
  std::string label_;
  std::optional<uint64_t> total_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace tzcli
