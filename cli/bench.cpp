// `tenzip bench`: in-memory round trips through the one-shot API, best of several runs.
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <limits>

#include "commands.hpp"
#include "io.hpp"
#include "progress.hpp"

namespace tzcli {

namespace {

using Clock = std::chrono::steady_clock;

// Runs `fn` at least 3 times and until `min_time` seconds have passed in total; returns the
// fastest run in seconds. `check` runs after each call, untimed.
template <class Fn, class Check>
double best_of(double min_time, Fn&& fn, Check&& check) {
  double best = std::numeric_limits<double>::infinity();
  double total = 0.0;
  for (int runs = 0; runs < 3 || total < min_time; ++runs) {
    const auto t0 = Clock::now();
    fn();
    const double dt = std::chrono::duration<double>(Clock::now() - t0).count();
    check();
    total += dt;
    if (dt < best) best = dt;
  }
  return best;
}

double mbps(uint64_t bytes, double seconds) {
  return seconds > 0 ? static_cast<double>(bytes) / 1e6 / seconds : 0.0;
}

}  // namespace

int run_bench(const BenchArgs& a) {
  tenzip::CompressOptions opts;
  opts.dtype = a.dtype;
  opts.level = a.level;
  opts.lanes = a.lanes;
  opts.threads = a.threads;
  for (const auto& file : a.files) {
    const std::string name = is_stdio(file) ? "stdin" : file;
    const std::vector<uint8_t> src = read_all(file);
    std::vector<uint8_t> packed;
    // Decoding goes through Reader into a fresh, uninitialized buffer each run: the same work
    // as a one-shot decompress (index parse, allocation, page faults) minus the zero-fill that
    // std::vector's constructor would add.
    std::unique_ptr<uint8_t[]> unpacked;
    size_t unpacked_size = 0;
    try {
      const double tc = best_of(a.min_time, [&] { packed = tenzip::compress(src, opts); }, [] {});
      const double td = best_of(
          a.min_time,
          [&] {
            const tenzip::Reader reader(packed);
            unpacked_size = reader.info().decoded_size;
            unpacked.reset(new uint8_t[unpacked_size]);
            reader.decode_all({unpacked.get(), unpacked_size}, a.threads);
          },
          [&] {
            // Verify every run: a wrong result must never be reported as a speed.
            if (unpacked_size != src.size())
              fail_io(name, "round trip failed: decompressed " + std::to_string(unpacked_size) + " bytes, expected " +
                                std::to_string(src.size()));
            if (!src.empty() && std::memcmp(unpacked.get(), src.data(), src.size()) != 0) {
              size_t i = 0;
              while (unpacked[i] == src[i]) ++i;
              fail_io(name, "round trip failed: decompressed data differs at byte " + std::to_string(i));
            }
          });
      const double ratio =
          src.empty() ? std::numeric_limits<double>::quiet_NaN()
                      : static_cast<double>(packed.size()) / static_cast<double>(src.size());
      const double cs = mbps(src.size(), tc), ds = mbps(src.size(), td);
      if (a.json) {
        std::string o = "{\"file\":" + json_string(name);
        o += ",\"dtype\":" + json_string(std::string(tenzip::dtype_name(a.dtype)));
        o += ",\"threads\":" + std::to_string(a.threads);
        o += ",\"level\":" + std::to_string(a.level);
        o += std::string(",\"lanes\":") + (a.lanes ? "true" : "false");
        o += ",\"size\":" + std::to_string(src.size());
        o += ",\"compressed_size\":" + std::to_string(packed.size());
        o += ",\"ratio\":" + json_number(ratio);
        o += ",\"compress_MBps\":" + json_number(cs);
        o += ",\"decompress_MBps\":" + json_number(ds);
        o += ",\"compress_seconds\":" + json_number(tc);
        o += ",\"decompress_seconds\":" + json_number(td);
        o += ",\"verified\":true}\n";
        std::fputs(o.c_str(), stdout);
      } else {
        char r[32] = "-";
        if (!src.empty()) std::snprintf(r, sizeof r, "%.4f", ratio);
        std::printf("%s : %s -T%u -l%d%s : %s => %s, ratio %s, compress %.1f MB/s, decompress %.1f MB/s\n",
                    name.c_str(), std::string(tenzip::dtype_name(a.dtype)).c_str(), a.threads, a.level,
                    a.lanes ? " --lanes" : "",
                    human_size(src.size()).c_str(), human_size(packed.size()).c_str(), r, cs, ds);
      }
      std::fflush(stdout);
    } catch (const tenzip::Error& e) {
      throw CliError(1, name + ": " + e.what());
    }
  }
  return 0;
}

}  // namespace tzcli
