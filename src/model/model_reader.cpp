// ModelReader: the tensor directory of a container, per-tensor extraction (decodes one segment)
// and whole-file decompression with checkpoint deltas undone against the base.
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "container/format.hpp"
#include "model/delta_kernels.hpp"
#include "model/metadata.hpp"
#include "parallel/thread_pool.hpp"
#include "tenzip/model.hpp"

namespace tenzip {

using model::Delta;
using model::ModelMeta;
using model::RegionEntry;

namespace {

// Decoded bytes held at once by decompress(), per worker: bounded whatever the file size.
constexpr uint64_t kBatchBytesPerWorker = uint64_t{1} << 20;

std::string hex64(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

}  // namespace

struct ModelReader::Impl {
  Reader reader;
  std::optional<ModelMeta> meta;
  std::string format = "raw";
  std::vector<ModelTensor> tensors;
  std::vector<int64_t> region_of_segment;  // -1: a gap (or a raw container's only segment)

  explicit Impl(std::span<const uint8_t> c) : reader(c), meta(model::decode_metadata(reader.info())) {
    const ContainerInfo& info = reader.info();
    region_of_segment.assign(info.segments.size(), -1);
    if (!meta) return;
    format = meta->format;
    // Compressed size of each segment, for `inspect`.
    std::vector<uint64_t> seg_stored(info.segments.size(), 0);
    for (size_t s = 0; s < info.segments.size(); ++s)
      for (uint64_t k = 0; k < info.segments[s].n_chunks; ++k)
        seg_stored[s] += info.chunks[info.segments[s].first_chunk + k].frame_size;
    for (size_t r = 0; r < meta->regions.size(); ++r) {
      const uint32_t s = meta->regions[r].segment;
      if (region_of_segment[s] != -1)
        throw Error(Errc::corrupt_input, "model metadata: two regions name segment " + std::to_string(s));
      region_of_segment[s] = static_cast<int64_t>(r);
    }
    for (const formats::Tensor& t : meta->tensors) {
      const RegionEntry& r = meta->regions[t.region];
      tensors.push_back({t.name, t.dtype, t.shape, t.size, r.region.dtype, seg_stored[r.segment],
                         r.delta != Delta::none});
    }
  }

  bool needs_base() const { return meta && meta->base; }

  void check_base(std::span<const uint8_t> base) const {
    if (!needs_base()) return;
    if (base.empty())
      throw Error(Errc::invalid_argument,
                  "this container is a delta against a base file; give the base (tenzip decompress --base OLD)");
    if (base.size() != meta->base->file_size)
      throw Error(Errc::invalid_argument, "wrong base file: it has " + std::to_string(base.size()) +
                                              " bytes, the container was written against one of " +
                                              std::to_string(meta->base->file_size));
  }

  // check_base_region once per region and base: read_range calls come in small pieces.
  mutable std::mutex checked_mutex;
  mutable std::vector<bool> checked;  // per region, for checked_base
  mutable const uint8_t* checked_base = nullptr;
  void check_base_region_once(size_t r, std::span<const uint8_t> base) const {
    std::lock_guard<std::mutex> lk(checked_mutex);
    if (checked_base != base.data() || checked.size() != meta->regions.size()) {
      checked.assign(meta->regions.size(), false);
      checked_base = base.data();
    }
    if (!checked[r]) check_base_region(meta->regions[r], base);
    checked[r] = true;
  }

