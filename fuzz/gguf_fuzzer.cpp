// Arbitrary bytes into the GGUF parser. It must either return a layout that passes check_layout
// (and has the shape a GGUF layout has) or throw tenzip::Error with corrupt_input and a "gguf: "
// message. Anything else is a finding: a crash, a sanitizer report, another exception or error
// code, or a layout check_layout refuses.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <string>
#include <vector>

#include "formats/layout.hpp"

namespace {

using namespace tenzip;

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "gguf_fuzzer finding: %s: %s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  const bool sniffed = formats::looks_like_gguf(in);
  formats::FileLayout l;
  try {
    l = formats::parse_gguf(in);
  } catch (const Error& e) {
    const std::string msg = e.what();
    if (e.code() != Errc::corrupt_input) finding("error code", std::string(errc_name(e.code())) + ": " + msg);
    if (msg.rfind("gguf: ", 0) != 0 || msg.size() <= 6) finding("error message", msg);
    return 0;
  } catch (const std::exception& e) {
    finding("exception other than tenzip::Error", e.what());
  }
  try {
    formats::check_layout(l, size);
  } catch (const Error& e) {
    finding("check_layout refuses the layout", e.what());
  }
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
