// `tenzip inspect`: container layout, per-stream sizes, and the exponent statistics of the
// decoded floats (what the codec has to work with).
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io.hpp"
#include "progress.hpp"
#include "tenzip/model.hpp"

namespace tzcli {

namespace {

using tenzip::DType;

constexpr size_t kBlockElems = 4096;
// Segments at most this big are decoded whole (threaded); larger ones chunk by chunk,
// so memory stays bounded for huge containers.
constexpr uint64_t kWholeSegmentMax = uint64_t{64} << 20;

struct ExpField {
  unsigned shift;
  unsigned bits;
};
// Exponent bit positions (little-endian integers): bf16 14..7, fp16 14..10, fp32 30..23,
// fp8_e4m3 6..3, fp8_e5m2 6..2.
std::optional<ExpField> exponent_field(DType d) {
  switch (d) {
    case DType::bf16: return ExpField{7, 8};
    case DType::fp16: return ExpField{10, 5};
    case DType::fp32: return ExpField{23, 8};
    case DType::fp8_e4m3: return ExpField{3, 4};
    case DType::fp8_e5m2: return ExpField{2, 5};
    case DType::bytes: return std::nullopt;
  }
  return std::nullopt;
}

double entropy_bits(const uint64_t* hist, size_t n_bins, uint64_t total) {
  if (total == 0) return 0.0;
  double h = 0.0;
  const double t = static_cast<double>(total);
  for (size_t i = 0; i < n_bins; ++i) {
    if (!hist[i]) continue;
    const double p = static_cast<double>(hist[i]) / t;
    h -= p * std::log2(p);
  }
  return h;
}

// Exponent histogram of one segment, fed in pieces (chunk by chunk); 4096-element blocks
// run across piece boundaries.
class ExpStats {
 public:
  ExpStats(DType d, ExpField f) : dtype_(d), field_(f) {}

  void add(const uint8_t* p, size_t n_bytes) {
    const size_t es = tenzip::dtype_size(dtype_);
    const size_t n = n_bytes / es;
    const uint32_t mask = (1u << field_.bits) - 1;
    for (size_t i = 0; i < n; ++i, p += es) {
      uint32_t v = 0;
      for (size_t b = 0; b < es; ++b) v |= static_cast<uint32_t>(p[b]) << (8 * b);  // little-endian
      const uint32_t e = (v >> field_.shift) & mask;
      ++hist_[e];
      ++block_[e];
      if (++block_n_ == kBlockElems) flush_block();
    }
  }
  void finish() {
    if (block_n_) flush_block();
  }
  uint64_t total() const { return total_; }
  double entropy() const { return entropy_bits(hist_.data(), hist_.size(), total_); }
  // Element-weighted mean of the per-block entropies.
  double block_entropy() const { return total_ ? block_h_sum_ / static_cast<double>(total_) : 0.0; }
  const std::array<uint64_t, 256>& hist() const { return hist_; }
  DType dtype() const { return dtype_; }
  void merge(const ExpStats& o) {
    for (size_t i = 0; i < hist_.size(); ++i) hist_[i] += o.hist_[i];
    total_ += o.total_;
    block_h_sum_ += o.block_h_sum_;
  }
  // Nonzero bins, most frequent first.
  std::vector<std::pair<unsigned, uint64_t>> sorted() const {
    std::vector<std::pair<unsigned, uint64_t>> v;
    for (unsigned i = 0; i < hist_.size(); ++i)
      if (hist_[i]) v.emplace_back(i, hist_[i]);
    std::stable_sort(v.begin(), v.end(), [](auto& x, auto& y) { return x.second > y.second; });
    return v;
  }

