// Arbitrary bytes into the whole PyTorch zip / TorchScript parse. Findings: a crash, a sanitizer
// report, an exception other than tenzip::Error(corrupt_input) with a message, a layout that
// check_layout rejects, a region that is not a stored entry's data, or a tensor that
// gather_tensor cannot read.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "formats/layout.hpp"
#include "formats/pytorch.hpp"
#include "formats/zip.hpp"
#include "parser_fuzz.hpp"
#include "tenzip/tenzip.hpp"

namespace {

constexpr uint64_t kMaxGathered = uint64_t{64} << 20;  // views can expand (stride 0): gather at most this much

[[noreturn]] void finding(const std::string& what) { tenzip::fuzz::finding("pytorch_fuzzer", "layout", what); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  using namespace tenzip::formats;
  const std::span<const uint8_t> in(data, size);
  (void)looks_like_zip(in);
  const auto parsed = tenzip::fuzz::parse_checked("pytorch_fuzzer", "", in, parse_pytorch_zip);
  if (!parsed) return 0;
  const FileLayout& l = *parsed;
  if (l.format != "pytorch-zip" && l.format != "torchscript") finding("unexpected format " + l.format);
  // Every region is exactly the data of a stored entry (the parse succeeded, so the directory reads).
  const zip::Directory d = zip::read_directory(in, "zip");
  for (const Region& r : l.regions) {
    bool found = false;
    for (const auto& e : d.entries) found |= e.stored() && e.data_offset == r.offset && e.compressed_size == r.size;
    if (!found) finding("region '" + r.name + "' is not a stored entry's data");
  }
  uint64_t gathered = 0;
  for (size_t i = 0; i < l.tensors.size(); ++i) {
    if (l.tensors[i].size > kMaxGathered - gathered) continue;
    try {
      const auto b = gather_tensor(in, l, i);
      if (b.size() != l.tensors[i].size) finding("gather_tensor size differs for '" + l.tensors[i].name + "'");
      gathered += b.size();
    } catch (const Error& e) {
      finding(std::string("gather_tensor fails on a checked layout: ") + e.what());
    }
  }
  return 0;
}
