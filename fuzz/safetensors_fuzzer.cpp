// Arbitrary bytes into the safetensors parser. It must either return a layout that passes
// check_layout (and has the shape a safetensors layout has) or throw tenzip::Error with
// corrupt_input and a "safetensors: " message. Anything else is a finding: a crash, a sanitizer
// report, another exception or error code, or a layout check_layout refuses.
#include <cstdint>
#include <span>

#include "parser_fuzz.hpp"

namespace {
constexpr const char* kTarget = "safetensors_fuzzer";
[[noreturn]] void finding(const char* what, const std::string& detail) { tenzip::fuzz::finding(kTarget, what, detail); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  const std::span<const uint8_t> in(data, size);
  const bool sniffed = formats::looks_like_safetensors(in);
  const auto parsed = fuzz::parse_checked(kTarget, "safetensors: ", in, formats::parse_safetensors);
  if (!parsed) return 0;
  const formats::FileLayout& l = *parsed;
  // A safetensors layout: one region per tensor, tiling the data section to the end of the file.
  if (!sniffed) finding("layout", "parsed, but looks_like_safetensors said no");
  if (l.format != "safetensors") finding("layout", "format is '" + l.format + "'");
  if (l.regions.size() != l.tensors.size()) finding("layout", "not one region per tensor");
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    const auto& t = l.tensors[i];
    if (t.region != i || t.offset != 0 || t.size != l.regions[i].size || l.regions[i].name != t.name)
      finding("layout", "tensor '" + t.name + "' does not own its region");
    if (i + 1 < l.regions.size() && l.regions[i].offset + l.regions[i].size != l.regions[i + 1].offset)
      finding("layout", "a gap between regions after '" + t.name + "'");
  }
  if (!l.regions.empty() && l.regions.back().offset + l.regions.back().size != size)
    finding("layout", "the regions do not reach the end of the file");
  return 0;
}
