// NumPy's .npy (one array) and .npz (a zip of .npy members, np.savez) -> FileLayout.
//
// .npy (numpy.lib.format): "\x93NUMPY", u8 major, u8 minor, the header length (u16 LE for
// version 1.0, u32 LE for 2.0 and 3.0), the header, then the array's bytes. The header is a
// Python dict literal with exactly the keys 'descr' (a dtype string such as '<f4', or a list for
// structured dtypes), 'fortran_order' (True/False) and 'shape' (a tuple of ints), padded with
// spaces and a newline.
//
// Validation follows numpy's reader (_read_array_header, descr_to_dtype): versions 1.0-3.0,
// headers of at most 10,000 characters, exactly those three keys, a tuple of non-negative ints
// for the shape, a bool for fortran_order, and the data inside the file. Python 2's long-int
// suffix ('3L', which numpy still reads in 1.0/2.0 headers) is accepted. Stricter than numpy:
// a key written twice is refused.
//
// What becomes a tensor: arrays of a plain dtype string ('<f4', '|u1', '<c8', '<U10', ...),
// whose dtype is reported as numpy spells it (dtype.str, what np.load reports: '|V2' for '<V2').
// Little-endian fp32/complex64 data is coded as fp32, fp16 as fp16, '<V2' (ml_dtypes' bfloat16,
// saved as 2-byte voids) as bf16 if a sample codes smaller so, everything else as bytes. Object arrays ('|O', whose data is a pickle) and
// structured dtypes stay part of the bytes around them, as does a .npz member that is deflated
// (np.savez_compressed) or not a .npy.
#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "container/format.hpp"
#include "formats/layout.hpp"
#include "formats/zip.hpp"

namespace tenzip::formats {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";
constexpr size_t kMaxHeaderChars = 10000;  // numpy's _MAX_HEADER_SIZE
constexpr int kMaxNesting = 32;            // lists/tuples inside a structured descr
// '<V2' arrays are tried as bf16 on their first 64 KiB; below 1 KiB the trial is not worth it.
constexpr uint64_t kTrialBytes = uint64_t{64} << 10;
constexpr uint64_t kMinTrialBytes = 1024;

std::string num(uint64_t v) { return std::to_string(v); }

// What the header says.
struct Header {
  std::string descr;        // a plain dtype string ...
  bool structured = false;  // ... or a list (a structured dtype): then empty
  bool fortran_order = false;
  std::vector<uint64_t> shape;
  uint64_t data_offset = 0;  // from the start of the .npy
};

// A recursive-descent reader of the Python literals a header holds: a dict of string keys whose
// values are strings, True/False, ints, and tuples/lists of these.
class Literal {
 public:
  Literal(std::string_view text, const std::string& who, bool python2_longs)
      : s_(text), who_(who), python2_longs_(python2_longs) {}

