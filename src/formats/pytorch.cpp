// torch.save zip files and TorchScript archives -> FileLayout (see formats/pytorch.hpp).
#include "formats/pytorch.hpp"

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "container/format.hpp"
#include "formats/pickle.hpp"
#include "formats/zip.hpp"

namespace tenzip::formats {

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

bool mul_ok(uint64_t a, uint64_t b, uint64_t& out) noexcept { return !__builtin_mul_overflow(a, b, &out); }

// A storage and the archive entry that holds it.
struct Storage {
  pickle::StorageRef ref;
  std::string name;                // "data/3", "constants/0"
  const zip::Entry* entry = nullptr;
  const pickle::ScalarType* tensor_type = nullptr;  // untyped storages: the one dtype of their tensors
  bool mixed = false;              // untyped storages: tensors of several dtypes
  size_t region = SIZE_MAX;        // SIZE_MAX: the entry is compressed, so no region
};

struct Pending {
  pickle::TensorRef ref;
  size_t storage;                  // index into the Storage list
};

class Parser {
 public:
  explicit Parser(std::span<const uint8_t> file) : f_(file) {}
  FileLayout run();

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(Errc::corrupt_input, fmt_ + ": " + what); }
  std::span<const uint8_t> read_stored(const zip::Entry& e) const {
    if (!e.stored())
      fail("entry '" + zip::printable(e.name) + "' is compressed (method " + num(e.method) + "); only stored entries are read");
    return f_.subspan(e.data_offset, e.compressed_size);  // in range: the zip reader checked it
  }
  void check_byteorder() const;
  void read_archive(const zip::Entry& pkl, const std::string& dir, bool constants);
  void add_tensor(const Pending& p, FileLayout& out) const;

  std::span<const uint8_t> f_;
  std::string fmt_ = "pytorch-zip";
  zip::Directory dir_;
  std::string root_;
  std::vector<Storage> storages_;
  std::vector<Pending> tensors_;
};

void Parser::check_byteorder() const {
  const zip::Entry* e = dir_.find(root_ + "/byteorder");
  if (!e) return;  // written since torch 2.1; older files are little-endian
  const auto b = read_stored(*e);
  const std::string_view s(reinterpret_cast<const char*>(b.data()), b.size());
  if (s == "little") return;
  if (s == "big") fail("big-endian archives (byteorder 'big') are not supported");
  fail("entry '" + zip::printable(e->name) + "' says '" + zip::printable(s.substr(0, 16)) + "', not 'little' or 'big'");
}

void Parser::read_archive(const zip::Entry& pkl, const std::string& dir, bool constants) {
  const std::string who = fmt_ + ": " + zip::printable(pkl.name);
  const pickle::Pickle p = pickle::parse(read_stored(pkl), who);
  pickle::TorchObjects objs = pickle::torch_objects(p, constants, who);
  const size_t base = storages_.size();
  for (auto& ref : objs.storages) {
    Storage s;
    s.name = dir + "/" + ref.key;
    const std::string entry = root_ + "/" + s.name;
    s.entry = dir_.find(entry);
    if (!s.entry) fail("storage '" + zip::printable(ref.key) + "' has no entry '" + zip::printable(entry) + "'");
    const uint64_t esize = ref.type ? ref.type->size : 1;
    uint64_t bytes = 0;
    if (!mul_ok(ref.numel, esize, bytes) || bytes != s.entry->uncompressed_size)
      fail("storage '" + zip::printable(ref.key) + "': " + num(ref.numel) + " elements of " + num(esize) +
           " bytes do not fill entry '" + zip::printable(entry) + "' (" + num(s.entry->uncompressed_size) + " bytes)");
    s.ref = std::move(ref);
    storages_.push_back(std::move(s));
  }
  for (auto& t : objs.tensors) {
    Storage& s = storages_[base + t.storage];
    if (!s.ref.type) {
      if (s.tensor_type && s.tensor_type != t.dtype) s.mixed = true;
      s.tensor_type = t.dtype;
    }
    const size_t si = base + t.storage;
    tensors_.push_back({std::move(t), si});
  }
}

void Parser::add_tensor(const Pending& p, FileLayout& out) const {
  const pickle::TensorRef& t = p.ref;
  const Storage& s = storages_[p.storage];
  const std::string who = "tensor '" + zip::printable(t.name) + "'";
  const uint64_t esize = t.dtype->size;
  const uint64_t capacity = s.entry->uncompressed_size / esize;  // elements of the tensor's dtype
  uint64_t numel = 1;
  bool empty = false;
  for (const uint64_t d : t.shape) empty |= d == 0;
  if (empty) {
    numel = 0;
  } else {
    for (const uint64_t d : t.shape)
      if (!mul_ok(numel, d, numel)) fail(who + ": its shape has more than 2^64 elements");
  }
  uint64_t size = 0;
  if (!mul_ok(numel, esize, size)) fail(who + ": its size overflows 64 bits");
  // torch requires the view to lie inside the storage (an empty view may start anywhere).
  uint64_t first = t.storage_offset;
  if (numel > 0) {
    unsigned __int128 last = t.storage_offset;
    for (size_t d = 0; d < t.shape.size(); ++d) last += static_cast<unsigned __int128>(t.shape[d] - 1) * t.stride[d];
    if (last >= capacity)
      fail(who + ": its view (storage_offset " + num(t.storage_offset) + ", size and stride) reaches past storage '" +
           zip::printable(s.ref.key) + "' (" + num(capacity) + " elements)");
  } else {
    first = std::min(first, capacity);
  }
  // Row-major contiguous (ignoring dimensions of size 1, as torch does): no strides needed.
  bool contiguous = true;
  uint64_t expect = 1;
  for (size_t d = t.shape.size(); d-- > 0 && numel > 0;) {
    if (t.shape[d] != 1 && t.stride[d] != expect) contiguous = false;
    expect *= t.shape[d];  // <= numel: no overflow
  }
  if (s.region == SIZE_MAX) return;  // compressed storage: not in the layout
  Tensor out_t;
  out_t.name = t.name;
  out_t.dtype = "torch." + std::string(t.dtype->name);
  out_t.shape = t.shape;
  out_t.region = s.region;
  out_t.offset = first * esize;  // first <= capacity: no overflow
  out_t.size = size;
  if (!contiguous) out_t.strides = t.stride;
  out_t.element_size = static_cast<uint32_t>(esize);
  out.tensors.push_back(std::move(out_t));
}

