#include "formats/layout.hpp"

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
      // The last byte a strided view touches must lie inside the region (128-bit: no overflow).
      if (t.element_size == 0) bad(l, who + " is strided but has no element size");
      unsigned __int128 last = 0;
      bool empty = false;
      for (size_t d = 0; d < t.shape.size(); ++d) {
        if (t.shape[d] == 0) empty = true;
        else last += static_cast<unsigned __int128>(t.shape[d] - 1) * t.strides[d];
      }
      const unsigned __int128 end = t.offset + (last + 1) * t.element_size;
      if (!empty && end > r.size) bad(l, who + ": its strides reach past the end of its region");
    }
  }
}

std::vector<uint8_t> gather_tensor(std::span<const uint8_t> region, const Tensor& t) {
  if (t.strides.empty()) {
    if (t.offset > region.size() || t.size > region.size() - t.offset)
      throw Error(Errc::corrupt_input, "tensor '" + t.name + "' extends past its region");
    return {region.begin() + static_cast<ptrdiff_t>(t.offset),
            region.begin() + static_cast<ptrdiff_t>(t.offset + t.size)};
  }
  const size_t es = t.element_size;
  uint64_t n = 1;
  for (uint64_t d : t.shape) n *= d;  // check_layout bounded every index, so no overflow in range
  if (es == 0 || n * es != t.size) throw Error(Errc::corrupt_input, "tensor '" + t.name + "': size disagrees with shape");
  std::vector<uint8_t> out(t.size);
  if (n == 0) return out;
  // Odometer over the indices, innermost fastest; `src` is the element's byte offset in the region.
  const size_t rank = t.shape.size();
  std::vector<uint64_t> idx(rank, 0);
  uint64_t src = t.offset;
  for (uint64_t k = 0; k < n; ++k) {
    if (src > region.size() || es > region.size() - src)
      throw Error(Errc::corrupt_input, "tensor '" + t.name + "': a strided element lies outside its region");
    std::memcpy(out.data() + k * es, region.data() + src, es);
    for (size_t d = rank; d-- > 0;) {
      if (++idx[d] < t.shape[d]) {
        src += t.strides[d] * es;
        break;
      }
      src -= (t.shape[d] - 1) * t.strides[d] * es;
      idx[d] = 0;
    }
  }
  return out;
}

}  // namespace tenzip::formats
