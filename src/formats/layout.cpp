#include "formats/layout.hpp"

#include <algorithm>
#include <cstring>
#include <string>

namespace tenzip::formats {

namespace {
[[noreturn]] void bad(const FileLayout& l, const std::string& what) {
  throw Error(Errc::corrupt_input, (l.format.empty() ? std::string("model file") : l.format) + ": " + what);
}
}  // namespace

void check_layout(const FileLayout& l, uint64_t file_size) {
  uint64_t prev_end = 0;
  for (size_t i = 0; i < l.regions.size(); ++i) {
    const Region& r = l.regions[i];
    const std::string who = "region " + std::to_string(i) + " ('" + r.name + "')";
    if (!dtype_is_valid(static_cast<uint8_t>(r.dtype))) bad(l, who + " has an invalid dtype");
    if (r.offset > file_size || r.size > file_size - r.offset)
      bad(l, who + " [" + std::to_string(r.offset) + ", +" + std::to_string(r.size) + ") lies outside the file (" +
                 std::to_string(file_size) + " bytes)");
    if (r.offset < prev_end) bad(l, who + " overlaps the region before it or is out of order");
    if (r.size % dtype_size(r.dtype) != 0)
      bad(l, who + ": " + std::to_string(r.size) + " bytes is not a whole number of " +
                 std::string(dtype_name(r.dtype)) + " elements");
    prev_end = r.offset + r.size;
  }
  for (const Tensor& t : l.tensors) {
    const std::string who = "tensor '" + t.name + "'";
    if (t.region >= l.regions.size()) bad(l, who + " points to a missing region");
    const Region& r = l.regions[t.region];
    if (t.offset > r.size) bad(l, who + " starts past the end of its region");
    if (t.strides.empty()) {
      if (t.size > r.size - t.offset) bad(l, who + " extends past the end of its region");
    } else if (t.strides.size() != t.shape.size()) {
      bad(l, who + " has " + std::to_string(t.strides.size()) + " strides for " + std::to_string(t.shape.size()) +
                 " dimensions");
    } else {
      // The last byte a strided view touches must lie inside the region (128-bit: no overflow),
      // and its contiguous copy is exactly its elements: the view is refused here, not when
      // it is gathered.
      if (t.element_size == 0) bad(l, who + " is strided but has no element size");
      constexpr unsigned __int128 kOver = static_cast<unsigned __int128>(1) << 64;  // more than any size
      unsigned __int128 last = 0, numel = 1;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        numel = std::min(numel * t.shape[d], kOver);
        if (t.shape[d] != 0) last += static_cast<unsigned __int128>(t.shape[d] - 1) * t.strides[d];
      }
      const bool empty = numel == 0;
      if (numel * t.element_size != t.size)
        bad(l, who + ": size " + std::to_string(t.size) + " is not its element count times " +
                   std::to_string(t.element_size) + " bytes");
      const unsigned __int128 end = t.offset + (last + 1) * t.element_size;
      if (!empty && end > r.size) bad(l, who + ": its strides reach past the end of its region");
    }
  }
}

std::vector<uint8_t> gather_tensor(std::span<const uint8_t> region, const Tensor& t) {
  std::vector<uint8_t> out(t.size);
  gather_tensor_into(region, t, out);
  return out;
}

void gather_tensor_into(std::span<const uint8_t> region, const Tensor& t, std::span<uint8_t> out) {
  const auto fail = [&](const std::string& what) { throw Error(Errc::corrupt_input, "tensor '" + t.name + "': " + what); };
  if (out.size() != t.size)
    throw Error(Errc::invalid_argument, "gather_tensor_into: destination holds " + std::to_string(out.size()) +
                                            " bytes, tensor '" + t.name + "' has " + std::to_string(t.size));
  if (t.offset > region.size()) fail("starts past the end of its region");
  const uint8_t* base = region.data() + t.offset;
  const uint64_t room = region.size() - t.offset;
  if (t.strides.empty()) {
    if (t.size > room) fail("extends past the end of its region");
    std::copy(base, base + t.size, out.begin());
    return;
  }
  const size_t nd = t.shape.size();
  if (t.strides.size() != nd) fail(std::to_string(t.strides.size()) + " strides for " + std::to_string(nd) + " dimensions");
  const uint64_t esize = t.element_size;
  if (esize == 0) fail("is strided but has no element size");
  unsigned __int128 numel = 1;
  for (const uint64_t d : t.shape) {
    numel *= d;
    if (numel > UINT64_MAX) fail("its shape overflows 64 bits");
  }
  if (numel * esize != t.size)
    fail("size " + std::to_string(t.size) + " is not its element count times " + std::to_string(esize) + " bytes");
  if (numel == 0) return;
  unsigned __int128 last = 0;
  for (size_t d = 0; d < nd; ++d) last += static_cast<unsigned __int128>(t.shape[d] - 1) * t.strides[d];
  if ((last + 1) * esize > room) fail("its strides reach past the end of its region");

  // Walk the index odometer over all but the last dimension; copy the last as one run when it
  // is contiguous.
  uint8_t* dst = out.data();
  const uint64_t inner = nd ? t.shape[nd - 1] : 1;
  const uint64_t inner_stride = nd ? t.strides[nd - 1] : 1;
  std::vector<uint64_t> idx(nd, 0);
  uint64_t pos = 0;  // element offset of idx, outer dimensions only
  for (;;) {
    const uint8_t* src = base + pos * esize;
    if (inner_stride == 1) {
      std::memcpy(dst, src, inner * esize);
      dst += inner * esize;
    } else {
      for (uint64_t i = 0; i < inner; ++i, dst += esize) std::memcpy(dst, src + i * inner_stride * esize, esize);
    }
    size_t d = nd >= 1 ? nd - 1 : 0;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++idx[d] < t.shape[d]) {
        pos += t.strides[d];
        break;
      }
      pos -= (t.shape[d] - 1) * t.strides[d];
      idx[d] = 0;
    }
  }
}

}  // namespace tenzip::formats
