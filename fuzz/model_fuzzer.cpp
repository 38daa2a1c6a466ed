// Arbitrary bytes into the model-container reader: the tensor directory (model metadata),
// per-tensor extraction (strided views gathered) and whole-file decompression with checkpoint
// deltas undone against a base file.
//
// Input: u32 LE base length L, then L bytes of base file, then the container (L is clamped to
// what is there). The seeds put a real base in front of delta containers, so that mutations
// reach the delta paths past the base's hash checks, and hold their directories as plain JSON
// (FORMAT.md section 13 allows it), so that mutations change the JSON, not a zstd frame.
//
// Findings: a crash, a sanitizer report, an exception other than tenzip::Error, an error with
// Errc::internal (or invalid_argument where no base is involved), and disagreements: the
// directory's answer to "needs a base?" against model_metadata_needs_base; whole-file decoding
// against tenzip::decompress (non-delta containers); every tensor's extract() against the same
// tensor gathered from the whole decoded file.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "container/format.hpp"
#include "formats/layout.hpp"
#include "model/metadata.hpp"
#include "tenzip/model.hpp"
#include "tenzip/tenzip.hpp"

namespace {

using namespace tenzip;

constexpr uint64_t kMaxDecoded = uint64_t{64} << 20;  // skip containers that claim more than this
constexpr uint64_t kMaxTensor = uint64_t{16} << 20;   // and tensors larger than this
constexpr size_t kMaxTensors = 256;                   // extract at most this many per input

[[noreturn]] void finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "model_fuzzer finding: %s: %s\n", what, detail.c_str());
  std::abort();
}

// Runs f; its result, or nullopt if it threw a tenzip::Error of an input-error kind.
// invalid_argument is one only for calls given a base file (a wrong base is the caller's input).
template <class F>
auto guarded(const char* path, bool base_involved, F&& f) -> std::optional<decltype(f())> {
  try {
    return f();
  } catch (const Error& e) {
    if (e.code() == Errc::internal || (e.code() == Errc::invalid_argument && !base_involved))
      finding(path, std::string(errc_name(e.code())) + ": " + e.what());
    if (std::strlen(e.what()) == 0) finding(path, "empty error message");
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  uint32_t base_len = 0;
  std::memcpy(&base_len, data, 4);  // little-endian hosts only (as the library)
  base_len = static_cast<uint32_t>(std::min<size_t>(base_len, size - 4));
  const std::span<const uint8_t> base(data + 4, base_len);
  // The index checksum would refuse almost every change to the directory (it lives in the
  // index), so the footer's checksum is recomputed: the container layer's own checks are
  // decode_fuzzer's; this target is about what a well-sealed container may still claim.
  std::vector<uint8_t> sealed(data + 4 + base_len, data + size);
  if (sealed.size() >= detail::kFooterSize) {
    uint8_t* footer = sealed.data() + sealed.size() - detail::kFooterSize;
    const uint64_t at = detail::load_u64(footer), n = detail::load_u64(footer + 8);
    const uint64_t room = sealed.size() - detail::kFooterSize;
    if (at <= room && n <= room - at) detail::store_u64(footer + 16, detail::xxh3({sealed.data() + at, n}));
  }
  const std::span<const uint8_t> in(sealed);
  const unsigned threads = in.empty() ? 1 : 1 + in.back() % 2;

  const auto reader = guarded("ModelReader", false, [&] { return std::make_unique<ModelReader>(in); });
  if (!reader) return 0;
  const ModelReader& mr = **reader;
  const ContainerInfo& info = mr.reader().info();
  if (info.decoded_size > kMaxDecoded) return 0;

  if (mr.needs_base() != model_metadata_needs_base(info.metadata))
    finding("needs_base", "ModelReader and model_metadata_needs_base disagree");
  // The reader validated the directory, so decoding it again must give the same answer.
  const std::optional<model::ModelMeta> meta = model::decode_metadata(info);
  if (meta.has_value() != mr.is_model() || (meta && meta->tensors.size() != mr.tensors().size()))
    finding("directory", "decode_metadata and ModelReader disagree");

  const bool delta = mr.needs_base();
  const auto whole = guarded("ModelReader::decompress", delta, [&] {
    std::vector<uint8_t> out;
    mr.decompress([&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, base, threads);
    return out;
  });
  if (whole && whole->size() != mr.file_size()) finding("ModelReader::decompress", "wrong size");
  if (whole && !delta) {
    // Without deltas the segments in order are the file: plain decompression must agree.
    const auto plain = guarded("decompress", false, [&] { return decompress(in, threads); });
    if (!plain) finding("paths", "ModelReader::decompress succeeds where decompress fails");
    if (*plain != *whole) finding("paths", "ModelReader::decompress and decompress differ");
  }

  // A range picked from the input's own bytes reads as that part of the whole file (deltas
  // undone against the base too, once the whole file decoded against it).
  if (whole && !whole->empty()) {
    const uint64_t a = (data[size - 1] * 257u + data[size - 2]) % whole->size();
    const uint64_t n = (data[size - 3] * 257u + data[size - 4]) % (whole->size() - a + 1);
    std::vector<uint8_t> part(n);
    const auto ok = guarded("ModelReader::read_range", false, [&] {
      mr.read_range(a, part, base, threads);
      return true;
    });
    if (!ok || !std::equal(part.begin(), part.end(), whole->begin() + static_cast<ptrdiff_t>(a)))
      finding("paths", "read_range differs from the whole file");
  }

  if (!meta) return 0;
  for (size_t i = 0; i < std::min(mr.tensors().size(), kMaxTensors); ++i) {
    const ModelTensor& t = mr.tensors()[i];
    if (t.size > kMaxTensor) continue;
    if (const auto found = mr.find(t.name); !found || *found > i || mr.tensors()[*found].name != t.name)
      finding("find", "does not find the first tensor named '" + t.name + "'");
    const auto got = guarded("extract", delta, [&] { return mr.extract(i, base, threads); });
    if (!whole) continue;
    // The whole file decoded and was checked, and the directory was validated: the tensor
    // must come out of the file (a view the directory accepts can be gathered), and the same
    // way through extract().
    const formats::Region& r = meta->regions[meta->tensors[i].region].region;
    const auto want = guarded("gather_tensor", false, [&] {
      return formats::gather_tensor(std::span<const uint8_t>(*whole).subspan(r.offset, r.size), meta->tensors[i]);
    });
    if (!want) finding("directory", "accepts tensor '" + t.name + "', which cannot be gathered");
    if (!got) finding("paths", "extract fails where whole-file decompression succeeds: tensor '" + t.name + "'");
    if (*got != *want) finding("paths", "extract differs from the whole file: tensor '" + t.name + "'");
  }
  return 0;
}
