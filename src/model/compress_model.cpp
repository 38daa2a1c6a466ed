// compress_model: parse the file, then code every region as a segment of its dtype and every gap
// between regions as `bytes`, in file order, with the tensor directory in the metadata.
#include "model/compress_model.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "container/format.hpp"
#include "model/delta_kernels.hpp"
#include "model/metadata.hpp"

namespace tenzip::model {

namespace {

// Writes in pieces so that a delta needs only a small scratch buffer, never a copy of the tensor.
constexpr size_t kPiece = size_t{4} << 20;

// Order-0 entropy, in bits, of each byte position of the elements (the codec codes byte planes
// separately, so this predicts which transform it will code smaller).
double plane_entropy_bits(const uint8_t* p, size_t bytes, size_t es) {
  std::vector<std::array<uint32_t, 256>> h(es);
  for (auto& a : h) a.fill(0);
  for (size_t i = 0; i < bytes; ++i) ++h[i % es][p[i]];
  double bits = 0;
  const double n = static_cast<double>(bytes / es);
  for (const auto& a : h)
    for (uint32_t c : a)
      if (c) bits -= c * std::log2(c / n);
  return bits;
}

// XOR or zigzag difference, whichever the first elements of the region say codes smaller.
Delta choose_delta(const uint8_t* cur, const uint8_t* base, size_t bytes, size_t es) {
  if (es < 2) return Delta::xor_;
  const size_t n = std::min(bytes, size_t{1} << 18) / es * es;
  std::vector<uint8_t> a(n), b(n);
  delta_encode(Delta::xor_, es, cur, base, a.data(), n);
  delta_encode(Delta::sub, es, cur, base, b.data(), n);
  return plane_entropy_bits(b.data(), n, es) < plane_entropy_bits(a.data(), n, es) ? Delta::sub : Delta::xor_;
}

}  // namespace

ModelCompressResult compress_layout(std::span<const uint8_t> file, const formats::FileLayout& layout,
                                    const Sink& sink, const ModelCompressOptions& opts,
                                    std::span<const uint8_t> base, const formats::FileLayout* base_layout) {
  formats::check_layout(layout, file.size());
  if (base_layout) formats::check_layout(*base_layout, base.size());

  ModelMeta meta;
  meta.format = layout.format;
  meta.file_size = file.size();
  meta.tensors = layout.tensors;
  // The whole file's hash, piece by piece as the pieces are written (gaps and regions cover
  // the file in order), on the calling thread while the workers encode the piece: one pass
  // over the file instead of two, and no longer between the encodes.
  detail::Xxh3Stream file_hash;
  uint64_t hashed = 0;  // file bytes hashed so far
  auto hash_to = [&](uint64_t end) {
    if (end <= hashed) return;
    file_hash.update(file.subspan(hashed, end - hashed));
    hashed = end;
  };

  // Base regions by name: a region is stored as a delta when name, dtype and size all match.
  std::map<std::string, const formats::Region*> base_by_name;
  if (base_layout) {
    meta.base = BaseInfo{base.size(), detail::xxh3(base)};
    for (const auto& r : base_layout->regions) base_by_name.emplace(r.name, &r);  // first wins on duplicates
  }

  CompressOptions co;
  co.level = opts.level;
  co.lanes = opts.lanes;
  co.threads = opts.threads;
  co.chunk_elems = opts.chunk_elems;
  Compressor comp(co, sink);
  ModelCompressResult res;
  res.format = layout.format;
  res.n_tensors = layout.tensors.size();

  uint32_t n_segments = 0;  // begin_segment calls so far; the first one replaces the implicit segment 0
  auto begin = [&](DType d) {
    comp.begin_segment(d);
    return n_segments++;
  };
  auto write_plain = [&](uint64_t off, uint64_t size) {
    for (uint64_t done = 0; done < size;) {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, size - done));
      comp.write(file.subspan(off + done, n), [&] { hash_to(off + done + n); });  // hashed while encoded
      done += n;
      if (opts.progress) opts.progress(off + done);
    }
  };

  std::vector<uint8_t> scratch;
  uint64_t pos = 0;
  for (const formats::Region& r : layout.regions) {
    if (r.offset > pos) {
      begin(DType::bytes);
      write_plain(pos, r.offset - pos);
    }
    RegionEntry e;
    e.region = r;
    e.segment = begin(r.dtype);
    const formats::Region* br = nullptr;
    if (auto it = base_by_name.find(r.name); it != base_by_name.end() && it->second->dtype == r.dtype &&
                                                 it->second->size == r.size && r.size > 0)
      br = it->second;
    if (!br) {
      write_plain(r.offset, r.size);
    } else {
      const size_t es = dtype_size(r.dtype);
      const uint8_t* cur = file.data() + r.offset;
      const uint8_t* old = base.data() + br->offset;
      e.delta = choose_delta(cur, old, r.size, es);
      e.base_offset = br->offset;
      e.base_xxh3 = detail::xxh3({old, br->size});
      scratch.resize(static_cast<size_t>(std::min<uint64_t>(kPiece, r.size)));
      for (uint64_t done = 0; done < r.size;) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(kPiece, r.size - done));  // kPiece is a multiple of 4
        delta_encode(e.delta, es, cur + done, old + done, scratch.data(), n);
        comp.write({scratch.data(), n}, [&] { hash_to(r.offset + done + n); });
        done += n;
        if (opts.progress) opts.progress(r.offset + done);
      }
      ++res.n_delta_regions;
    }
    meta.regions.push_back(std::move(e));
    pos = r.offset + r.size;
  }
  if (pos < file.size() || layout.regions.empty()) {
    begin(DType::bytes);
    write_plain(pos, file.size() - pos);
  }
  hash_to(file.size());
  meta.file_xxh3 = file_hash.digest();
  const auto md = encode_metadata(meta);
  comp.set_metadata(md);
  res.bytes_out = comp.finish();
  res.bytes_in = file.size();
  return res;
}

ModelCompressResult compress_model_impl(std::span<const uint8_t> file, const Sink& sink,
                                        const ModelCompressOptions& opts, std::span<const uint8_t> base,
                                        std::string_view name_hint) {
  const formats::FileLayout layout = layout_for(file, opts.format, name_hint);
  if (base.empty()) return compress_layout(file, layout, sink, opts, {}, nullptr);  // an empty base offers nothing to pair with
  // The base is parsed as the same format as the new file: a delta pairs regions by name.
  formats::FileLayout base_layout;
  try {
    base_layout = layout_for(base, layout.format, {});
  } catch (const Error& e) {
    throw Error(e.code(), std::string("base file: ") + e.what());
  }
  return compress_layout(file, layout, sink, opts, base, &base_layout);
}

}  // namespace tenzip::model

namespace tenzip {

ModelCompressResult compress_model(std::span<const uint8_t> file, const Sink& sink, const ModelCompressOptions& opts,
                                   std::span<const uint8_t> base, std::string_view name_hint) {
  return model::compress_model_impl(file, sink, opts, base, name_hint);
}

}  // namespace tenzip
