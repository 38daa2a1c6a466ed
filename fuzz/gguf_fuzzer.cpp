// Arbitrary bytes into the GGUF parser. It must either return a layout that passes check_layout
// (and has the shape a GGUF layout has) or throw tenzip::Error with corrupt_input and a "gguf: "
// message. Anything else is a finding: a crash, a sanitizer report, another exception or error
// code, or a layout check_layout refuses.
#include <cstdint>
#include <span>
#include <vector>

#include "parser_fuzz.hpp"

namespace {
constexpr const char* kTarget = "gguf_fuzzer";
[[noreturn]] void finding(const char* what, const std::string& detail) { tenzip::fuzz::finding(kTarget, what, detail); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  const std::span<const uint8_t> in(data, size);
  const bool sniffed = formats::looks_like_gguf(in);
  const auto parsed = fuzz::parse_checked(kTarget, "gguf: ", in, formats::parse_gguf);
  if (!parsed) return 0;
  const formats::FileLayout& l = *parsed;
  // A GGUF layout: one region per tensor, each tensor owning all of its region.
  if (!sniffed) finding("layout", "parsed, but looks_like_gguf said no");
  if (l.format != "gguf") finding("layout", "format is '" + l.format + "'");
  if (l.regions.size() != l.tensors.size()) finding("layout", "not one region per tensor");
  std::vector<bool> owned(l.regions.size());
  for (const auto& t : l.tensors) {
    if (t.region >= l.regions.size() || owned[t.region]) finding("layout", "tensor '" + t.name + "' shares a region");
    owned[t.region] = true;
    const auto& r = l.regions[t.region];
    if (t.offset != 0 || t.size != r.size || r.name != t.name)
      finding("layout", "tensor '" + t.name + "' does not own its region");
    if (t.shape.size() > 4) finding("layout", "tensor '" + t.name + "' has more than 4 dims");
  }
  return 0;
}