  Header read_dict() {
    Header h;
    bool have_descr = false, have_order = false, have_shape = false;
    expect('{');
    for (;;) {
      skip_space();
      if (peek() == '}') break;
      const std::string key = read_string();
      expect(':');
      bool* seen = key == "descr"           ? &have_descr
                   : key == "fortran_order" ? &have_order
                   : key == "shape"         ? &have_shape
                                            : nullptr;
      if (seen == nullptr)
        fail("header has the key '" + printable(key) + "' (expected exactly 'descr', 'fortran_order' and 'shape')");
      if (*seen) fail("header has the key '" + key + "' twice");
      *seen = true;
      skip_space();
      if (key == "descr") {
        if (peek() == '\'' || peek() == '"') {
          h.descr = read_string();
        } else {
          skip_value(0);  // a structured dtype: its data stays bytes
          h.structured = true;
        }
      } else if (key == "fortran_order") {
        h.fortran_order = read_bool();
      } else {
        h.shape = read_shape();
      }
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      skip_space();
      if (peek() != '}') fail(std::string("expected ',' or '}' in the header, found ") + describe_here());
    }
    expect('}');
    skip_space();
    if (i_ != s_.size()) fail("header has text after its dict: " + describe_here());
    if (!have_descr || !have_order || !have_shape)
      fail(std::string("header lacks the key '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") +
           "'");
    return h;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw Error(Errc::corrupt_input, who_ + ": " + what); }
  static std::string printable(std::string_view s) { return zip::printable(s); }
  char peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  std::string describe_here() const {
    if (i_ >= s_.size()) return "the end of the header";
    std::string out = "'";
    out += printable(s_.substr(i_, 1));
    out += "' at header offset ";
    out += num(i_);
    return out;
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\t' || s_[i_] == '\n' || s_[i_] == '\r')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (peek() != c) fail(std::string("expected '") + c + "' in the header, found " + describe_here());
    ++i_;
  }
  std::string read_string() {
    skip_space();
    const char q = peek();
    if (q != '\'' && q != '"') fail("expected a string in the header, found " + describe_here());
    const size_t start = ++i_;
    while (i_ < s_.size() && s_[i_] != q) {
      if (s_[i_] == '\\') fail("header string has an escape (no dtype or key needs one)");
      if (s_[i_] == '\n') fail("header string is not closed on its line");
      ++i_;
    }
    if (i_ >= s_.size()) fail("header string is not closed");
    return std::string(s_.substr(start, i_++ - start));
  }
  bool read_bool() {
    if (s_.substr(i_, 4) == "True") {
      i_ += 4;
      return true;
    }
    if (s_.substr(i_, 5) == "False") {
      i_ += 5;
      return false;
    }
    fail("fortran_order is not True or False: " + describe_here());
  }
  // A non-negative decimal int (Python 2's 'L' suffix in version 1.0 and 2.0 headers, which
  // numpy filters out before parsing).
  uint64_t read_uint() {
    skip_space();
    if (peek() == '-') fail("shape has a negative dimension");
    if (peek() < '0' || peek() > '9') fail("shape holds something other than ints: " + describe_here());
    uint64_t v = 0;
    while (peek() >= '0' && peek() <= '9') {
      if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, static_cast<uint64_t>(peek() - '0'), &v))
        fail("shape has a dimension above 2^64");
      ++i_;
    }
    if (python2_longs_ && (peek() == 'L' || peek() == 'l')) ++i_;
    return v;
  }
  std::vector<uint64_t> read_shape() {
    if (peek() != '(') fail("shape is not a tuple: " + describe_here());
    ++i_;
    std::vector<uint64_t> dims;
    bool comma = false;  // after the last element
    for (;;) {
      skip_space();
      if (peek() == ')') break;
      dims.push_back(read_uint());
      skip_space();
      comma = peek() == ',';
      if (comma) {
        ++i_;
        continue;
      }
      if (peek() != ')') fail("expected ',' or ')' in the shape, found " + describe_here());
    }
    ++i_;
    // (3) is the int 3 in Python, not a tuple: numpy refuses it.
    if (dims.size() == 1 && !comma) fail("shape is not a tuple: (" + num(dims[0]) + ") is an int");
    return dims;
  }
  // Skips a structured descr: strings, ints and nested lists/tuples of them.
  void skip_value(int depth) {
    if (depth > kMaxNesting) fail("descr nests deeper than " + num(kMaxNesting) + " levels");
    skip_space();
    const char c = peek();
    if (c == '\'' || c == '"') {
      read_string();
      return;
    }
    if (c >= '0' && c <= '9') {
      read_uint();
      return;
    }
    if (c != '[' && c != '(') fail("descr is not a valid dtype descriptor: " + describe_here());
    const char close = c == '[' ? ']' : ')';
    ++i_;
    for (;;) {
      skip_space();
      if (peek() == close) break;
      skip_value(depth + 1);
      skip_space();
      if (peek() == ',') {
        ++i_;
        continue;
      }
      if (peek() != close) fail(std::string("expected ',' or '") + close + "' in the descr, found " + describe_here());
    }
    ++i_;
  }

  std::string_view s_;
  const std::string& who_;
  bool python2_longs_;
  size_t i_ = 0;
};

// A plain dtype string: byte order, kind and item size.
struct DescrInfo {
  bool tensor = false;     // a plain dtype whose bytes are the elements (not 'O')
  uint64_t itemsize = 0;   // bytes per element
  DType codec = DType::bytes;
  bool untyped_pair = false;  // 'V2': ml_dtypes' bfloat16 (np.save keeps only the item size)
  std::string str;            // as numpy's dtype.str spells it (np.load's view): '|V2' for '<V2'
};

