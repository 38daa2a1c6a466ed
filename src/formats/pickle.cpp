#include "formats/pickle.hpp"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>
#include <utility>

namespace tenzip::formats::pickle {

namespace {

std::string num(uint64_t v) { return std::to_string(v); }

// Opcodes (CPython Lib/pickle.py). Those of protocols 0-1 that torch never writes (text ints,
// floats and strings, INST, OBJ, PERSID, PUT/GET) and extensions/out-of-band buffers are named
// only to report them as unsupported.
enum Op : uint8_t {
  MARK = '(', STOP = '.', POP = '0', POP_MARK = '1', DUP = '2', FLOAT = 'F', INT = 'I', BININT = 'J',
  BININT1 = 'K', LONG = 'L', BININT2 = 'M', NONE = 'N', PERSID = 'P', BINPERSID = 'Q', REDUCE = 'R',
  STRING = 'S', BINSTRING = 'T', SHORT_BINSTRING = 'U', UNICODE = 'V', BINUNICODE = 'X', APPEND = 'a',
  BUILD = 'b', GLOBAL = 'c', DICT = 'd', EMPTY_DICT = '}', APPENDS = 'e', GET = 'g', BINGET = 'h',
  INST = 'i', LONG_BINGET = 'j', LIST = 'l', EMPTY_LIST = ']', OBJ = 'o', PUT = 'p', BINPUT = 'q',
  LONG_BINPUT = 'r', SETITEM = 's', TUPLE = 't', EMPTY_TUPLE = ')', SETITEMS = 'u', BINFLOAT = 'G',
  PROTO = 0x80, NEWOBJ = 0x81, EXT1 = 0x82, EXT2 = 0x83, EXT4 = 0x84, TUPLE1 = 0x85, TUPLE2 = 0x86,
  TUPLE3 = 0x87, NEWTRUE = 0x88, NEWFALSE = 0x89, LONG1 = 0x8a, LONG4 = 0x8b, BINBYTES = 'B',
  SHORT_BINBYTES = 'C', SHORT_BINUNICODE = 0x8c, BINUNICODE8 = 0x8d, BINBYTES8 = 0x8e, EMPTY_SET = 0x8f,
  ADDITEMS = 0x90, FROZENSET = 0x91, NEWOBJ_EX = 0x92, STACK_GLOBAL = 0x93, MEMOIZE = 0x94, FRAME = 0x95,
  BYTEARRAY8 = 0x96, NEXT_BUFFER = 0x97, READONLY_BUFFER = 0x98,
};

constexpr uint32_t kNone = 0, kFalse = 1, kTrue = 2;

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none: return "None";
    case Kind::boolean: return "bool";
    case Kind::integer: return "int";
    case Kind::big_integer: return "int (more than 64 bits)";
    case Kind::floating: return "float";
    case Kind::string: return "str";
    case Kind::bytes: return "bytes";
    case Kind::tuple: return "tuple";
    case Kind::list: return "list";
    case Kind::dict: return "dict";
    case Kind::set: return "set";
    case Kind::global: return "global";
    case Kind::call: return "object";
    case Kind::persistent_id: return "persistent id";
  }
  return "?";
}

std::string op_name(uint8_t op) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  s += digits[op >> 4];
  s += digits[op & 15];
  if (op >= 0x21 && op < 0x7f) s = "'" + std::string(1, char(op)) + "' (" + s + ")";
  return s;
}

