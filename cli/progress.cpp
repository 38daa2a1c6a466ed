// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include "progress.hpp"

#include <unistd.h>

#include <cstdio>

#include "io.hpp"

namespace tzcli {

std::string human_size(uint64_t bytes) {
  char buf[64];
  const double b = static_cast<double>(bytes);
  if (bytes < 1000) std::snprintf(buf, sizeof buf, "%llu B", static_cast<unsigned long long>(bytes));
  else if (b < 1e6) std::snprintf(buf, sizeof buf, "%.2f KB", b / 1e3);
  else if (b < 1e9) std::snprintf(buf, sizeof buf, "%.2f MB", b / 1e6);
  else std::snprintf(buf, sizeof buf, "%.2f GB", b / 1e9);
  return buf;
}

namespace {
constexpr uint64_t kBigInput = uint64_t{64} << 20;
}

Progress::Progress(std::string label, std::optional<uint64_t> total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && stderr_is_terminal()) {
  start_ = last_draw_ = Clock::now();
}

Progress::~Progress() { finish(); }

void Progress::update(uint64_t done) {
  if (!enabled_) return;
  const auto now = Clock::now();
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const bool big = total_ && *total_ > kBigInput;
  if (!shown_ && !big && elapsed < 1.0) return;
  if (shown_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  shown_ = true;
  const double mbps = elapsed > 0 ? static_cast<double>(done) / 1e6 / elapsed : 0.0;
  char line[256];
  if (total_ && *total_ > 0) {
    std::snprintf(line, sizeof line, "\r\033[K%s  %s / %s  (%.0f%%)  %.1f MB/s", label_.c_str(),
                  human_size(done).c_str(), human_size(*total_).c_str(),
                  100.0 * static_cast<double>(done) / static_cast<double>(*total_), mbps);
  } else {
    std::snprintf(line, sizeof line, "\r\033[K%s  %s  %.1f MB/s", label_.c_str(), human_size(done).c_str(), mbps);
  }
  std::fputs(line, stderr);
  std::fflush(stderr);
}

void Progress::finish() {
  if (shown_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    shown_ = false;
  }
  enabled_ = false;
}

}  // namespace tzcli
