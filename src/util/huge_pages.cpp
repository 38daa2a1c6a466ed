#include "util/huge_pages.hpp"

#include <cstdlib>
#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace tenzip::detail {

void advise_huge_pages(void* p, size_t n) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (n < kHugePageMinBytes) return;
  const char* off = std::getenv("TENZIP_NO_HUGE_PAGES");  // read per call: benchmarks A/B it
  if (off && off[0] == '1') return;
  const AddressRange r = huge_page_interior(reinterpret_cast<uintptr_t>(p), n);
  if (r.end > r.begin) (void)madvise(reinterpret_cast<void*>(r.begin), r.end - r.begin, MADV_HUGEPAGE);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace tenzip::detail