class Parser {
 public:
  Parser(std::span<const uint8_t> data, const std::string& who) : d_(data), who_(who) {}
  Pickle run();

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(Errc::corrupt_input, who_ + ": " + what + " (opcode " + op_name(op_) + " at offset " + num(op_at_) + ")");
  }
  void need(uint64_t n) const {
    if (n > d_.size() - pos_)
      fail("needs " + num(n) + " bytes but the pickle has " + num(d_.size() - pos_) + " left");
  }
  uint64_t le(size_t n) {
    need(n);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{d_[pos_ + i]} << (8 * i);
    pos_ += n;
    return v;
  }
  // A length read from the pickle, checked against what is left of it.
  uint64_t length(size_t width) {
    const uint64_t n = le(width);
    if (n > d_.size() - pos_)
      fail("length " + num(n) + " runs past the end of the pickle (" + num(d_.size() - pos_) + " bytes left)");
    return n;
  }
  std::string take(uint64_t n) {
    need(n);
    std::string s(reinterpret_cast<const char*>(d_.data() + pos_), n);
    pos_ += n;
    return s;
  }
  std::string line() {
    const auto* start = d_.data() + pos_;
    const auto* nl = static_cast<const uint8_t*>(std::memchr(start, '\n', d_.size() - pos_));
    if (!nl) fail("GLOBAL name has no terminating newline");
    std::string s(reinterpret_cast<const char*>(start), nl - start);
    pos_ += s.size() + 1;
    return s;
  }

  uint32_t make(Object&& o) {
    if (p_.objects.size() >= kMaxObjects) fail("more than " + num(kMaxObjects) + " objects");
    p_.objects.push_back(std::move(o));
    return static_cast<uint32_t>(p_.objects.size() - 1);
  }
  uint32_t make(Kind k, std::vector<uint32_t> items = {}) {
    Object o;
    o.kind = k;
    o.items = std::move(items);
    return make(std::move(o));
  }
  void push(uint32_t i) {
    if (stack_.size() >= kMaxStack) fail("stack holds more than " + num(kMaxStack) + " objects");
    stack_.push_back(i);
  }
  size_t frame_start() const { return marks_.empty() ? 0 : marks_.back(); }
  uint32_t pop() {
    if (stack_.size() <= frame_start()) fail("stack underflow");
    const uint32_t v = stack_.back();
    stack_.pop_back();
    return v;
  }
  uint32_t top() const {
    if (stack_.size() <= frame_start()) fail("stack underflow");
    return stack_.back();
  }
  std::vector<uint32_t> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    const size_t m = marks_.back();
    marks_.pop_back();
    std::vector<uint32_t> items(stack_.begin() + static_cast<ptrdiff_t>(m), stack_.end());
    stack_.resize(m);
    return items;
  }
  Object& obj(uint32_t i) { return p_.objects[i]; }

  uint32_t integer(int64_t v) {
    Object o;
    o.kind = Kind::integer;
    o.integer = v;
    return make(std::move(o));
  }
  // LONG1/LONG4: little-endian two's complement of n bytes.
  uint32_t long_int(uint64_t n) {
    const std::string b = take(n);
    if (n > 8) return make(Kind::big_integer);
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<uint8_t>(b[i])} << (8 * i);
    if (n > 0 && n < 8 && (static_cast<uint8_t>(b[n - 1]) & 0x80)) v |= ~uint64_t{0} << (8 * n);
    return integer(static_cast<int64_t>(v));
  }
  uint32_t text(Kind k, uint64_t n) {
    Object o;
    o.kind = k;
    o.text = take(n);
    return make(std::move(o));
  }
  uint32_t global(std::string module, std::string name) {
    if (module.empty() || name.empty()) fail("GLOBAL with an empty module or name");
    Object o;
    o.kind = Kind::global;
    o.text = std::move(module);
    o.name = std::move(name);
    return make(std::move(o));
  }
  uint32_t call(uint32_t callable, uint32_t args, uint32_t kwargs = kNoObject) {
    if (obj(args).kind != Kind::tuple) fail("arguments are a " + std::string(kind_name(obj(args).kind)) + ", not a tuple");
    std::vector<uint32_t> items{callable, args};
    if (kwargs != kNoObject) items.push_back(kwargs);
    return make(Kind::call, std::move(items));
  }
  void set_items(std::vector<uint32_t> kv) {
    if (kv.size() % 2) fail("odd number of items for a dict");
    Object& t = obj(top());
    if (t.kind == Kind::dict) t.items.insert(t.items.end(), kv.begin(), kv.end());
    else if (t.kind == Kind::call) t.set_items.insert(t.set_items.end(), kv.begin(), kv.end());
    else fail("sets items on a " + std::string(kind_name(t.kind)));
  }
  void append(const std::vector<uint32_t>& v) {
    Object& t = obj(top());
    if (t.kind == Kind::list) t.items.insert(t.items.end(), v.begin(), v.end());
    else if (t.kind == Kind::call) t.appended.insert(t.appended.end(), v.begin(), v.end());
    else fail("appends to a " + std::string(kind_name(t.kind)));
  }
  void memo_put(uint64_t key) {
    if (memo_.size() >= kMaxMemo && !memo_.count(key)) fail("memo holds more than " + num(kMaxMemo) + " objects");
    memo_[key] = top();
  }
  void memo_get(uint64_t key) {
    const auto it = memo_.find(key);
    if (it == memo_.end()) fail("memo key " + num(key) + " was never stored");
    push(it->second);
  }
  bool step();

  std::span<const uint8_t> d_;
  std::string who_;
  size_t pos_ = 0;
  size_t op_at_ = 0;
  uint8_t op_ = 0;
  Pickle p_;
  std::vector<uint32_t> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, uint32_t> memo_;
};

