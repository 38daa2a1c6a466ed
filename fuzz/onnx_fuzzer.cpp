// Arbitrary bytes into the ONNX parser (and the protobuf wire reader under it). Findings: a
// crash, a sanitizer report, a hang, an exception other than tenzip::Error(corrupt_input), an
// empty message, a layout that check_layout rejects, or a sniff that throws.
#include <cstdint>
#include <span>

#include "parser_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  constexpr const char* kTarget = "onnx_fuzzer";
  const std::span<const uint8_t> in(data, size);
  (void)formats::looks_like_onnx(in);  // noexcept: a throw would terminate
  const auto parsed = fuzz::parse_checked(kTarget, "", in, formats::parse_onnx);
  if (!parsed) return 0;
  const formats::FileLayout& layout = *parsed;
  if (layout.format != "onnx") fuzz::finding(kTarget, "layout", "format is not \"onnx\"");
  if (layout.regions.size() != layout.tensors.size()) fuzz::finding(kTarget, "layout", "not one region per tensor");
  return 0;
}