// numpy's dtype strings: [<>|=]? kind size? [unit]? — e.g. '<f4', '|b1', '<U10' (10 UCS-4
// characters), '|S5', '|V16', '<M8[ns]', '|O'.
DescrInfo parse_descr(const std::string& d, const std::string& who) {
  const auto bad = [&] {
    throw Error(Errc::corrupt_input, who + ": descr '" + zip::printable(d) + "' is not a valid dtype");
  };
  DescrInfo out;
  size_t i = 0;
  char order = '=';
  if (i < d.size() && (d[i] == '<' || d[i] == '>' || d[i] == '|' || d[i] == '=')) order = d[i++];
  const std::string rest = d.substr(i);  // kind, size, unit
  if (i >= d.size()) bad();
  const char kind = d[i++];
  uint64_t size = 0;
  bool has_size = false;
  while (i < d.size() && d[i] >= '0' && d[i] <= '9') {
    const uint64_t digit = static_cast<uint64_t>(d[i] - '0');
    if (__builtin_mul_overflow(size, 10, &size) || __builtin_add_overflow(size, digit, &size)) bad();
    has_size = true;
    ++i;
  }
  if (i < d.size()) {
    // Only datetimes carry a unit: '<M8[ns]'.
    if ((kind != 'M' && kind != 'm') || d[i] != '[' || d.back() != ']') bad();
  }
  switch (kind) {
    case 'O':  // pointers in memory, a pickle in the file
      if (has_size && size != 8) bad();
      return out;
    case 'b':  // with a size, 'b' is bool ('|b1'); numpy's sizes for the fixed-size kinds:
      if (size != 1) bad();
      out.itemsize = 1;
      break;
    case 'i': case 'u':
      if (size != 1 && size != 2 && size != 4 && size != 8) bad();
      out.itemsize = size;
      break;
    case 'f':
      if (size != 2 && size != 4 && size != 8 && size != 16) bad();
      out.itemsize = size;
      break;
    case 'c':
      if (size != 8 && size != 16 && size != 32) bad();
      out.itemsize = size;
      break;
    case 'M': case 'm':
      if (size != 8) bad();
      out.itemsize = size;
      break;
    case 'S': case 'a': case 'V':  // flexible: any size, 0 too
      if (!has_size) bad();
      out.itemsize = size;
      break;
    case 'U':  // characters, four bytes each
      if (!has_size || size > UINT64_MAX / 4) bad();
      out.itemsize = size * 4;
      break;
    case '?':
      if (has_size && size != 1) bad();
      out.itemsize = 1;
      break;
    default:
      bad();
  }
  out.tensor = true;
  out.untyped_pair = kind == 'V' && size == 2;
  // numpy spells byte order '|' where it does not apply, and '=' as the machine's ('<').
  const bool no_order = kind == 'V' || kind == 'S' || kind == 'a' || kind == 'b' || kind == '?' || out.itemsize == 1;
  out.str = kind == '?' ? std::string("|b1") : (no_order ? "|" : order == '>' ? ">" : "<") + rest;
  // '=' is native order: little-endian on every target tenzip builds for.
  const bool little = order == '<' || order == '|' || order == '=';
  if (little && kind == 'f' && size == 4) out.codec = DType::fp32;
  else if (little && kind == 'c' && size == 8) out.codec = DType::fp32;  // complex64: two fp32 each
  else if (little && kind == 'f' && size == 2) out.codec = DType::fp16;
  return out;
}

// Reads the .npy at [begin, end) of `file`; `who` prefixes messages.
Header read_npy_header(std::span<const uint8_t> file, uint64_t begin, uint64_t end, const std::string& who) {
  const auto fail = [&](const std::string& what) { throw Error(Errc::corrupt_input, who + ": " + what); };
  const uint64_t avail = end - begin;
  if (avail < 6 || std::memcmp(file.data() + begin, kMagic.data(), kMagic.size()) != 0)
    fail("no .npy magic (\\x93NUMPY)");
  if (avail < 12) fail("data ends inside the .npy preamble (" + num(avail) + " bytes)");
  const uint8_t major = file[begin + 6], minor = file[begin + 7];
  if (minor != 0 || major < 1 || major > 3)
    fail("format version " + num(major) + "." + num(minor) + " is not one numpy reads (1.0, 2.0, 3.0)");
  const uint64_t len_size = major == 1 ? 2 : 4;  // the header length field
  const uint8_t* len_at = file.data() + begin + 8;
  const uint64_t hlen = major == 1 ? detail::load_u16(len_at) : detail::load_u32(len_at);  // avail >= 12
  const uint64_t hstart = 8 + len_size;
  if (hlen > avail - hstart)
    fail("header of " + num(hlen) + " bytes runs past the end of the data (" + num(avail - hstart) + " bytes left)");
  const std::string_view text(reinterpret_cast<const char*>(file.data() + begin + hstart), hlen);
  // numpy counts characters: one per byte in 1.0 and 2.0 (latin-1), one per lead byte in 3.0 (UTF-8).
  size_t chars = hlen;
  if (major == 3)
    chars = static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return (c & 0xC0) != 0x80; }));
  if (chars > kMaxHeaderChars) fail("header of " + num(chars) + " characters is longer than numpy reads (10000)");
  Header h = Literal(text, who, /*python2_longs=*/major < 3).read_dict();
  h.data_offset = hstart + hlen;
  return h;
}

