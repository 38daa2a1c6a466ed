// tenzip._ext: the nanobind bindings of the C++ core for the Python package (python/tenzip).
//
// Everything that touches data runs here with the GIL released; Python only allocates the
// destination arrays and passes 1-D uint8 views of them (zero-copy: buffer protocol or DLPack).
// Arguments typed In/Out below never convert (noconvert): a wrong dtype is a TypeError, not a copy.
#include <fcntl.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/string_view.h>
#include <nanobind/stl/vector.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "tenzip/model.hpp"
#include "tenzip/tenzip.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace {

using In = nb::ndarray<nb::ro, uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;
using Out = nb::ndarray<uint8_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

std::span<const uint8_t> span_of(const In& a) { return {a.data(), a.size()}; }
std::span<uint8_t> span_of(const Out& a) { return {a.data(), a.size()}; }
std::span<const uint8_t> span_of(const std::optional<In>& a) {
  return a ? span_of(*a) : std::span<const uint8_t>{};
}

// An OS error (write to a file descriptor); becomes OSError(errno, message).
struct OsError {
  int err;
  std::string message;
};

unsigned hardware_threads() {
  const unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : n;
}
// None (all hardware threads) or a count; 0 also means all.
unsigned resolve(std::optional<unsigned> threads) {
  return !threads || *threads == 0 ? hardware_threads() : *threads;
}

tenzip::DType dtype_of(const std::string& name) {
  const auto d = tenzip::parse_dtype(name);
  if (!d)
    throw tenzip::Error(tenzip::Errc::invalid_argument,
                        "unknown dtype '" + name + "' (bf16, fp16, fp32, fp8_e4m3, fp8_e5m2, bytes)");
  return *d;
}

void check_level(int level) {
  if (level < tenzip::kMinLevel || level > tenzip::kMaxLevel)
    throw tenzip::Error(tenzip::Errc::invalid_argument,
                        "level " + std::to_string(level) + " out of range (1..9)");
}

// Writes everything to fd (a file the Python side opened); retries short writes and EINTR.
void write_fd(int fd, std::span<const uint8_t> s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      throw OsError{errno, std::strerror(errno)};
    }
    s = s.subspan(static_cast<size_t>(n));
  }
}

// Progress from C++ (called on the thread that runs the work, GIL released): takes the GIL,
// lets Ctrl-C through (KeyboardInterrupt aborts the work) and calls the Python callback, if any.
// Calls are throttled to one per `kEvery` bytes.
class Progress {
 public:
  explicit Progress(nb::object cb) : cb_(std::move(cb)) {}
  void operator()(uint64_t done) {
    if (done < next_) return;
    next_ = done + kEvery;
    nb::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) throw nb::python_error();
    if (cb_.is_valid() && !cb_.is_none()) cb_(done);
  }
  void finish(uint64_t done) {
    next_ = 0;
    (*this)(done);
  }

 private:
  static constexpr uint64_t kEvery = uint64_t{4} << 20;
  nb::object cb_;
  uint64_t next_ = 0;
};

// Compresses `src` (elements of `dtype`) into a container with `metadata`, to `sink`, in 4 MiB
// blocks so that progress and Ctrl-C work on big buffers.
uint64_t compress_to(std::span<const uint8_t> src, const tenzip::Sink& sink, tenzip::DType dtype, int level,
                     unsigned threads, uint32_t chunk_elems, std::span<const uint8_t> metadata, Progress* progress,
                     bool lanes) {
  check_level(level);
  tenzip::CompressOptions o;
  o.dtype = dtype;
  o.level = level;
  o.lanes = lanes;
  o.threads = threads;
  o.chunk_elems = chunk_elems;
  tenzip::Compressor comp(o, sink);
  // A multiple of every element size and of the chunk size, so that blocks split nothing.
  const size_t block = std::max<size_t>(size_t{4} << 20, size_t{chunk_elems} * 4 * threads);
  for (size_t off = 0; off < src.size();) {
    const size_t n = std::min(block, src.size() - off);
    comp.write(src.subspan(off, n));
    off += n;
    if (progress) (*progress)(off);
  }
  if (!metadata.empty()) comp.set_metadata(metadata);
  return comp.finish();
}

nb::bytes to_bytes(const std::vector<uint8_t>& v) { return nb::bytes(v.data(), v.size()); }

// ---------------------------------------------------------------- buffers