// One opcode; returns false after STOP.
bool Parser::step() {
  op_at_ = pos_;
  op_ = d_[pos_++];
  switch (op_) {
    case PROTO: {
      const uint64_t v = le(1);
      if (op_at_ != 0) fail("PROTO after the start");
      if (v < 2 || v > 5) fail("protocol " + num(v) + " is not supported (2 to 5 are)");
      break;
    }
    case FRAME: length(8); break;  // frames only group opcodes for buffered readers
    case STOP: {
      if (!marks_.empty()) fail("STOP with " + num(marks_.size()) + " MARKs still open");
      if (stack_.size() != 1) fail("STOP with " + num(stack_.size()) + " objects on the stack instead of 1");
      if (pos_ != d_.size()) fail(num(d_.size() - pos_) + " bytes after STOP");
      p_.root = stack_.back();
      return false;
    }
    case MARK:
      if (marks_.size() >= kMaxDepth) fail("more than " + num(kMaxDepth) + " nested MARKs");
      marks_.push_back(stack_.size());
      break;
    case POP: pop(); break;
    case POP_MARK: pop_mark(); break;
    case DUP: push(top()); break;
    case NONE: push(kNone); break;
    case NEWTRUE: push(kTrue); break;
    case NEWFALSE: push(kFalse); break;
    case BININT: push(integer(static_cast<int32_t>(le(4)))); break;
    case BININT1: push(integer(static_cast<int64_t>(le(1)))); break;
    case BININT2: push(integer(static_cast<int64_t>(le(2)))); break;
    case LONG1: push(long_int(length(1))); break;
    case LONG4: push(long_int(length(4))); break;
    case BINFLOAT: {
      need(8);
      uint64_t bits = 0;
      for (int i = 0; i < 8; ++i) bits = bits << 8 | d_[pos_ + i];  // big-endian
      pos_ += 8;
      Object o;
      o.kind = Kind::floating;
      o.integer = static_cast<int64_t>(bits);
      push(make(std::move(o)));
      break;
    }
    case SHORT_BINUNICODE: push(text(Kind::string, length(1))); break;
    case BINUNICODE: push(text(Kind::string, length(4))); break;
    case BINUNICODE8: push(text(Kind::string, length(8))); break;
    // Python 2 str: Python 3 reads it as str (ASCII).
    case SHORT_BINSTRING: push(text(Kind::string, length(1))); break;
    case BINSTRING: push(text(Kind::string, length(4))); break;
    case SHORT_BINBYTES: push(text(Kind::bytes, length(1))); break;
    case BINBYTES: push(text(Kind::bytes, length(4))); break;
    case BINBYTES8:
    case BYTEARRAY8: push(text(Kind::bytes, length(8))); break;
    case EMPTY_TUPLE: push(make(Kind::tuple)); break;
    case TUPLE: push(make(Kind::tuple, pop_mark())); break;
    case TUPLE1: {
      const uint32_t a = pop();
      push(make(Kind::tuple, {a}));
      break;
    }
    case TUPLE2: {
      const uint32_t b = pop(), a = pop();
      push(make(Kind::tuple, {a, b}));
      break;
    }
    case TUPLE3: {
      const uint32_t c = pop(), b = pop(), a = pop();
      push(make(Kind::tuple, {a, b, c}));
      break;
    }
    case EMPTY_LIST: push(make(Kind::list)); break;
    case LIST: push(make(Kind::list, pop_mark())); break;
    case APPEND: {
      const uint32_t v = pop();
      append({v});
      break;
    }
    case APPENDS: append(pop_mark()); break;
    case EMPTY_DICT: push(make(Kind::dict)); break;
    case DICT: {
      auto kv = pop_mark();
      if (kv.size() % 2) fail("odd number of items for a dict");
      push(make(Kind::dict, std::move(kv)));
      break;
    }
    case SETITEM: {
      const uint32_t v = pop(), k = pop();
      set_items({k, v});
      break;
    }
    case SETITEMS: set_items(pop_mark()); break;
    case EMPTY_SET: push(make(Kind::set)); break;
    case FROZENSET: push(make(Kind::set, pop_mark())); break;
    case ADDITEMS: {
      auto v = pop_mark();
      Object& t = obj(top());
      if (t.kind != Kind::set) fail("adds items to a " + std::string(kind_name(t.kind)));
      t.items.insert(t.items.end(), v.begin(), v.end());
      break;
    }
    case GLOBAL: {
      std::string module = line();
      std::string name = line();
      push(global(std::move(module), std::move(name)));
      break;
    }
    case STACK_GLOBAL: {
      const uint32_t n = pop(), m = pop();
      if (obj(m).kind != Kind::string || obj(n).kind != Kind::string) fail("STACK_GLOBAL needs two strings");
      push(global(obj(m).text, obj(n).text));
      break;
    }
    case REDUCE:
    case NEWOBJ: {
      const uint32_t args = pop(), callable = pop();
      push(call(callable, args));
      break;
    }
    case NEWOBJ_EX: {
      const uint32_t kwargs = pop(), args = pop(), cls = pop();
      if (obj(kwargs).kind != Kind::dict) fail("NEWOBJ_EX keyword arguments are not a dict");
      push(call(cls, args, kwargs));
      break;
    }
    case BUILD: {
      const uint32_t state = pop();
      Object& t = obj(top());
      if (t.kind != Kind::call) fail("BUILD on a " + std::string(kind_name(t.kind)));
      if (t.state != kNoObject) fail("BUILD on an object that was already built");
      t.state = state;
      break;
    }
    case BINPERSID: {
      const uint32_t pid = pop();
      const uint32_t i = make(Kind::persistent_id, {pid});
      p_.persistent_ids.push_back(i);
      push(i);
      break;
    }
    case BINPUT: memo_put(le(1)); break;
    case LONG_BINPUT: memo_put(le(4)); break;
    case MEMOIZE: memo_put(memo_.size()); break;
    case BINGET: memo_get(le(1)); break;
    case LONG_BINGET: memo_get(le(4)); break;
    case FLOAT: case INT: case LONG: case STRING: case UNICODE: case PERSID: case GET: case PUT: case INST:
    case OBJ: case EXT1: case EXT2: case EXT4: case NEXT_BUFFER: case READONLY_BUFFER:
      fail("unsupported opcode");
    default:
      fail("unknown opcode");
  }
  return true;
}

