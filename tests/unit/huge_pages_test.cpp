// The huge-page advice for large fresh buffers (util/huge_pages.hpp): which pages it covers,
// that it leaves contents alone, that the one-shot paths around it still round-trip, and
// that Linux does back an advised buffer with huge pages where THP allows it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "container_test_util.hpp"
#include "util/huge_pages.hpp"

namespace tenzip::testing {
namespace {

using detail::AddressRange;
using detail::huge_page_interior;
using detail::kHugePage;

constexpr uintptr_t P = kHugePage;

TEST(HugePageInterior, CoversOnlyWholePagesInsideTheBuffer) {
  auto is = [](AddressRange r, uintptr_t b, uintptr_t e) { return r.begin == b && r.end == e; };
  EXPECT_TRUE(is(huge_page_interior(4 * P, 3 * P), 4 * P, 7 * P));          // aligned both ends
  EXPECT_TRUE(is(huge_page_interior(4 * P + 1, 4 * P), 5 * P, 8 * P));      // start rounds up, end down
  EXPECT_TRUE(is(huge_page_interior(4 * P - 1, 2 * P + 2), 4 * P, 6 * P));  // one byte before a boundary
  EXPECT_TRUE(is(huge_page_interior(4 * P + 1, 2 * P - 2), 0, 0));           // no whole page inside
  EXPECT_TRUE(is(huge_page_interior(4 * P, P - 1), 0, 0));
  EXPECT_TRUE(is(huge_page_interior(4 * P, 0), 0, 0));
  EXPECT_TRUE(is(huge_page_interior(0, 8 * P), 0, 0));                       // null: never advised
  EXPECT_TRUE(is(huge_page_interior(UINTPTR_MAX - P, 4 * P), 0, 0));         // wraps: not a range
  EXPECT_TRUE(is(huge_page_interior(UINTPTR_MAX - 10, 5), 0, 0));            // rounding up would wrap
}

TEST(HugePages, AdviceLeavesContentsAlone) {
  const size_t n = detail::kHugePageMinBytes + 3 * P + 12345;
  Bytes buf(n);
  for (size_t i = 0; i < n; ++i) buf[i] = static_cast<uint8_t>(i * 2654435761u >> 24);
  const Bytes copy = buf;
  detail::advise_huge_pages(buf.data() + 7, n - 7);  // an unaligned start
  detail::advise_huge_pages(buf.data(), 100);        // below the size threshold: nothing
  detail::advise_huge_pages(nullptr, n);             // never a valid range: nothing
  EXPECT_EQ(buf, copy);
}

// The one-shot and segment paths advise their destination before writing it: they must still
// round-trip bytes exactly, above the size threshold, with the advice on and off.
TEST(HugePages, LargeOneShotRoundTrips) {
  const size_t n = detail::kHugePageMinBytes + P + 7;  // odd: a tail byte after the bf16 elements
  const Bytes src = weight_bytes(DType::bf16, n, 91);
  CompressOptions opts;
  opts.dtype = DType::bf16;
  for (const char* off : {"0", "1"}) {
    setenv("TENZIP_NO_HUGE_PAGES", off, 1);
    const Bytes packed = compress(src, opts);
    EXPECT_EQ(decompress(packed), src) << "TENZIP_NO_HUGE_PAGES=" << off;
    const Reader r(packed);
    Bytes seg(r.info().segments[0].decoded_size);
    r.decode_segment(0, seg);
    EXPECT_TRUE(std::equal(seg.begin(), seg.end(), src.begin())) << "TENZIP_NO_HUGE_PAGES=" << off;
  }
  unsetenv("TENZIP_NO_HUGE_PAGES");
}

#if defined(__linux__)
std::string read_file(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// kB of huge pages backing the mapping that holds `addr` (/proc/self/smaps), -1 if not found.
long anon_huge_kb(const void* addr) {
  std::istringstream smaps(read_file("/proc/self/smaps"));
  const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2 && line.find(':') > line.find(' ')) {
      inside = lo <= a && a < hi;
    } else if (inside && line.rfind("AnonHugePages:", 0) == 0) {
      return std::strtol(line.c_str() + 14, nullptr, 10);
    }
  }
  return -1;
}

// Where THP is in "madvise" mode (this project's CI machines), only the advice gets huge
// pages, so this checks that the advice is given and reaches the kernel.
TEST(HugePages, AdvisedFreshMemoryGetsHugePages) {
  const std::string mode = read_file("/sys/kernel/mm/transparent_hugepage/enabled");
  if (mode.find("[madvise]") == std::string::npos) GTEST_SKIP() << "THP mode is not madvise: " << mode;
  if (const char* off = std::getenv("TENZIP_NO_HUGE_PAGES"); off && off[0] == '1')
    GTEST_SKIP() << "TENZIP_NO_HUGE_PAGES=1 turns the advice off";
  const size_t n = 16 * P;
  void* m = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(m, MAP_FAILED);
  auto* p = static_cast<uint8_t*>(m);
  detail::advise_huge_pages(p, n);
  for (size_t i = 0; i < n; i += 4096) p[i] = 1;  // first writes: the faults take huge pages
  const long kb = anon_huge_kb(p + n / 2);
  munmap(m, n);
  // The interior is at least 15 pages; the kernel may fall back to small pages for some if
  // memory is fragmented, but not for all of them on a machine with free memory.
  EXPECT_GT(kb, 0) << "no huge pages in an advised, written 32 MiB mapping";
}
#endif

}  // namespace
}  // namespace tenzip::testing