// compress(src, dtype, level, threads, chunk_elems, metadata) -> bytes
nb::bytes compress(const In& src, const std::string& dtype, int level, std::optional<unsigned> threads,
                   uint32_t chunk_elems, const nb::bytes& metadata, bool lanes) {
  const tenzip::DType d = dtype_of(dtype);
  const std::string meta(metadata.c_str(), metadata.size());
  std::vector<uint8_t> out;
  Progress interrupt{nb::none()};  // no callback: only lets Ctrl-C stop a long run
  {
    nb::gil_scoped_release nogil;
    out.reserve(src.size() + src.size() / 64 + 4096);
    compress_to(
        span_of(src), [&](std::span<const uint8_t> s) { out.insert(out.end(), s.begin(), s.end()); }, d, level,
        resolve(threads), chunk_elems, {reinterpret_cast<const uint8_t*>(meta.data()), meta.size()}, &interrupt,
        lanes);
  }
  return to_bytes(out);
}

// model_file_layout(file, format) -> (format, [(name, dtype, shape, offset, size), ...]): the tensors of an
// uncompressed model file, validated by the same C++ parser compress_model uses.
nb::tuple model_file_layout(const In& file, const std::string& format) {
  tenzip::ModelFileLayout l;
  {
    nb::gil_scoped_release nogil;
    l = tenzip::read_model_layout(span_of(file), format);
  }
  nb::list tensors;
  for (const auto& t : l.tensors) {
    nb::list shape;
    for (uint64_t d : t.shape) shape.append(d);
    tensors.append(nb::make_tuple(t.name, t.dtype, nb::tuple(shape), t.offset, t.size, !t.strides.empty()));
  }
  return nb::make_tuple(l.format, tensors);
}

// info(container) -> dict: decoded_size, metadata (bytes), chunk_elems, n_chunks, n_segments, format_version
nb::dict container_info(const In& data) {
  std::optional<tenzip::Reader> r;
  {
    nb::gil_scoped_release nogil;
    r.emplace(span_of(data));
  }
  const auto& info = r->info();
  nb::dict d;
  d["format_version"] = info.format_version;
  d["chunk_elems"] = info.chunk_elems;
  d["container_size"] = info.container_size;
  d["decoded_size"] = info.decoded_size;
  d["n_segments"] = info.segments.size();
  d["n_chunks"] = info.chunks.size();
  d["metadata"] = to_bytes(info.metadata);
  return d;
}

// Decodes a whole container into `out` (exactly its decoded size).
void decompress_into(const In& data, const Out& out, std::optional<unsigned> threads) {
  nb::gil_scoped_release nogil;
  const tenzip::Reader r(span_of(data));
  r.decode_all(span_of(out), resolve(threads));
}

// Decodes a whole container into a new bytes object (filled in place, no extra copy).
nb::object decompress_bytes(const In& data, std::optional<unsigned> threads) {
  std::optional<tenzip::Reader> r;
  {
    nb::gil_scoped_release nogil;
    r.emplace(span_of(data));
  }
  const uint64_t n = r->info().decoded_size;
  if (n > static_cast<uint64_t>(PY_SSIZE_T_MAX)) throw std::bad_alloc();
  PyObject* b = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(n));
  if (!b) throw nb::python_error();
  nb::object owner = nb::steal(b);
  uint8_t* dst = reinterpret_cast<uint8_t*>(PyBytes_AsString(b));
  {
    nb::gil_scoped_release nogil;
    r->decode_all({dst, static_cast<size_t>(n)}, resolve(threads));
  }
  return owner;
}

// Streams a container held in memory to fd (bounded memory); returns (decoded bytes, metadata).
// Refuses trailing bytes after the container, as the CLI does.
nb::tuple decompress_stream_to_fd(const In& data, int fd, std::optional<unsigned> threads, nb::object progress_cb) {
  Progress progress(std::move(progress_cb));
  std::vector<uint8_t> meta;
  uint64_t n = 0;
  {
    nb::gil_scoped_release nogil;
    const auto src = span_of(data);
    size_t pos = 0;
    n = tenzip::decompress_stream(
        [&](std::span<uint8_t> dst) {
          const size_t k = std::min(dst.size(), src.size() - pos);
          std::memcpy(dst.data(), src.data() + pos, k);
          pos += k;
          return k;
        },
        [&](std::span<const uint8_t> s) { write_fd(fd, s); }, resolve(threads), &meta);
    if (pos != src.size())
      throw tenzip::Error(tenzip::Errc::corrupt_input, "unexpected data after the end of the container");
    progress.finish(n);
  }
  return nb::make_tuple(n, to_bytes(meta));
}

