// Arbitrary bytes into the .npy and .npz parsers. Each must either return a layout that passes
// check_layout (with one region per tensor, owned by it) or throw tenzip::Error with
// corrupt_input and an "npy: " / "npz: " message. Anything else is a finding: a crash, a
// sanitizer report, another exception or error code, or a layout check_layout refuses.
#include <cstdint>
#include <span>

#include "parser_fuzz.hpp"

namespace {
constexpr const char* kTarget = "numpy_fuzzer";
[[noreturn]] void finding(const char* what, const std::string& detail) { tenzip::fuzz::finding(kTarget, what, detail); }

void check_own_regions(const tenzip::formats::FileLayout& l, const char* format) {
  if (l.format != format) finding("layout", "format is '" + l.format + "'");
  if (l.regions.size() != l.tensors.size()) finding("layout", "not one region per tensor");
  std::vector<bool> owned(l.regions.size());
  for (const auto& t : l.tensors) {
    if (owned[t.region] || t.offset != 0 || t.size != l.regions[t.region].size || l.regions[t.region].name != t.name)
      finding("layout", "tensor '" + t.name + "' does not own its region");
    owned[t.region] = true;
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  const std::span<const uint8_t> in(data, size);
  if (const auto l = fuzz::parse_checked(kTarget, "npy: ", in, formats::parse_npy)) {
    if (!formats::looks_like_npy(in)) finding("layout", "parsed, but looks_like_npy said no");
    check_own_regions(*l, "npy");
    if (l->tensors.size() > 1 || (l->tensors.size() == 1 && l->tensors[0].name != "array"))
      finding("layout", "a .npy holds one array, named 'array'");
  }
  if (const auto l = fuzz::parse_checked(kTarget, "npz: ", in, formats::parse_npz)) check_own_regions(*l, "npz");
  return 0;
}