Pickle Parser::run() {
  make(Kind::none);
  Object f, t;
  f.kind = t.kind = Kind::boolean;
  t.integer = 1;
  make(std::move(f));
  make(std::move(t));
  if (d_.empty() || d_[0] != PROTO) {
    op_ = d_.empty() ? 0 : d_[0];
    fail("does not start with PROTO (only protocols 2 to 5 are supported)");
  }
  while (pos_ < d_.size())
    if (!step()) return std::move(p_);
  op_at_ = pos_;
  throw Error(Errc::corrupt_input, who_ + ": ends without STOP at offset " + num(pos_));
}

// ---------------------------------------------------------------- torch objects

constexpr std::array<ScalarType, 33> kScalarTypes{{
    {"Float", "float32", 4, DType::fp32},
    {"Half", "float16", 2, DType::fp16},
    {"BFloat16", "bfloat16", 2, DType::bf16},
    {"Float8_e4m3fn", "float8_e4m3fn", 1, DType::fp8_e4m3},
    {"Float8_e5m2", "float8_e5m2", 1, DType::fp8_e5m2},
    {"Double", "float64", 8, DType::bytes},
    {"Long", "int64", 8, DType::bytes},
    {"Int", "int32", 4, DType::bytes},
    {"Short", "int16", 2, DType::bytes},
    {"Char", "int8", 1, DType::bytes},
    {"Byte", "uint8", 1, DType::bytes},
    {"Bool", "bool", 1, DType::bytes},
    {"UInt16", "uint16", 2, DType::bytes},
    {"UInt32", "uint32", 4, DType::bytes},
    {"UInt64", "uint64", 8, DType::bytes},
    {"ComplexHalf", "complex32", 4, DType::bytes},
    {"ComplexFloat", "complex64", 8, DType::bytes},
    {"ComplexDouble", "complex128", 16, DType::bytes},
    {"QInt8", "qint8", 1, DType::bytes},
    {"QUInt8", "quint8", 1, DType::bytes},
    {"QInt32", "qint32", 4, DType::bytes},
    {"QUInt4x2", "quint4x2", 1, DType::bytes},
    {"QUInt2x4", "quint2x4", 1, DType::bytes},
    // Same bit widths as e4m3fn / e5m2 but other exponent biases and NaN rules: kept as bytes.
    {"Float8_e4m3fnuz", "float8_e4m3fnuz", 1, DType::bytes},
    {"Float8_e5m2fnuz", "float8_e5m2fnuz", 1, DType::bytes},
    {"Float8_e8m0fnu", "float8_e8m0fnu", 1, DType::bytes},
    {"Float4_e2m1fn_x2", "float4_e2m1fn_x2", 1, DType::bytes},
    {"Bits8", "bits8", 1, DType::bytes},
    {"Bits16", "bits16", 2, DType::bytes},
    {"Bits1x8", "bits1x8", 1, DType::bytes},
    {"Bits2x4", "bits2x4", 1, DType::bytes},
    {"Bits4x2", "bits4x2", 1, DType::bytes},
    {"BComplex32", "bcomplex32", 4, DType::bytes},
}};