 private:
  void flush_block() {
    block_h_sum_ += entropy_bits(block_.data(), block_.size(), block_n_) * static_cast<double>(block_n_);
    total_ += block_n_;
    block_.fill(0);
    block_n_ = 0;
  }
  DType dtype_;
  ExpField field_;
  std::array<uint64_t, 256> hist_{};
  std::array<uint64_t, 256> block_{};
  uint64_t block_n_ = 0;
  uint64_t total_ = 0;
  double block_h_sum_ = 0.0;
};

struct SegStats {
  size_t index;
  ExpStats stats;
};

double ratio_of(uint64_t coded, uint64_t raw) {
  return raw ? static_cast<double>(coded) / static_cast<double>(raw) : NAN;
}
std::string fmt_ratio(double r) {
  if (!std::isfinite(r)) return "-";
  char b[32];
  std::snprintf(b, sizeof b, "%.4f", r);
  return b;
}

const char* kModeNames[tenzip::kStreamModes] = {"raw", "const", "huffman", "zstd", "zstd_elements", "lanes"};

void print_histogram_text(const ExpStats& s, size_t top) {
  const auto v = s.sorted();
  const double t = static_cast<double>(s.total());
  uint64_t shown = 0;
  std::printf("      %5s  %12s  %7s\n", "exp", "count", "share");
  for (size_t i = 0; i < v.size() && i < top; ++i) {
    std::printf("      %5u  %12llu  %6.2f%%\n", v[i].first, static_cast<unsigned long long>(v[i].second),
                100.0 * static_cast<double>(v[i].second) / t);
    shown += v[i].second;
  }
  if (v.size() > top)
    std::printf("      %5s  %12llu  %6.2f%%  (%zu more values)\n", "other",
                static_cast<unsigned long long>(s.total() - shown), 100.0 * static_cast<double>(s.total() - shown) / t,
                v.size() - top);
}

std::string histogram_json(const ExpStats& s) {
  std::string out = "[";
  bool first = true;
  for (const auto& [e, c] : s.sorted()) {
    if (!first) out += ",";
    first = false;
    out += "[" + std::to_string(e) + "," + std::to_string(c) + "]";
  }
  return out + "]";
}

}  // namespace

int run_inspect(const InspectArgs& a) {
  const WholeInput whole(a.input);
  const std::span<const uint8_t> data = whole.bytes();
  const std::string name = is_stdio(a.input) ? "stdin" : a.input;

  try {
    const tenzip::Reader reader(data);
    const tenzip::ContainerInfo& info = reader.info();
    const auto streams = tenzip::summarize_streams(reader);
    const tenzip::ModelReader model(data);  // the tensor directory, if the container has one
    auto shape_str = [](const std::vector<uint64_t>& shape, bool json) {
      std::string o = "[";
      for (size_t i = 0; i < shape.size(); ++i) o += (i ? (json ? "," : ", ") : "") + std::to_string(shape[i]);
      return o + "]";
    };

    // Coded bytes per segment: the frames of its chunks.
    std::vector<uint64_t> seg_coded(info.segments.size(), 0);
    for (size_t s = 0; s < info.segments.size(); ++s) {
      const auto& seg = info.segments[s];
      for (uint64_t c = seg.first_chunk; c < seg.first_chunk + seg.n_chunks && c < info.chunks.size(); ++c)
        seg_coded[s] += info.chunks[c].frame_size;
    }

    // Decode and gather exponent statistics per float segment.
    std::vector<SegStats> seg_stats;
    std::vector<uint8_t> buf;
    for (size_t s = 0; s < info.segments.size(); ++s) {
      const auto& seg = info.segments[s];
      const auto field = exponent_field(seg.dtype);
      if (!field) continue;
      ExpStats st(seg.dtype, *field);
      if (seg.decoded_size <= kWholeSegmentMax) {
        buf.resize(seg.decoded_size);
        reader.decode_segment(s, buf, a.threads);
        st.add(buf.data(), buf.size());
      } else {
        const uint64_t seg_end = seg.decoded_offset + seg.decoded_size;
        for (uint64_t c = seg.first_chunk; c < seg.first_chunk + seg.n_chunks; ++c) {
          const auto& ch = info.chunks.at(c);
          const uint64_t size = std::min<uint64_t>(uint64_t{ch.n_elems} * tenzip::dtype_size(seg.dtype),
                                                   seg_end - std::min(seg_end, ch.decoded_offset));
          buf.resize(size);
          reader.decode_chunk(c, buf);
          st.add(buf.data(), buf.size());
        }
      }
      st.finish();
      seg_stats.push_back({s, st});
    }
    // Bytes segments are decoded too, so that inspect also verifies their checksums.
    for (size_t s = 0; s < info.segments.size(); ++s) {
      const auto& seg = info.segments[s];
      if (exponent_field(seg.dtype)) continue;
      for (uint64_t c = seg.first_chunk; c < seg.first_chunk + seg.n_chunks; ++c) {
        const auto& ch = info.chunks.at(c);
        const uint64_t seg_end = seg.decoded_offset + seg.decoded_size;
        buf.resize(std::min<uint64_t>(ch.n_elems, seg_end - std::min(seg_end, ch.decoded_offset)));
        reader.decode_chunk(c, buf);
      }
    }

    const double ratio = ratio_of(info.container_size, info.decoded_size);
    if (a.json) {
      std::string o = "{";
      o += "\"file\":" + json_string(name);
      o += ",\"format_version\":" + std::to_string(info.format_version);
      o += ",\"chunk_elems\":" + std::to_string(info.chunk_elems);
      o += ",\"container_size\":" + std::to_string(info.container_size);
      o += ",\"decoded_size\":" + std::to_string(info.decoded_size);
      o += ",\"ratio\":" + json_number(ratio);
      o += ",\"metadata_size\":" + std::to_string(info.metadata.size());
      o += ",\"chunks\":" + std::to_string(info.chunks.size());
      if (model.is_model()) {
        o += ",\"model\":{\"format\":" + json_string(model.format());
        o += ",\"needs_base\":" + std::string(model.needs_base() ? "true" : "false");
        o += ",\"tensors\":[";
        for (size_t i = 0; i < model.tensors().size(); ++i) {
          const auto& t = model.tensors()[i];
          if (i) o += ",";
          o += "{\"name\":" + json_string(t.name);
          o += ",\"dtype\":" + json_string(t.dtype);
          o += ",\"shape\":" + shape_str(t.shape, true);
          o += ",\"size\":" + std::to_string(t.size);
          o += ",\"codec_dtype\":" + json_string(std::string(tenzip::dtype_name(t.codec_dtype)));
          o += ",\"stored_size\":" + std::to_string(t.stored_size);
          o += ",\"ratio\":" + json_number(ratio_of(t.stored_size, t.size));
          o += ",\"delta\":" + std::string(t.delta ? "true" : "false") + "}";
        }
        o += "]}";
      }
      o += ",\"segments\":[";
      for (size_t s = 0; s < info.segments.size(); ++s) {
        const auto& seg = info.segments[s];
        if (s) o += ",";
        o += "{\"index\":" + std::to_string(s);
        o += ",\"dtype\":" + json_string(std::string(tenzip::dtype_name(seg.dtype)));
        o += ",\"elements\":" + std::to_string(seg.decoded_size / tenzip::dtype_size(seg.dtype));
        o += ",\"decoded_size\":" + std::to_string(seg.decoded_size);
        o += ",\"chunks\":" + std::to_string(seg.n_chunks);
        o += ",\"coded_size\":" + std::to_string(seg_coded[s]);
        o += ",\"ratio\":" + json_number(ratio_of(seg_coded[s], seg.decoded_size)) + "}";
      }
      o += "],\"streams\":[";
      for (size_t i = 0; i < streams.size(); ++i) {
        const auto& st = streams[i];
        if (i) o += ",";
        o += "{\"dtype\":" + json_string(std::string(tenzip::dtype_name(st.dtype)));
        o += ",\"stream\":" + json_string(st.stream);
        o += ",\"raw_size\":" + std::to_string(st.raw_size);
        o += ",\"coded_size\":" + std::to_string(st.coded_size);
        o += ",\"ratio\":" + json_number(ratio_of(st.coded_size, st.raw_size));
        o += ",\"chunks_by_mode\":{";
        for (int m = 0; m < tenzip::kStreamModes; ++m) {
          if (m) o += ",";
          o += "\"" + std::string(kModeNames[m]) + "\":" + std::to_string(st.chunks_by_mode[m]);
        }
        o += "}}";
      }
      o += "],\"exponents\":[";
      for (size_t i = 0; i < seg_stats.size(); ++i) {
        const auto& ss = seg_stats[i];
        if (i) o += ",";
        o += "{\"segment\":" + std::to_string(ss.index);
        o += ",\"dtype\":" + json_string(std::string(tenzip::dtype_name(ss.stats.dtype())));
        o += ",\"elements\":" + std::to_string(ss.stats.total());
        o += ",\"entropy_bits\":" + json_number(ss.stats.entropy());
        o += ",\"block_elems\":" + std::to_string(kBlockElems);
        o += ",\"block_entropy_bits\":" + json_number(ss.stats.block_entropy());
        o += ",\"histogram\":" + histogram_json(ss.stats) + "}";
      }
      o += "]}\n";
      std::fputs(o.c_str(), stdout);
      return 0;
    }

    std::printf("%s\n", name.c_str());
    std::printf("  format version   %u\n", static_cast<unsigned>(info.format_version));
    std::printf("  chunk size       %u elements\n", info.chunk_elems);
    std::printf("  container size   %llu bytes (%s)\n", static_cast<unsigned long long>(info.container_size),
                human_size(info.container_size).c_str());
    std::printf("  decoded size     %llu bytes (%s)\n", static_cast<unsigned long long>(info.decoded_size),
                human_size(info.decoded_size).c_str());
    std::printf("  ratio            %s (compressed / original)\n", fmt_ratio(ratio).c_str());
    std::printf("  chunks           %zu\n", info.chunks.size());
    std::printf("  metadata         %zu bytes\n", info.metadata.size());

    constexpr size_t kMaxTensorLines = 60;
    if (model.is_model()) {
      std::printf("\nmodel file: %s, %zu tensors%s\n", model.format().c_str(), model.tensors().size(),
                  model.needs_base() ? " (a checkpoint delta: decoding needs --base)" : "");
      if (!model.tensors().empty())
        std::printf("  %-40s %-12s %-20s %14s %14s %8s\n", "name", "dtype", "shape", "bytes", "stored B", "ratio");
      for (size_t i = 0; i < model.tensors().size() && i < kMaxTensorLines; ++i) {
        const auto& t = model.tensors()[i];
        std::printf("  %-40s %-12s %-20s %14llu %14llu %8s%s\n", t.name.c_str(), t.dtype.c_str(),
                    shape_str(t.shape, false).c_str(), static_cast<unsigned long long>(t.size),
                    static_cast<unsigned long long>(t.stored_size), fmt_ratio(ratio_of(t.stored_size, t.size)).c_str(),
                    t.delta ? "  delta" : "");
      }
      if (model.tensors().size() > kMaxTensorLines)
        std::printf("  ... %zu more tensors (--json lists all)\n", model.tensors().size() - kMaxTensorLines);
    }

    std::printf("\nsegments: %zu\n", info.segments.size());
    std::printf("  %5s  %-9s %14s %14s %8s %14s %8s\n", "#", "dtype", "elements", "decoded B", "chunks", "coded B",
                "ratio");
    constexpr size_t kMaxSegLines = 40;
    for (size_t s = 0; s < info.segments.size() && s < kMaxSegLines; ++s) {
      const auto& seg = info.segments[s];
      std::printf("  %5zu  %-9s %14llu %14llu %8llu %14llu %8s\n", s, std::string(tenzip::dtype_name(seg.dtype)).c_str(),
                  static_cast<unsigned long long>(seg.decoded_size / tenzip::dtype_size(seg.dtype)),
                  static_cast<unsigned long long>(seg.decoded_size), static_cast<unsigned long long>(seg.n_chunks),
                  static_cast<unsigned long long>(seg_coded[s]),
                  fmt_ratio(ratio_of(seg_coded[s], seg.decoded_size)).c_str());
    }
    if (info.segments.size() > kMaxSegLines)
      std::printf("  ... %zu more segments (--json lists all)\n", info.segments.size() - kMaxSegLines);

    std::printf("\nstreams (summed over chunks):\n");
    std::printf("  %-9s %-20s %14s %14s %8s   chunks: %s/%s/%s/%s/%s/%s\n", "dtype", "stream", "raw B", "coded B", "ratio",
                kModeNames[0], kModeNames[1], kModeNames[2], kModeNames[3], kModeNames[4], kModeNames[5]);
    for (const auto& st : streams) {
      std::printf("  %-9s %-20s %14llu %14llu %8s   %llu/%llu/%llu/%llu/%llu/%llu\n",
                  std::string(tenzip::dtype_name(st.dtype)).c_str(), st.stream.c_str(),
                  static_cast<unsigned long long>(st.raw_size), static_cast<unsigned long long>(st.coded_size),
                  fmt_ratio(ratio_of(st.coded_size, st.raw_size)).c_str(),
                  static_cast<unsigned long long>(st.chunks_by_mode[0]),
                  static_cast<unsigned long long>(st.chunks_by_mode[1]),
                  static_cast<unsigned long long>(st.chunks_by_mode[2]),
                  static_cast<unsigned long long>(st.chunks_by_mode[3]),
                  static_cast<unsigned long long>(st.chunks_by_mode[4]),
                  static_cast<unsigned long long>(st.chunks_by_mode[5]));
    }

    // Full histograms for a few segments; with many (one per tensor), one line each plus
    // a histogram per dtype over all of them.
    constexpr size_t kFullHistSegs = 4;
    constexpr size_t kTop = 12;
    if (!seg_stats.empty()) std::printf("\nexponents (order-0 entropy; mean over %zu-element blocks):\n", kBlockElems);
    if (seg_stats.size() <= kFullHistSegs) {
      for (const auto& ss : seg_stats) {
        std::printf("  segment %zu (%s, %llu elements): %.3f bits; %.3f bits per block\n", ss.index,
                    std::string(tenzip::dtype_name(ss.stats.dtype())).c_str(),
                    static_cast<unsigned long long>(ss.stats.total()), ss.stats.entropy(), ss.stats.block_entropy());
        print_histogram_text(ss.stats, kTop);
      }
    } else {
      for (size_t i = 0; i < seg_stats.size() && i < kMaxSegLines; ++i) {
        const auto& ss = seg_stats[i];
        const auto top = ss.stats.sorted();
        std::printf("  segment %5zu %-9s %12llu elements  %.3f bits  %.3f bits per block  top %u (%.1f%%)\n", ss.index,
                    std::string(tenzip::dtype_name(ss.stats.dtype())).c_str(),
                    static_cast<unsigned long long>(ss.stats.total()), ss.stats.entropy(), ss.stats.block_entropy(),
                    top.empty() ? 0u : top[0].first,
                    top.empty() ? 0.0 : 100.0 * static_cast<double>(top[0].second) / static_cast<double>(ss.stats.total()));
      }
      if (seg_stats.size() > kMaxSegLines) std::printf("  ... %zu more\n", seg_stats.size() - kMaxSegLines);
      for (int d = 0; d < tenzip::kDTypeCount; ++d) {
        const auto dt = static_cast<DType>(d);
        const auto field = exponent_field(dt);
        if (!field) continue;
        ExpStats all(dt, *field);
        bool any = false;
        for (const auto& ss : seg_stats)
          if (ss.stats.dtype() == dt) all.merge(ss.stats), any = true;
        if (!any) continue;
        std::printf("  all %s segments (%llu elements): %.3f bits; %.3f bits per block\n",
                    std::string(tenzip::dtype_name(dt)).c_str(), static_cast<unsigned long long>(all.total()),
                    all.entropy(), all.block_entropy());
        print_histogram_text(all, kTop);
      }
    }
  } catch (const tenzip::Error& e) {
    throw CliError(1, name + ": " + e.what());
  }
  return 0;
}

}  // namespace tzcli