FileLayout Parser::run() {
  dir_ = zip::read_directory(f_, fmt_);
  if (dir_.entries.empty()) fail("the archive has no entries");
  // torch's reader takes the root from the first entry and requires every record under it.
  const std::string& first = dir_.entries[0].name;
  const size_t slash = first.find('/');
  if (slash == std::string::npos || slash == 0)
    fail("first entry '" + zip::printable(first) + "' is not inside a directory (torch archives keep everything under <name>/)");
  root_ = first.substr(0, slash);
  const zip::Entry* data = dir_.find(root_ + "/data.pkl");
  if (!data) fail("no entry '" + zip::printable(root_) + "/data.pkl' (not a PyTorch archive)");
  const zip::Entry* constants = dir_.find(root_ + "/constants.pkl");
  FileLayout out;
  out.format = constants ? "torchscript" : "pytorch-zip";  // as torch.load tells them apart
  fmt_ = out.format;
  check_byteorder();
  read_archive(*data, "data", false);
  if (constants) read_archive(*constants, "constants", true);

  // One region per stored storage entry, in file order.
  std::vector<size_t> order;
  for (size_t i = 0; i < storages_.size(); ++i)
    if (storages_[i].entry->stored()) order.push_back(i);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return storages_[a].entry->data_offset < storages_[b].entry->data_offset; });
  for (const size_t i : order) {
    Storage& s = storages_[i];
    Region r;
    r.offset = s.entry->data_offset;
    r.size = s.entry->uncompressed_size;
    r.name = s.name;
    const pickle::ScalarType* t = s.ref.type ? s.ref.type : (s.mixed ? nullptr : s.tensor_type);
    if (t && r.size % t->size == 0) r.dtype = t->codec;
    s.region = out.regions.size();
    out.regions.push_back(std::move(r));
  }
  for (const Pending& p : tensors_) add_tensor(p, out);
  return out;
}

}  // namespace

bool looks_like_zip(std::span<const uint8_t> file) noexcept {
  // A local file header first, naming one of the records torch writes under <root>/ (torch.save
  // starts with data.pkl, TorchScript with data/, or extra/ when it has extra files). Other
  // zips (.npz, .jar, torch.export's .pt2, TorchScript's pre-1.4 model.json) do not match.
  if (file.size() < 30 + 22 || detail::load_u32(file.data()) != 0x04034b50) return false;
  const size_t n = detail::load_u16(&file[26]);
  if (n > file.size() - 30) return false;
  const std::string_view name(reinterpret_cast<const char*>(&file[30]), n);
  const size_t slash = name.find('/');
  if (slash == std::string_view::npos || slash == 0) return false;
  const std::string_view rest = name.substr(slash + 1);
  for (const std::string_view r : {"data.pkl", "data/", "constants.pkl", "constants/", "code/", "extra/", "bytecode.pkl",
                                   "version", "byteorder", ".data/", ".format_version", ".storage_alignment"})
    if (rest.starts_with(r)) return true;
  return false;
}

FileLayout parse_pytorch_zip(std::span<const uint8_t> file) { return Parser(file).run(); }

std::vector<uint8_t> gather_tensor(std::span<const uint8_t> file, const FileLayout& layout, size_t tensor_index) {
  if (tensor_index >= layout.tensors.size())
    throw Error(Errc::invalid_argument, "gather_tensor: tensor " + num(tensor_index) + " of " + num(layout.tensors.size()));
  const Tensor& t = layout.tensors[tensor_index];
  const std::string who = layout.format.empty() ? std::string("model file") : layout.format;
  if (t.region >= layout.regions.size())
    throw Error(Errc::corrupt_input, who + ": tensor '" + t.name + "': points to a missing region");
  const Region& r = layout.regions[t.region];
  if (r.offset > file.size() || r.size > file.size() - r.offset)
    throw Error(Errc::corrupt_input, who + ": tensor '" + t.name + "': its region lies outside the file");
  try {
    return gather_tensor(file.subspan(r.offset, r.size), t);
  } catch (const Error& e) {
    throw Error(e.code(), who + ": " + e.what());
  }
}

}  // namespace tenzip::formats
