// Arbitrary bytes into every decoding path. Findings: a crash, a sanitizer report, an exception
// other than tenzip::Error, Errc::internal / invalid_argument, or paths that disagree on
// whether the input is valid or on its decoded bytes.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <vector>

#include "container/format.hpp"
#include "tenzip/tenzip.hpp"

namespace {

using namespace tenzip;

constexpr uint64_t kMaxDecoded = uint64_t{64} << 20;  // skip inputs that claim more than this

[[noreturn]] void finding(const char* what, const char* detail) {
  std::fprintf(stderr, "decode_fuzzer finding: %s: %s\n", what, detail);
  std::abort();
}

// What the input claims to decode to, from whatever parses: its chunk frames read front to
// back, and its index if a Reader accepts it.
uint64_t claimed_decoded_size(std::span<const uint8_t> in) {
  uint64_t walked = 0;
  try {
    const auto fh = detail::parse_file_header(in.first(std::min(in.size(), detail::kFileHeaderSize)));
    uint64_t off = detail::kFileHeaderSize;
    for (uint64_t n = 0; off + detail::kFrameHeaderSize <= in.size(); ++n) {
      const auto h = detail::parse_frame_header(in.subspan(off, detail::kFrameHeaderSize), n, off, fh);
      if (h.type != detail::kFrameChunk) break;
      walked += uint64_t{h.n_elems} * dtype_size(h.dtype);
      off += detail::kFrameHeaderSize + h.payload_size;
    }
  } catch (const Error&) {
  }
  uint64_t indexed = 0;
  try {
    indexed = Reader(in).info().decoded_size;
  } catch (const Error&) {
  }
  return std::max(walked, indexed);
}

// Runs f; returns its result, or nullopt if it threw a tenzip::Error of an input-error kind.
template <class F>
auto guarded(const char* path, F&& f) -> std::optional<decltype(f())> {
  try {
    return f();
  } catch (const Error& e) {
    if (e.code() == Errc::internal || e.code() == Errc::invalid_argument) finding(path, e.what());
    if (std::strlen(e.what()) == 0) finding(path, "empty error message");
    return std::nullopt;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const uint8_t> in(data, size);
  if (claimed_decoded_size(in) > kMaxDecoded) return 0;
  // Vary how the stream is fed and how many threads decode, from the input itself.
  const size_t piece = size ? 1 + data[size / 2] % 61 : 1;
  const unsigned threads = size ? 1 + data[size - 1] % 3 : 1;

  const auto one_shot = guarded("decompress", [&] { return decompress(in, threads); });

  const auto streamed = guarded("decompress_stream", [&] {
    std::vector<uint8_t> out;
    size_t pos = 0;
    decompress_stream(
        [&](std::span<uint8_t> dst) {
          const size_t k = std::min({piece, dst.size(), size - pos});
          if (k) std::memcpy(dst.data(), data + pos, k);
          pos += k;
          return k;
        },
        [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, threads);
    return out;
  });

  const auto by_chunk = guarded("Reader", [&] {
    const Reader r(in);
    std::vector<uint8_t> out(r.info().decoded_size);
    for (size_t i = 0; i < r.info().chunks.size(); ++i) {
      const auto& c = r.info().chunks[i];
      const uint64_t end = i + 1 < r.info().chunks.size() ? r.info().chunks[i + 1].decoded_offset : out.size();
      r.decode_chunk(i, std::span<uint8_t>(out).subspan(c.decoded_offset, end - c.decoded_offset));
    }
    std::vector<uint8_t> seg(out.size());
    for (size_t s = 0; s < r.info().segments.size(); ++s) {
      const auto& sg = r.info().segments[s];
      r.decode_segment(s, std::span<uint8_t>(seg).subspan(sg.decoded_offset, sg.decoded_size), threads);
    }
    if (seg != out) finding("Reader", "decode_segment and decode_chunk disagree");
    // read_range over a range picked from the input's own bytes: the same bytes again.
    if (!out.empty()) {
      const uint64_t a = (size > 2 ? data[size - 1] * 257u + data[size - 2] : 0) % out.size();
      const uint64_t n = (size > 4 ? data[size - 3] * 257u + data[size - 4] : 1) % (out.size() - a + 1);
      std::vector<uint8_t> part(n);
      r.read_range(a, part, threads);
      if (!std::equal(part.begin(), part.end(), out.begin() + static_cast<ptrdiff_t>(a)))
        finding("Reader", "read_range and decode_chunk disagree");
    }
    summarize_streams(r);
    return out;
  });

  // The paths validate in different orders, but must agree on validity and bytes.
  if (one_shot.has_value() != streamed.has_value()) finding("paths", "decompress and decompress_stream disagree");
  if (one_shot.has_value() != by_chunk.has_value()) finding("paths", "decompress and Reader disagree");
  if (one_shot && (*one_shot != *streamed || *one_shot != *by_chunk)) finding("paths", "decoded bytes differ");
  return 0;
}