// Compresses a buffer to fd as one container of `dtype` (a raw file: tenzip compress --dtype).
uint64_t compress_to_fd(const In& src, int fd, const std::string& dtype, int level, std::optional<unsigned> threads,
                        uint32_t chunk_elems, nb::object progress_cb, bool lanes) {
  const tenzip::DType d = dtype_of(dtype);
  Progress progress(std::move(progress_cb));
  nb::gil_scoped_release nogil;
  const uint64_t n = compress_to(
      span_of(src), [&](std::span<const uint8_t> s) { write_fd(fd, s); }, d, level, resolve(threads), chunk_elems,
      {}, &progress, lanes);
  progress.finish(src.size());
  return n;
}

// ---------------------------------------------------------------- model files

nb::dict compress_model_to_fd(const In& file, int fd, int level, std::optional<unsigned> threads,
                              uint32_t chunk_elems, const std::string& format, const std::optional<In>& base,
                              const std::string& name_hint, nb::object progress_cb, bool lanes) {
  check_level(level);
  Progress progress(std::move(progress_cb));
  tenzip::ModelCompressResult res;
  std::vector<uint8_t> mem;  // fd < 0: the container is returned as bytes
  {
    nb::gil_scoped_release nogil;
    tenzip::ModelCompressOptions o;
    o.level = level;
    o.lanes = lanes;
    o.threads = resolve(threads);
    o.chunk_elems = chunk_elems;
    o.format = format;
    o.progress = [&](uint64_t done) { progress(done); };
    res = tenzip::compress_model(
        span_of(file),
        [&](std::span<const uint8_t> s) {
          if (fd >= 0) write_fd(fd, s);
          else mem.insert(mem.end(), s.begin(), s.end());
        },
        o, span_of(base), name_hint);
    progress.finish(file.size());
  }
  nb::dict d;
  d["format"] = res.format;
  d["bytes_in"] = res.bytes_in;
  d["bytes_out"] = res.bytes_out;
  d["n_tensors"] = res.n_tensors;
  d["n_delta_regions"] = res.n_delta_regions;
  if (fd < 0) d["data"] = to_bytes(mem);
  return d;
}

// A ModelReader over a buffer it keeps alive (an mmap, bytes, ...).
class PyModelReader {
 public:
  explicit PyModelReader(In data) : data_(std::move(data)) {
    nb::gil_scoped_release nogil;
    reader_.emplace(span_of(data_));
  }

  const tenzip::ModelReader& r() const { return *reader_; }

  nb::list tensors() const {
    nb::list out;
    for (const auto& t : r().tensors()) {
      nb::list shape;
      for (uint64_t s : t.shape) shape.append(s);
      out.append(nb::make_tuple(t.name, t.dtype, nb::tuple(shape), t.size, std::string(tenzip::dtype_name(t.codec_dtype)),
                                t.stored_size, t.delta));
    }
    return out;
  }

  void extract_into(size_t i, const Out& out, const std::optional<In>& base, std::optional<unsigned> threads) const {
    nb::gil_scoped_release nogil;
    r().extract_into(i, span_of(out), span_of(base), resolve(threads));
  }

  // Decodes tensors[i] into outs[i] for every i, on `threads` threads: a tensor big enough to
  // keep every thread busy on its own chunks is decoded with all of them, one after another;
  // the small ones are spread over the threads, one tensor per thread at a time.
  void extract_many(const std::vector<size_t>& idx, const nb::list& out_list, const std::optional<In>& base,
                    std::optional<unsigned> threads) const {
    if (idx.size() != out_list.size())
      throw tenzip::Error(tenzip::Errc::invalid_argument, "extract_many: as many outputs as tensors are needed");
    std::vector<Out> outs;
    outs.reserve(out_list.size());
    for (nb::handle h : out_list) {
      Out o;
      if (!nb::try_cast(h, o, /*convert=*/false))
        throw nb::type_error("extract_many: every output must be a writable, C-contiguous 1-D uint8 CPU array");
      outs.push_back(std::move(o));
    }
    const unsigned T = resolve(threads);
    const auto base_span = span_of(base);
    nb::gil_scoped_release nogil;
    const auto& ts = r().tensors();
    const uint64_t big = uint64_t{T} * (uint64_t{1} << 18);  // T chunks of 64K 4-byte elements
    std::vector<size_t> small;
    for (size_t k = 0; k < idx.size(); ++k) {
      if (idx[k] >= ts.size())
        throw tenzip::Error(tenzip::Errc::invalid_argument, "extract: tensor " + std::to_string(idx[k]) + " out of range");
      if (T > 1 && ts[idx[k]].size < big) small.push_back(k);
      else r().extract_into(idx[k], span_of(outs[k]), base_span, T);
    }
    if (small.empty()) return;
    std::atomic<size_t> next{0};
    std::exception_ptr first;
    size_t first_k = SIZE_MAX;
    std::mutex mu;
    auto work = [&] {
      for (;;) {
        const size_t j = next++;
        if (j >= small.size()) return;
        const size_t k = small[j];
        try {
          r().extract_into(idx[k], span_of(outs[k]), base_span, 1);
        } catch (...) {
          std::lock_guard lock(mu);
          if (k < first_k) {
            first_k = k;
            first = std::current_exception();
          }
        }
      }
    };
    std::vector<std::thread> pool;
    const size_t n_threads = std::min<size_t>(T, small.size());
    for (size_t w = 1; w < n_threads; ++w) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    if (first) std::rethrow_exception(first);
  }

