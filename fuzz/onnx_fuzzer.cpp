// Arbitrary bytes into the ONNX parser (and the protobuf wire reader under it). Findings: a
// crash, a sanitizer report, a hang, an exception other than tenzip::Error(corrupt_input), an
// empty message, a layout that check_layout rejects, or a sniff that throws.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>

#include "formats/layout.hpp"
#include "tenzip/tenzip.hpp"

namespace {

[[noreturn]] void finding(const char* what, const char* detail) {
  std::fprintf(stderr, "onnx_fuzzer finding: %s: %s\n", what, detail);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  const std::span<const uint8_t> in(data, size);
  (void)formats::looks_like_onnx(in);  // noexcept: a throw would terminate
  formats::FileLayout layout;
  try {
    layout = formats::parse_onnx(in);
  } catch (const Error& e) {
    if (e.code() != Errc::corrupt_input) finding("parse_onnx", e.what());
    if (std::strlen(e.what()) == 0) finding("parse_onnx", "empty error message");
    return 0;
  }
  try {
    formats::check_layout(layout, size);
  } catch (const Error& e) {
    finding("check_layout", e.what());
  }
  if (layout.format != "onnx") finding("parse_onnx", "format is not \"onnx\"");
  if (layout.regions.size() != layout.tensors.size()) finding("parse_onnx", "not one region per tensor");
  return 0;
}
