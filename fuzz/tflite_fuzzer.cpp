// Arbitrary bytes into the TFLite parser (its FlatBuffer reader). Findings: a
// crash, a sanitizer report, a hang, an exception other than tenzip::Error(corrupt_input), an
// empty message, a layout that check_layout rejects, or a sniff that throws.
#include <cstdint>
#include <span>

#include "parser_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  constexpr const char* kTarget = "tflite_fuzzer";
  const std::span<const uint8_t> in(data, size);
  (void)formats::looks_like_tflite(in);  // noexcept: a throw would terminate
  const auto parsed = fuzz::parse_checked(kTarget, "", in, formats::parse_tflite);
  if (!parsed) return 0;
  const formats::FileLayout& layout = *parsed;
  if (layout.format != "tflite") fuzz::finding(kTarget, "layout", "format is not \"tflite\"");
  for (const auto& t : layout.tensors)
    if (t.offset != 0 || t.size != layout.regions[t.region].size) fuzz::finding(kTarget, "layout", "a tensor is not its whole buffer");
  return 0;
}