// Adds the array of the .npy at [begin, end) to `out` as a tensor `name` with its own region,
// if its dtype makes it one.
void add_npy(std::span<const uint8_t> file, uint64_t begin, uint64_t end, const std::string& name,
             const std::string& who, FileLayout& out) {
  const Header h = read_npy_header(file, begin, end, who);
  const auto fail = [&](const std::string& what) { throw Error(Errc::corrupt_input, who + ": " + what); };
  if (h.structured) return;  // its data stays bytes
  const DescrInfo d = parse_descr(h.descr, who);
  uint64_t numel = 1;
  for (const uint64_t dim : h.shape)
    if (__builtin_mul_overflow(numel, dim, &numel)) fail("shape's element count overflows 64 bits");
  if (!d.tensor) return;  // an object array: its pickle stays bytes
  uint64_t bytes = 0;
  if (__builtin_mul_overflow(numel, d.itemsize, &bytes)) fail("array size overflows 64 bits");
  const uint64_t room = end - begin - h.data_offset;
  if (bytes > room)
    fail("array of " + num(numel) + " x " + num(d.itemsize) + " bytes needs " + num(bytes) + " bytes, " + num(room) +
         " follow the header");
  Region r;
  r.offset = begin + h.data_offset;
  r.size = bytes;
  r.dtype = d.codec;
  if (d.untyped_pair && bytes >= kMinTrialBytes) {
    // Coded as a 2-byte float if a sample codes smaller so (bf16 and fp16 split alike).
    static constexpr DType kPair[] = {DType::bytes, DType::bf16};
    r.dtype = smallest_coding(file.subspan(r.offset, std::min<uint64_t>(bytes, kTrialBytes)), kPair);
  }
  r.name = name;
  Tensor t;
  t.name = name;
  t.dtype = d.str;
  t.shape = h.shape;
  t.region = out.regions.size();
  t.size = bytes;
  if (d.itemsize > UINT32_MAX) fail("item size " + num(d.itemsize) + " is 2^32 bytes or more");
  t.element_size = static_cast<uint32_t>(d.itemsize);
  if (h.fortran_order && h.shape.size() > 1 && numel > 0 && d.itemsize > 0) {
    // Column-major: the first index varies fastest (no overflow: the products divide numel).
    t.strides.resize(h.shape.size());
    uint64_t s = 1;
    for (size_t i = 0; i < h.shape.size(); ++i) {
      t.strides[i] = s;
      s *= h.shape[i];
    }
  }
  out.regions.push_back(std::move(r));
  out.tensors.push_back(std::move(t));
}

}  // namespace

bool looks_like_npy(std::span<const uint8_t> file) noexcept {
  return file.size() >= 10 && std::memcmp(file.data(), kMagic.data(), kMagic.size()) == 0;
}

FileLayout parse_npy(std::span<const uint8_t> file) {
  FileLayout out;
  out.format = "npy";
  add_npy(file, 0, file.size(), "array", "npy", out);
  return out;
}

bool looks_like_npz(std::span<const uint8_t> file) noexcept {
  // A local file header first, whose entry is a stored .npy (np.savez) or any entry named
  // *.npy (np.savez_compressed).
  if (file.size() < 30 + 22 || detail::load_u32(file.data()) != 0x04034b50) return false;
  const size_t n = detail::load_u16(&file[26]);
  if (n < 4 || n > file.size() - 30) return false;
  const std::string_view name(reinterpret_cast<const char*>(&file[30]), n);
  return name.ends_with(".npy");
}

FileLayout parse_npz(std::span<const uint8_t> file) {
  const zip::Directory dir = zip::read_directory(file, "npz");
  FileLayout out;
  out.format = "npz";
  // Tensors in directory order, which is np.load's.
  for (const zip::Entry& e : dir.entries) {
    if (!e.stored() || !e.name.ends_with(".npy")) continue;  // np.load inflates or returns these: bytes here
    const std::string key = e.name.substr(0, e.name.size() - 4);  // np.load's name for it
    add_npy(file, e.data_offset, e.data_offset + e.compressed_size, key, "npz: member '" + zip::printable(e.name) + "'",
            out);
  }
  // Regions in file order (one per tensor; a zip's directory may list entries in any order).
  std::vector<size_t> by_offset(out.regions.size()), new_index(out.regions.size());
  for (size_t i = 0; i < by_offset.size(); ++i) by_offset[i] = i;
  std::sort(by_offset.begin(), by_offset.end(),
            [&](size_t a, size_t b) { return out.regions[a].offset < out.regions[b].offset; });
  std::vector<Region> sorted;
  for (const size_t i : by_offset) {
    new_index[i] = sorted.size();
    sorted.push_back(std::move(out.regions[i]));
  }
  out.regions = std::move(sorted);
  for (Tensor& t : out.tensors) t.region = new_index[t.region];
  return out;
}

}  // namespace tenzip::formats
