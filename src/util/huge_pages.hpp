// Transparent huge pages for large buffers that are about to be written whole.
//
// Fresh memory is mapped on its first write, one 4 KiB page per fault, each page zeroed by the
// kernel. Decoding tens of MB into such a buffer (a one-shot decompress, a Python bytes or
// array object) ran at half the speed of decoding into memory already mapped (fp32 corpus:
// ~1.5 against ~4.2 GB/s). With 2 MiB pages there are 512 times fewer faults. Linux maps them
// for a range only when asked if THP is in "madvise" mode (as on this project's machines); in
// "always" mode the advice changes nothing, in "never" it is ignored, and a process that set
// PR_SET_THP_DISABLE keeps its own choice. TENZIP_NO_HUGE_PAGES=1 turns the advice off.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tenzip::detail {

inline constexpr size_t kHugePage = size_t{2} << 20;
// Smaller buffers are left alone: the advice would cover at most a page or two of them.
inline constexpr size_t kHugePageMinBytes = size_t{8} << 20;

// The huge-page-aligned part of [p, p + n): only pages wholly inside the buffer are advised,
// so that no memory outside it is ever backed or zeroed on its account. Empty if none.
struct AddressRange {
  uintptr_t begin = 0, end = 0;
};
constexpr AddressRange huge_page_interior(uintptr_t p, size_t n) noexcept {
  const uintptr_t mask = ~uintptr_t{kHugePage - 1};
  if (n > UINTPTR_MAX - p) return {};  // not a valid range of addresses
  const uintptr_t begin = p > UINTPTR_MAX - (kHugePage - 1) ? 0 : (p + kHugePage - 1) & mask;
  const uintptr_t end = (p + n) & mask;
  return begin != 0 && end > begin ? AddressRange{begin, end} : AddressRange{};
}

// Asks the kernel to back the interior of [p, p + n) with huge pages, if n >= kHugePageMinBytes.
// Advice only: errors (an unsupported mapping, a kernel without THP) are ignored, and the
// memory's contents are unchanged.
void advise_huge_pages(void* p, size_t n) noexcept;

}  // namespace tenzip::detail
