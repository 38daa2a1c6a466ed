// A parser, never an executor, for the pickle subset (protocols 2-5) that torch writes in
// data.pkl and constants.pkl. It builds a small tree of objects: nothing is imported, called or
// looked up; a GLOBAL is just two names and a REDUCE just records "call this with that".
// From the tree, torch_objects() reads the storages and tensors torch would rebuild.
//
// Every read is bounds-checked and the parse is capped (objects, stack, memo, MARK nesting), so
// any input either parses or throws Error(corrupt_input, "<who>: ... (opcode 'X' at offset N)").
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip::formats::pickle {

enum class Kind : uint8_t {
  none, boolean, integer, big_integer, floating, string, bytes,
  tuple, list, dict, set, global, call, persistent_id,
};

inline constexpr uint32_t kNoObject = UINT32_MAX;

struct Object {
  Kind kind = Kind::none;
  int64_t integer = 0;            // boolean (0/1) and integer; floating: the double's IEEE-754 bits
  std::string text;               // string, bytes; global: the module
  std::string name;               // global: the name in the module
  std::vector<uint32_t> items;    // tuple, list, set: elements; dict: key, value, key, value, ...;
                                  // call: callable, args (a tuple)[, kwargs]; persistent_id: the id
  // What the pickle did to a call's result afterwards (e.g. an OrderedDict's entries).
  std::vector<uint32_t> set_items;  // SETITEM(S): key, value, ...
  std::vector<uint32_t> appended;   // APPEND(S)
  uint32_t state = kNoObject;       // BUILD
};

// Caps that keep memory and time linear in the input whatever it says.
inline constexpr size_t kMaxObjects = size_t{1} << 21;
inline constexpr size_t kMaxStack = size_t{1} << 20;
inline constexpr size_t kMaxMemo = size_t{1} << 20;
inline constexpr size_t kMaxDepth = 256;             // MARK nesting, and nesting of the tree walk
inline constexpr size_t kMaxVisits = size_t{1} << 21;  // tree walk: shared subtrees count each time
inline constexpr size_t kMaxNameLength = 4096;         // one tensor name
inline constexpr size_t kMaxNameBytes = size_t{64} << 20;  // all tensor names
// Within those, the walk's budget grows with the pickle's object count. A walk revisits
// shared subtrees (tied weights, one buffer in every layer), but real pickles stay near one
// visit and a few bytes of tensor names per object (measured on state dicts, a checkpoint
// with AdamW state, a pickled nn.Module, TorchScript, 2000 keys naming one tensor: at most
// 0.99 visits and 4.4 name bytes per object). A 1 KB pickle (found by fuzzing) that shares
// subtrees exponentially spent 0.7 s and 260 MB reaching the caps above, now 11 ms and 8 MB.
inline constexpr size_t kMinVisitBudget = size_t{1} << 16, kVisitsPerObject = 16;
inline constexpr size_t kMinNameBudget = size_t{1} << 20, kNameBytesPerObject = 1024;

struct Pickle {
  std::vector<Object> objects;           // objects[0..2] are None, False, True
  uint32_t root = kNoObject;             // what STOP returned
  std::vector<uint32_t> persistent_ids;  // every BINPERSID result, in order
};

// `who` prefixes messages ("pytorch-zip: archive/data.pkl").
Pickle parse(std::span<const uint8_t> data, const std::string& who);

// ---------------------------------------------------------------- torch objects

// A torch scalar type: its storage class ("Float" for torch.FloatStorage), its dtype name
// ("float32" for torch.float32), bytes per element, and how the codec splits it.
struct ScalarType {
  std::string_view storage;
  std::string_view name;
  uint32_t size;
  DType codec;
};
const ScalarType* scalar_type_by_storage(std::string_view storage_class) noexcept;  // "FloatStorage"
const ScalarType* scalar_type_by_name(std::string_view dtype) noexcept;             // "float32", "float"

// One persistent id ('storage', type, key, location, numel).
struct StorageRef {
  std::string key;
  const ScalarType* type = nullptr;  // nullptr for torch.UntypedStorage, whose numel counts bytes
  uint64_t numel = 0;
};

// One _rebuild_tensor_v2 / _v3 call.
struct TensorRef {
  std::string name;
  size_t storage = 0;              // index into TorchObjects::storages
  const ScalarType* dtype = nullptr;
  uint64_t storage_offset = 0;     // elements
  std::vector<uint64_t> shape;
  std::vector<uint64_t> stride;    // elements, as the pickle gives them
};

struct TorchObjects {
  std::vector<StorageRef> storages;  // by first appearance, one per key
  std::vector<TensorRef> tensors;    // in the order the pickle builds them
};

// Storages: every persistent id in the pickle (torch loads them all); each must be a storage
// record, and a key seen twice must name the same type and size.
// Tensors: every torch._utils._rebuild_tensor_v2 / _v3 call reachable from the root, also when
// wrapped by _rebuild_parameter, _rebuild_parameter_with_state or torch._tensor._rebuild_from_type_v2.
// Other calls (quantized, sparse, meta tensors, unknown classes) are not tensors and are not
// looked into; their storages still count.
//
// Names: the path from the root, joined with '.': dict keys (str as is, int in decimal,
// True/False/None, '#<position>' for any other key; a key set twice appears twice), list and
// tuple indices, and the attributes
// of constructed objects (the BUILD state, e.g. a TorchScript module's dict). OrderedDict's
// entries count, its attributes (a state_dict's _metadata) do not; torch.jit._pickle wrappers
// (restore_type_tag, build_tensorlist, ...) are transparent. A tensor that is the root is named
// "tensor". With `constants`, the root is TorchScript's constant table and its items are named
// CONSTANTS.c<i>, as TorchScript code refers to them.
TorchObjects torch_objects(const Pickle& p, bool constants, const std::string& who);

}  // namespace tenzip::formats::pickle