  // Bytes [offset, offset + size) of the original file, decoding only the chunks that hold
  // them; a delta region's are undone against `base` (required then).
  nb::bytes read_range(uint64_t offset, uint64_t size, const std::optional<In>& base) const {
    if (offset > r().file_size() || size > r().file_size() - offset)
      throw tenzip::Error(tenzip::Errc::invalid_argument, "read_range: beyond the end of the file");
    std::vector<uint8_t> out(size);
    {
      nb::gil_scoped_release nogil;
      r().read_range(offset, out, span_of(base));
    }
    return to_bytes(out);
  }

  // The same into caller memory (tenzip.open's large reads), on `threads` threads.
  void read_into(uint64_t offset, const Out& out, const std::optional<In>& base, std::optional<unsigned> threads) const {
    nb::gil_scoped_release nogil;
    r().read_range(offset, span_of(out), span_of(base), resolve(threads));
  }

  // (start, size) of the chunk holding byte `offset` of the file: the unit tenzip.open caches
  // for small reads.
  std::pair<uint64_t, uint64_t> chunk_span(uint64_t offset) const {
    const tenzip::Reader& rd = r().reader();
    const size_t i = rd.chunk_at(offset);
    return {rd.info().chunks[i].decoded_offset, rd.chunk_bytes(i)};
  }

  uint64_t decompress_to_fd(int fd, const std::optional<In>& base, std::optional<unsigned> threads,
                            nb::object progress_cb) const {
    Progress progress(std::move(progress_cb));
    uint64_t done = 0;
    nb::gil_scoped_release nogil;
    r().decompress(
        [&](std::span<const uint8_t> s) {
          write_fd(fd, s);
          progress(done += s.size());
        },
        span_of(base), resolve(threads));
    progress.finish(done);
    return done;
  }

 private:
  In data_;
  std::optional<tenzip::ModelReader> reader_;
};

// ---------------------------------------------------------------- small helpers

// dst[dst_offset : dst_offset + len(src)] = src, GIL released (memcpy speed, no temporaries).
void copy_into(const Out& dst, uint64_t dst_offset, const In& src) {
  if (dst_offset > dst.size() || src.size() > dst.size() - dst_offset)
    throw tenzip::Error(tenzip::Errc::invalid_argument, "copy_into: source does not fit the destination");
  nb::gil_scoped_release nogil;
  if (src.size()) std::memcpy(dst.data() + dst_offset, src.data(), src.size());
}

// The Python-side name of an error code (TenzipError.code): the enumerator's own name.
const char* errc_id(tenzip::Errc e) {
  switch (e) {
    case tenzip::Errc::invalid_argument: return "invalid_argument";
    case tenzip::Errc::corrupt_input: return "corrupt_input";
    case tenzip::Errc::truncated_input: return "truncated_input";
    case tenzip::Errc::checksum_mismatch: return "checksum_mismatch";
    case tenzip::Errc::unsupported_version: return "unsupported_version";
    case tenzip::Errc::io_error: return "io_error";
    case tenzip::Errc::internal: return "internal";
  }
  return "internal";
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const OsError& e) {
    nb::object exc = nb::handle(PyExc_OSError)(e.err, e.message);
    PyErr_SetObject(PyExc_OSError, exc.ptr());
  } catch (const tenzip::Error& e) {
    if (e.code() == tenzip::Errc::io_error) {
      PyErr_SetString(PyExc_OSError, e.what());
      return;
    }
    try {
      nb::object cls = nb::module_::import_("tenzip._errors").attr("TenzipError");
      nb::object exc = cls(e.what(), errc_id(e.code()));
      PyErr_SetObject(cls.ptr(), exc.ptr());
    } catch (nb::python_error& pe) {
      pe.discard_as_unraisable("tenzip: cannot create TenzipError");
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  }
}

}  // namespace

