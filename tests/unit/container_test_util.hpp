// Helpers shared by the container/api/golden tests: input generators and the API paths.
#pragma once

#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip::testing {

using Bytes = std::vector<uint8_t>;

// Weight-like bits (narrow exponent range, random mantissa) with special values sprinkled in:
// NaN payloads, +-0, subnormals, +-inf. Built as integers, never through float.
inline Bytes weight_bytes(DType dtype, size_t n_bytes, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes out(n_bytes);
  const size_t es = dtype_size(dtype);
  for (size_t i = 0; i + es <= n_bytes; i += es) {
    const uint32_t r = rng();
    const bool special = (r & 63) == 0;
    uint32_t v = 0;
    switch (dtype) {
      case DType::fp32: {
        static constexpr uint32_t kSpecial[] = {0x7fc00001u, 0xffc12345u, 0x00000000u, 0x80000000u,
                                                0x00000001u, 0x807fffffu, 0x7f800000u, 0xff800000u};
        v = special ? kSpecial[(r >> 8) & 7]
                    : ((r & 0x80000000u) | (uint32_t(118 + (r >> 24) % 10) << 23) | (uint32_t(rng()) & 0x7fffffu));
        break;
      }
      case DType::bf16: {
        static constexpr uint16_t kSpecial[] = {0x7fc1, 0xffa0, 0x0000, 0x8000, 0x0001, 0x807f, 0x7f80, 0xff80};
        v = special ? kSpecial[(r >> 8) & 7] : ((r & 0x8000u) | (uint32_t(118 + (r >> 24) % 10) << 7) | ((r >> 16) & 0x7f));
        break;
      }
      case DType::fp16: {
        static constexpr uint16_t kSpecial[] = {0x7e01, 0xfd00, 0x0000, 0x8000, 0x0001, 0x83ff, 0x7c00, 0xfc00};
        v = special ? kSpecial[(r >> 8) & 7] : ((r & 0x8000u) | (uint32_t(9 + (r >> 24) % 8) << 10) | ((r >> 12) & 0x3ff));
        break;
      }
      case DType::fp8_e4m3:
      case DType::fp8_e5m2:
      case DType::bytes: v = special ? 0xff : ((r >> 3) % 40 + (r & 0x80)); break;
    }
    for (size_t b = 0; b < es; ++b) out[i + b] = uint8_t(v >> (8 * b));
  }
  for (size_t i = n_bytes / es * es; i < n_bytes; ++i) out[i] = uint8_t(rng());  // tail
  return out;
}

// A container with a segment boundary of every kind, and what it decodes to: fp32, an empty bf16
// segment, fp16 (an odd byte count: its tail byte becomes a bytes segment), bytes, then metadata.
struct Segmented {
  Bytes container;
  Bytes decoded;  // everything written, in order
};
inline Segmented segmented_container(unsigned threads, uint32_t chunk_elems, size_t fp32_bytes, size_t fp16_bytes,
                                     size_t other_bytes, const Bytes& metadata = {}) {
  CompressOptions opts;
  opts.dtype = DType::fp32;
  opts.chunk_elems = chunk_elems;
  opts.threads = threads;
  Segmented b;
  Compressor c(opts, [&](std::span<const uint8_t> x) { b.container.insert(b.container.end(), x.begin(), x.end()); });
  const auto put = [&](const Bytes& x) {
    c.write(x);
    b.decoded.insert(b.decoded.end(), x.begin(), x.end());
  };
  put(weight_bytes(DType::fp32, fp32_bytes, 11));
  c.begin_segment(DType::bf16);
  c.begin_segment(DType::fp16);
  put(weight_bytes(DType::fp16, fp16_bytes, 12));
  c.begin_segment(DType::bytes);
  put(weight_bytes(DType::bytes, other_bytes, 13));
  if (!metadata.empty()) c.set_metadata(metadata);
  if (c.finish() != b.container.size()) throw std::runtime_error("Compressor::finish count");
  return b;
}

inline Bytes compress_in_pieces(std::span<const uint8_t> src, const CompressOptions& opts, size_t piece) {
  Bytes out;
  Compressor c(opts, [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); });
  for (size_t off = 0; off < src.size(); off += piece) c.write(src.subspan(off, std::min(piece, src.size() - off)));
  const uint64_t n = c.finish();
  if (n != out.size() || c.bytes_out() != out.size() || c.bytes_in() != src.size()) throw std::runtime_error("byte counts");
  return out;
}

// decompress_stream with a source that hands out at most `piece` bytes per call.
inline Bytes stream_decode(std::span<const uint8_t> container, size_t piece, unsigned threads = 1) {
  size_t pos = 0;
  Bytes out;
  const uint64_t n = decompress_stream(
      [&](std::span<uint8_t> dst) {
        const size_t k = std::min({piece, dst.size(), container.size() - pos});
        if (k) std::memcpy(dst.data(), container.data() + pos, k);
        pos += k;
        return k;
      },
      [&](std::span<const uint8_t> b) { out.insert(out.end(), b.begin(), b.end()); }, threads);
  if (n != out.size()) throw std::runtime_error("decompress_stream count");
  return out;
}

inline Bytes reader_decode_chunks(const Reader& r) {
  Bytes out(r.info().decoded_size);
  for (size_t i = 0; i < r.info().chunks.size(); ++i) {
    const auto& c = r.info().chunks[i];
    const size_t next = i + 1 < r.info().chunks.size() ? r.info().chunks[i + 1].decoded_offset : out.size();
    r.decode_chunk(i, std::span<uint8_t>(out).subspan(c.decoded_offset, next - c.decoded_offset));
  }
  return out;
}

inline Bytes reader_decode_segments(const Reader& r, unsigned threads) {
  Bytes out(r.info().decoded_size);
  for (size_t s = 0; s < r.info().segments.size(); ++s) {
    const auto& seg = r.info().segments[s];
    r.decode_segment(s, std::span<uint8_t>(out).subspan(seg.decoded_offset, seg.decoded_size), threads);
  }
  return out;
}

inline Bytes reader_decode_all(std::span<const uint8_t> container, unsigned threads) {
  Reader r(container);
  Bytes out(r.info().decoded_size);
  r.decode_all(out, threads);
  return out;
}

inline bool same_bytes(const Bytes& a, const Bytes& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size()) == 0);
}

// Runs f and returns the tenzip::Error it throws; fails the test (via the returned flag) if it
// throws anything else or nothing.
struct Outcome {
  bool threw_error = false;
  bool threw_other = false;
  Errc code = Errc::internal;
  std::string message;
};
template <class F>
Outcome outcome_of(F&& f) {
  Outcome o;
  try {
    f();
  } catch (const Error& e) {
    o.threw_error = true;
    o.code = e.code();
    o.message = e.what();
  } catch (const std::exception& e) {
    o.threw_other = true;
    o.message = e.what();
  }
  return o;
}

}  // namespace tenzip::testing