// torch's other names for the same dtypes (torch.float is torch.float32).
constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kDtypeAliases{{
    {"float", "float32"}, {"half", "float16"}, {"double", "float64"}, {"long", "int64"}, {"int", "int32"},
    {"short", "int16"}, {"cfloat", "complex64"}, {"cdouble", "complex128"}, {"chalf", "complex32"},
}};

bool is_global(const Object& o, std::string_view module, std::string_view name) {
  return o.kind == Kind::global && o.text == module && o.name == name;
}

class TorchWalker {
 public:
  TorchWalker(const Pickle& p, const std::string& who)
      : p_(p),
        who_(who),
        max_visits_(std::min(kMaxVisits, kMinVisitBudget + kVisitsPerObject * p.objects.size())),
        max_name_bytes_(std::min(kMaxNameBytes, kMinNameBudget + kNameBytesPerObject * p.objects.size())) {}
  TorchObjects run(bool constants);

 private:
  // One step of the path from the root. Names are spelled out only for tensors, so walking
  // costs the same whatever the keys' lengths.
  struct Step {
    enum Kind : uint8_t { key, index, constant } kind;
    uint32_t key_object;  // key: the key object
    uint64_t position;    // key: position in its dict; index, constant: the index
  };

  [[noreturn]] void fail(const std::string& what) const { throw Error(Errc::corrupt_input, who_ + ": " + what); }
  const Object& at(uint32_t i) const { return p_.objects[i]; }
  void storages();
  void walk(uint32_t i, size_t depth);
  void walk_items(const std::vector<uint32_t>& kv, size_t depth);
  void walk_step(uint32_t i, Step step, size_t depth) {
    path_.push_back(step);
    walk(i, depth + 1);
    path_.pop_back();
  }
  std::string name();
  bool tensor(uint32_t i, size_t depth);
  bool rebuild(const Object& callable, const Object& args, size_t depth);
  uint64_t nonneg(uint32_t i, const std::string& name, const char* what) const;
  std::vector<uint64_t> ints(uint32_t i, const std::string& name, const char* what) const;