  // Checks that the base bytes a delta region needs are the ones it was written against.
  void check_base_region(const RegionEntry& r, std::span<const uint8_t> base) const {
    const uint64_t h = detail::xxh3(base.subspan(r.base_offset, r.region.size));
    if (h != r.base_xxh3)
      throw Error(Errc::invalid_argument, "wrong base file: region '" + r.region.name + "' at base offset " +
                                              std::to_string(r.base_offset) + " hashes to " + hex64(h) +
                                              ", expected " + hex64(r.base_xxh3));
  }
};

ModelReader::ModelReader(std::span<const uint8_t> container) : impl_(std::make_unique<Impl>(container)) {}
ModelReader::~ModelReader() = default;
ModelReader::ModelReader(ModelReader&&) noexcept = default;
ModelReader& ModelReader::operator=(ModelReader&&) noexcept = default;

const std::string& ModelReader::format() const noexcept { return impl_->format; }
bool ModelReader::is_model() const noexcept { return impl_->meta.has_value(); }
bool ModelReader::needs_base() const noexcept { return impl_->needs_base(); }
uint64_t ModelReader::file_size() const noexcept { return impl_->reader.info().decoded_size; }
const std::vector<ModelTensor>& ModelReader::tensors() const noexcept { return impl_->tensors; }
const Reader& ModelReader::reader() const noexcept { return impl_->reader; }

std::optional<size_t> ModelReader::find(std::string_view name) const {
  for (size_t i = 0; i < impl_->tensors.size(); ++i)
    if (impl_->tensors[i].name == name) return i;
  return std::nullopt;
}

std::vector<uint8_t> ModelReader::extract(size_t tensor, std::span<const uint8_t> base, unsigned threads) const {
  if (tensor >= impl_->tensors.size())
    throw Error(Errc::invalid_argument, "extract: tensor " + std::to_string(tensor) + " out of range (" +
                                            std::to_string(impl_->tensors.size()) + " tensors)");
  std::vector<uint8_t> out(impl_->tensors[tensor].size);
  extract_into(tensor, out, base, threads);
  return out;
}

void ModelReader::extract_into(size_t tensor, std::span<uint8_t> dst, std::span<const uint8_t> base,
                               unsigned threads) const {
  const Impl& m = *impl_;
  if (tensor >= m.tensors.size())
    throw Error(Errc::invalid_argument, "extract: tensor " + std::to_string(tensor) + " out of range (" +
                                            std::to_string(m.tensors.size()) + " tensors)");
  const formats::Tensor& t = m.meta->tensors[tensor];
  if (dst.size() != t.size)
    throw Error(Errc::invalid_argument, "extract: destination holds " + std::to_string(dst.size()) +
                                            " bytes, tensor '" + t.name + "' has " + std::to_string(t.size));
  const RegionEntry& r = m.meta->regions[t.region];
  if (r.delta != Delta::none) {
    m.check_base(base);
    m.check_base_region(r, base);
  }
  const bool whole = t.strides.empty() && t.offset == 0 && t.size == r.region.size;
  std::vector<uint8_t> scratch;
  std::span<uint8_t> region = dst;
  if (!whole) {
    scratch.resize(r.region.size);
    region = scratch;
  }
  m.reader.decode_segment(r.segment, region, threads);
  if (r.delta != Delta::none)
    model::delta_decode(r.delta, dtype_size(r.region.dtype), region.data(), base.data() + r.base_offset,
                        region.data(), region.size());
  if (!whole) formats::gather_tensor_into(region, t, dst);
}

void ModelReader::read_range(uint64_t offset, std::span<uint8_t> dst, std::span<const uint8_t> base,
                             unsigned threads) const {
  const Impl& m = *impl_;
  m.reader.read_range(offset, dst, threads);  // the stored bytes; delta regions are undone below
  if (!m.needs_base() || dst.empty()) return;
  const uint64_t end = offset + dst.size();
  // Regions are sorted by offset and disjoint: start at the first one ending after `offset`.
  const auto& regions = m.meta->regions;
  const auto from = std::partition_point(regions.begin(), regions.end(), [&](const RegionEntry& re) {
    return re.region.offset + re.region.size <= offset;
  });
  bool base_checked = false;
  for (size_t ri = static_cast<size_t>(from - regions.begin()); ri < regions.size(); ++ri) {
    const RegionEntry& re = regions[ri];
    const uint64_t r0 = re.region.offset, r1 = r0 + re.region.size;
    if (r0 >= end) break;
    if (re.delta == Delta::none) continue;
    if (!std::exchange(base_checked, true)) m.check_base(base);
    m.check_base_region_once(ri, base);
    // The overlap, widened to whole elements (a `sub` delta undoes whole integers).
    const uint64_t es = dtype_size(re.region.dtype);
    const uint64_t a = std::max(r0, offset), b = std::min(r1, end);
    const uint64_t a_el = r0 + (a - r0) / es * es, b_el = std::min(r1, r0 + (b - r0 + es - 1) / es * es);
    const uint8_t* base_at = base.data() + re.base_offset;
    if (a_el == a && b_el == b) {  // whole elements: undone in place
      model::delta_decode(re.delta, es, dst.data() + (a - offset), base_at + (a - r0), dst.data() + (a - offset), b - a);
      continue;
    }
    // Cut elements at either end: the widened span's stored bytes again, undone aside.
    std::vector<uint8_t> span(static_cast<size_t>(b_el - a_el));
    m.reader.read_range(a_el, span, threads);
    model::delta_decode(re.delta, es, span.data(), base_at + (a_el - r0), span.data(), span.size());
    std::memcpy(dst.data() + (a - offset), span.data() + (a - a_el), static_cast<size_t>(b - a));
  }
}

void ModelReader::decompress(const Sink& sink, std::span<const uint8_t> base, unsigned threads) const {
  const Impl& m = *impl_;
  const ContainerInfo& info = m.reader.info();
  m.check_base(base);
  if (m.needs_base())
    for (const RegionEntry& r : m.meta->regions)
      if (r.delta != Delta::none) m.check_base_region(r, base);

  // Segment of every chunk, and the region (if any) it belongs to.
  std::vector<uint32_t> seg_of(info.chunks.size());
  for (size_t s = 0; s < info.segments.size(); ++s)
    for (uint64_t k = 0; k < info.segments[s].n_chunks; ++k) seg_of[info.segments[s].first_chunk + k] = uint32_t(s);

  detail::PooledThreads pool(threads);
  // Batches of about 1 MiB of output per worker (at least one chunk), decoded into one buffer
  // reused from batch to batch: it stays in cache between the decode, the hash and the sink,
  // and is faulted in once. Each chunk goes to the hash and the sink as soon as it and those
  // before it are decoded, on the calling thread, while the other workers decode the rest.
  // (Batches of 64 MiB made `tenzip decompress -c` of a 91 MB safetensors file spend a third
  // of its time faulting the buffer in, and hash and write it back from DRAM after the decode.)
  const uint64_t batch_bytes = uint64_t{pool->size()} * kBatchBytesPerWorker;
  std::vector<uint8_t> buf;
  detail::Xxh3Stream file_hash;

  auto chunk_bytes = [&](size_t i) { return static_cast<size_t>(m.reader.chunk_bytes(i)); };
  auto decoded_span = [&](size_t i, uint64_t start) {
    return std::span<uint8_t>(buf.data() + (info.chunks[i].decoded_offset - start), chunk_bytes(i));
  };
  for (size_t first = 0; first < info.chunks.size();) {
    // A batch of whole chunks of at most batch_bytes (at least one chunk).
    size_t last = first;
    const uint64_t start = info.chunks[first].decoded_offset;
    uint64_t end = start;
    while (last < info.chunks.size()) {
      const uint64_t e = info.chunks[last].decoded_offset + chunk_bytes(last);
      if (last > first && e - start > batch_bytes) break;
      end = e;
      ++last;
    }
    if (buf.size() < end - start) buf.resize(static_cast<size_t>(end - start));
    pool->parallel_for_ordered(
        last - first,
        [&](size_t k, unsigned) {
          const size_t i = first + k;
          const uint32_t s = seg_of[i];
          const std::span<uint8_t> dst = decoded_span(i, start);
          m.reader.decode_chunk(i, dst);
          if (const int64_t r = m.region_of_segment[s]; r >= 0) {
            const RegionEntry& re = m.meta->regions[static_cast<size_t>(r)];
            if (re.delta != Delta::none)
              model::delta_decode(re.delta, dtype_size(info.segments[s].dtype), dst.data(),
                                  base.data() + re.base_offset + (info.chunks[i].decoded_offset - re.region.offset),
                                  dst.data(), dst.size());
          }
        },
        [&](size_t k) {
          const std::span<const uint8_t> out = decoded_span(first + k, start);
          file_hash.update(out);
          sink(out);
        });
    first = last;
  }
  if (m.meta) {
    const uint64_t h = file_hash.digest();
    if (h != m.meta->file_xxh3)
      throw Error(Errc::checksum_mismatch, "the restored file hashes to " + hex64(h) + ", the container says " +
                                               hex64(m.meta->file_xxh3) +
                                               (m.needs_base() ? " (is this the right base file?)" : ""));
  }
}

bool model_metadata_needs_base(std::span<const uint8_t> metadata) noexcept {
  try {
    const auto text = model::metadata_text(metadata);
    if (!text) return false;
    const auto doc = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    return doc.is_object() && doc.contains("tenzip_model") && doc.contains("base");
  } catch (const Error&) {
    return false;
  }
}

}  // namespace tenzip