NB_MODULE(_ext, m) {
  m.doc() = "tenzip C++ core (nanobind bindings); use the `tenzip` package instead";
  nb::register_exception_translator(translate);

  m.attr("version") = std::string(tenzip::version_string());
  m.attr("format_version") = tenzip::kFormatVersion;
  m.attr("min_level") = tenzip::kMinLevel;
  m.attr("max_level") = tenzip::kMaxLevel;
  m.def("hardware_threads", &hardware_threads);
  m.def("parse_dtype", [](const std::string& name) -> std::optional<std::string> {
    const auto d = tenzip::parse_dtype(name);
    if (!d) return std::nullopt;
    return std::string(tenzip::dtype_name(*d));
  });
  m.def("model_formats", [] {
    std::vector<std::string> v;
    for (auto f : tenzip::model_formats()) v.emplace_back(f);
    return v;
  });
  m.def("detect_model_format", [](const In& head, const std::string& name_hint) {
    return std::string(tenzip::detect_model_format(span_of(head), name_hint));
  }, "head"_a.noconvert(), "name_hint"_a = "");
  m.def("folder_compresses", [](const std::string& file_name, const In& head) {
    return tenzip::folder_compresses(file_name, span_of(head));
  }, "file_name"_a, "head"_a.noconvert());
  m.def("model_metadata_needs_base", [](const nb::bytes& meta) {
    return tenzip::model_metadata_needs_base({reinterpret_cast<const uint8_t*>(meta.c_str()), meta.size()});
  });

  m.def("compress", &compress, "src"_a.noconvert(), "dtype"_a, "level"_a, "threads"_a.none(), "chunk_elems"_a,
        "metadata"_a, "lanes"_a = false);
  m.def("container_info", &container_info, "data"_a.noconvert());
  m.def("model_file_layout", &model_file_layout, "file"_a.noconvert(), "format"_a = "auto");
  m.def("decompress_into", &decompress_into, "data"_a.noconvert(), "out"_a.noconvert(), "threads"_a.none());
  m.def("decompress_bytes", &decompress_bytes, "data"_a.noconvert(), "threads"_a.none());
  m.def("decompress_stream_to_fd", &decompress_stream_to_fd, "data"_a.noconvert(), "fd"_a, "threads"_a.none(),
        "progress"_a.none());
  m.def("compress_to_fd", &compress_to_fd, "src"_a.noconvert(), "fd"_a, "dtype"_a, "level"_a, "threads"_a.none(),
        "chunk_elems"_a, "progress"_a.none(), "lanes"_a = false);
  m.def("compress_model_to_fd", &compress_model_to_fd, "file"_a.noconvert(), "fd"_a, "level"_a, "threads"_a.none(),
        "chunk_elems"_a, "format"_a, "base"_a.noconvert().none(), "name_hint"_a, "progress"_a.none(),
        "lanes"_a = false);
  m.def("copy_into", &copy_into, "dst"_a.noconvert(), "dst_offset"_a, "src"_a.noconvert());

  nb::class_<PyModelReader>(m, "ModelReader")
      .def(nb::init<In>(), "data"_a.noconvert())
      .def_prop_ro("format", [](const PyModelReader& s) { return s.r().format(); })
      .def_prop_ro("is_model", [](const PyModelReader& s) { return s.r().is_model(); })
      .def_prop_ro("needs_base", [](const PyModelReader& s) { return s.r().needs_base(); })
      .def_prop_ro("file_size", [](const PyModelReader& s) { return s.r().file_size(); })
      .def("tensors", &PyModelReader::tensors)
      .def("find", [](const PyModelReader& s, const std::string& name) { return s.r().find(name); })
      .def("extract_into", &PyModelReader::extract_into, "index"_a, "out"_a.noconvert(), "base"_a.noconvert().none(),
           "threads"_a.none())
      .def("extract_many", &PyModelReader::extract_many, "indices"_a, "outs"_a, "base"_a.noconvert().none(),
           "threads"_a.none())
      .def("read_range", &PyModelReader::read_range, "offset"_a, "size"_a, "base"_a.noconvert().none() = nb::none())
      .def("read_into", &PyModelReader::read_into, "offset"_a, "out"_a.noconvert(), "base"_a.noconvert().none(),
           "threads"_a.none())
      .def("chunk_span", &PyModelReader::chunk_span, "offset"_a)
      .def("decompress_to_fd", &PyModelReader::decompress_to_fd, "fd"_a, "base"_a.noconvert().none(),
           "threads"_a.none(), "progress"_a.none());
}