  const Pickle& p_;
  const std::string& who_;
  TorchObjects out_;
  std::unordered_map<std::string, size_t> by_key_;
  std::unordered_map<uint32_t, size_t> by_pid_;  // persistent_id object -> storage index
  std::vector<Step> path_;
  const size_t max_visits_, max_name_bytes_;  // caps in proportion to the object count
  size_t visits_ = 0;
  size_t name_bytes_ = 0;
  bool constants_ = false;
};

void TorchWalker::storages() {
  for (const uint32_t pid : p_.persistent_ids) {
    const Object& t = at(at(pid).items[0]);
    const std::string where = "persistent id " + num(by_pid_.size());
    if (t.kind != Kind::tuple || t.items.size() != 5 || at(t.items[0]).kind != Kind::string ||
        at(t.items[0]).text != "storage")
      fail(where + " is not a ('storage', type, key, location, numel) tuple");
    const Object& type = at(t.items[1]);
    const Object& key = at(t.items[2]);
    const Object& location = at(t.items[3]);
    const Object& numel = at(t.items[4]);
    if (key.kind != Kind::string || key.text.empty()) fail(where + ": storage key is not a non-empty str");
    const std::string who = "storage '" + key.text + "'";
    if (location.kind != Kind::string && location.kind != Kind::bytes) fail(who + ": location is not a str");
    if (numel.kind != Kind::integer || numel.integer < 0)
      fail(who + ": numel is a " + std::string(kind_name(numel.kind)) + (numel.kind == Kind::integer ? " below 0" : "") +
           ", not a size");
    StorageRef s;
    s.key = key.text;
    s.numel = static_cast<uint64_t>(numel.integer);
    if (is_global(type, "torch", "UntypedStorage") || is_global(type, "torch.storage", "UntypedStorage")) {
      s.type = nullptr;
    } else if (type.kind == Kind::global && type.text == "torch") {
      // torch.FloatStorage, or a dtype (torch.float32) as TorchScript's unpickler also accepts.
      s.type = scalar_type_by_storage(type.name);
      if (!s.type) s.type = scalar_type_by_name(type.name);
      if (!s.type) fail(who + ": unknown storage type 'torch." + type.name + "'");
    } else {
      fail(who + ": storage type is " +
           (type.kind == Kind::global ? "'" + type.text + "." + type.name + "'" : std::string("a ") + kind_name(type.kind)) +
           ", not a torch storage class");
    }
    const auto [it, added] = by_key_.emplace(s.key, out_.storages.size());
    if (added) {
      out_.storages.push_back(std::move(s));
    } else {
      const StorageRef& old = out_.storages[it->second];
      if (old.type != s.type || old.numel != s.numel) fail(who + " is declared twice with different types or sizes");
    }
    by_pid_.emplace(pid, it->second);
  }
}

std::string TorchWalker::name() {
  std::string s;
  for (const Step& st : path_) {
    if (!s.empty()) s += '.';
    if (st.kind == Step::constant) {
      s += "CONSTANTS.c" + num(st.position);
    } else if (st.kind == Step::index) {
      s += num(st.position);
    } else {
      const Object& k = at(st.key_object);
      switch (k.kind) {
        case Kind::string: s += k.text; break;
        case Kind::integer: s += std::to_string(k.integer); break;
        case Kind::boolean: s += k.integer ? "True" : "False"; break;
        case Kind::none: s += "None"; break;
        default: s += "#" + num(st.position); break;
      }
    }
    if (s.size() > kMaxNameLength) fail("tensor name '" + s.substr(0, 64) + "...' is longer than " + num(kMaxNameLength) + " bytes");
  }
  if (s.empty()) s = constants_ ? "CONSTANTS" : "tensor";
  name_bytes_ += s.size();
  if (name_bytes_ > max_name_bytes_)
    fail("tensor names take more than " + num(max_name_bytes_) + " bytes (for " + num(p_.objects.size()) +
         " objects: shared subtrees repeat their names)");
  return s;
}

