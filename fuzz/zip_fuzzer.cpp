// Arbitrary bytes into the ZIP directory reader. Findings: a crash, a sanitizer report, an
// exception other than tenzip::Error(corrupt_input) with a message, or a directory that breaks
// its own promises (entries outside the file or the space before the central directory,
// overlapping entries, a name find() cannot find).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

#include "formats/zip.hpp"
#include "parser_fuzz.hpp"
#include "tenzip/tenzip.hpp"

namespace {

[[noreturn]] void finding(const char* what) { tenzip::fuzz::finding("zip_fuzzer", "directory", what); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip;
  using namespace tenzip::formats;
  const std::span<const uint8_t> in(data, size);
  zip::Directory d;
  try {
    d = zip::read_directory(in, "zip");
  } catch (const Error& e) {
    if (e.code() != Errc::corrupt_input) finding(e.what());
    if (std::strlen(e.what()) == 0) finding("empty error message");
    return 0;
  }
  if (d.cd_offset > size || d.cd_size > size - d.cd_offset) finding("central directory outside the file");
  std::vector<const zip::Entry*> by_offset;
  for (const auto& e : d.entries) {
    if (!(e.header_offset + 30 <= e.data_offset && e.data_offset <= e.end_offset && e.end_offset <= d.cd_offset))
      finding("entry outside the space before the central directory");
    if (e.end_offset - e.data_offset < e.compressed_size) finding("entry data longer than its extent");
    if (e.stored() && e.compressed_size != e.uncompressed_size) finding("stored entry changes size");
    if (d.find(e.name) != &e) finding("find() does not return the entry by its name");
    by_offset.push_back(&e);
  }
  std::sort(by_offset.begin(), by_offset.end(),
            [](const zip::Entry* a, const zip::Entry* b) { return a->header_offset < b->header_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i)
    if (by_offset[i]->header_offset < by_offset[i - 1]->end_offset) finding("overlapping entries");
  return 0;
}