uint64_t TorchWalker::nonneg(uint32_t i, const std::string& name, const char* what) const {
  const Object& o = at(i);
  if (o.kind != Kind::integer || o.integer < 0)
    fail("tensor '" + name + "': " + what + " is a " + kind_name(o.kind) + (o.kind == Kind::integer ? " below 0" : "") +
         ", not a size");
  return static_cast<uint64_t>(o.integer);
}

std::vector<uint64_t> TorchWalker::ints(uint32_t i, const std::string& name, const char* what) const {
  const Object* o = &at(i);
  // torch.Size((...)) is a tuple too.
  if (o->kind == Kind::call && is_global(at(o->items[0]), "torch", "Size") && at(o->items[1]).items.size() == 1)
    o = &at(at(o->items[1]).items[0]);
  if (o->kind != Kind::tuple && o->kind != Kind::list)
    fail("tensor '" + name + "': " + what + " is a " + kind_name(o->kind) + ", not a tuple of ints");
  std::vector<uint64_t> v;
  v.reserve(o->items.size());
  for (const uint32_t x : o->items) v.push_back(nonneg(x, name, what));
  return v;
}

// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
// _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype[, metadata])
// and the wrappers around them. Returns false for any other call.
bool TorchWalker::rebuild(const Object& callable, const Object& args, size_t depth) {
  if (callable.kind != Kind::global) return false;
  const auto& a = args.items;
  const auto nargs = [&](size_t lo, size_t hi) {
    if (a.size() < lo || a.size() > hi)
      fail("tensor '" + name() + "': " + callable.text + "." + callable.name + " has " + num(a.size()) +
           " arguments, not " + num(lo) + (hi > lo ? " or " + num(hi) : ""));
  };
  if (callable.text == "torch._utils" && callable.name.starts_with("_rebuild_parameter")) {
    // (data, requires_grad, backward_hooks[, state])
    const bool with_state = callable.name == "_rebuild_parameter_with_state";
    if (!with_state && callable.name != "_rebuild_parameter") return false;
    nargs(with_state ? 4 : 3, with_state ? 4 : 3);
    if (depth >= 4 || !tensor(a[0], depth + 1)) fail("tensor '" + name() + "': the parameter's data is not a tensor");
    return true;
  }
  if (callable.text == "torch._tensor" && callable.name == "_rebuild_from_type_v2") {
    // (func, new_type, args, state): a tensor subclass, or a tensor with Python attributes.
    nargs(4, 4);
    if (at(a[2]).kind != Kind::tuple) fail("tensor '" + name() + "': _rebuild_from_type_v2 arguments are not a tuple");
    if (depth >= 4 || !rebuild(at(a[0]), at(a[2]), depth + 1))
      fail("tensor '" + name() + "': _rebuild_from_type_v2 does not rebuild a tensor");
    return true;
  }
  const bool v2 = is_global(callable, "torch._utils", "_rebuild_tensor_v2");
  const bool v3 = is_global(callable, "torch._utils", "_rebuild_tensor_v3");
  if (!v2 && !v3) return false;
  nargs(v2 ? 6 : 7, v2 ? 7 : 8);
  TensorRef t;
  t.name = name();
  const std::string& n = t.name;
  const auto pid = by_pid_.find(a[0]);
  if (pid == by_pid_.end()) fail("tensor '" + n + "': its storage is a " + kind_name(at(a[0]).kind) + ", not a persistent id");
  t.storage = pid->second;
  const StorageRef& s = out_.storages[t.storage];
  t.storage_offset = nonneg(a[1], n, "storage_offset");
  t.shape = ints(a[2], n, "size");
  t.stride = ints(a[3], n, "stride");
  if (t.stride.size() != t.shape.size())
    fail("tensor '" + n + "': " + num(t.stride.size()) + " strides for " + num(t.shape.size()) + " dimensions");
  if (v3) {
    const Object& dt = at(a[6]);
    if (dt.kind != Kind::global || dt.text != "torch") fail("tensor '" + n + "': dtype is not a torch dtype");
    t.dtype = scalar_type_by_name(dt.name);
    if (!t.dtype) fail("tensor '" + n + "': unknown dtype 'torch." + dt.name + "'");
    if (s.type && s.type != t.dtype)
      fail("tensor '" + n + "': dtype torch." + std::string(t.dtype->name) + " differs from its storage's torch." +
           std::string(s.type->name));
  } else {
    t.dtype = s.type ? s.type : scalar_type_by_name("uint8");  // an untyped storage reads as bytes
  }
  out_.tensors.push_back(std::move(t));
  return true;
}

bool TorchWalker::tensor(uint32_t i, size_t depth) {
  const Object& o = at(i);
  return o.kind == Kind::call && rebuild(at(o.items[0]), at(o.items[1]), depth);
}

void TorchWalker::walk_items(const std::vector<uint32_t>& kv, size_t depth) {
  for (size_t j = 0; j + 1 < kv.size(); j += 2) walk_step(kv[j + 1], {Step::key, kv[j], j / 2}, depth);
}

void TorchWalker::walk(uint32_t i, size_t depth) {
  if (depth > kMaxDepth) fail("objects nested deeper than " + num(kMaxDepth) + " levels (or a reference cycle)");
  if (++visits_ > max_visits_)
    fail("the object tree expands to more than " + num(max_visits_) + " objects (from " + num(p_.objects.size()) +
         ": shared subtrees count each time)");
  const Object& o = at(i);
  switch (o.kind) {
    case Kind::dict: walk_items(o.items, depth); break;
    case Kind::list:
    case Kind::tuple:
      for (size_t j = 0; j < o.items.size(); ++j) walk_step(o.items[j], {Step::index, kNoObject, j}, depth);
      break;
    case Kind::call: {
      if (tensor(i, 0)) break;
      const Object& callable = at(o.items[0]);
      const Object& args = at(o.items[1]);
      // TorchScript's type tags and typed lists wrap their first argument.
      if (callable.kind == Kind::global && callable.text == "torch.jit._pickle" && !args.items.empty()) {
        walk(args.items[0], depth + 1);
        break;
      }
      walk_items(o.set_items, depth);
      for (size_t j = 0; j < o.appended.size(); ++j) walk_step(o.appended[j], {Step::index, kNoObject, j}, depth);
      // An object's attributes; not those of an OrderedDict (a state_dict's _metadata).
      if (o.state != kNoObject && !is_global(callable, "collections", "OrderedDict")) walk(o.state, depth + 1);
      break;
    }
    default: break;
  }
}

TorchObjects TorchWalker::run(bool constants) {
  constants_ = constants;
  storages();
  const Object& root = at(p_.root);
  if (constants && root.kind == Kind::tuple) {
    for (size_t j = 0; j < root.items.size(); ++j) walk_step(root.items[j], {Step::constant, kNoObject, j}, 0);
  } else {
    walk(p_.root, 0);
  }
  return std::move(out_);
}

}  // namespace

Pickle parse(std::span<const uint8_t> data, const std::string& who) { return Parser(data, who).run(); }

const ScalarType* scalar_type_by_storage(std::string_view storage_class) noexcept {
  constexpr std::string_view suffix = "Storage";
  if (storage_class.size() <= suffix.size() || !storage_class.ends_with(suffix)) return nullptr;
  storage_class.remove_suffix(suffix.size());
  for (const auto& t : kScalarTypes)
    if (t.storage == storage_class) return &t;
  return nullptr;
}

const ScalarType* scalar_type_by_name(std::string_view dtype) noexcept {
  for (const auto& [alias, name] : kDtypeAliases)
    if (dtype == alias) dtype = name;
  for (const auto& t : kScalarTypes)
    if (t.name == dtype) return &t;
  return nullptr;
}

TorchObjects torch_objects(const Pickle& p, bool constants, const std::string& who) {
  return TorchWalker(p, who).run(constants);
}

}  // namespace tenzip::formats::pickle
