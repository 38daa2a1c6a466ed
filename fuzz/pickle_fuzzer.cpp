// Arbitrary bytes into the pickle parser and torch's object walk, as if they were a data.pkl
// and a constants.pkl. Findings: a crash, a sanitizer report, an exception other than
// tenzip::Error(corrupt_input) with a message, or results that break their promises (a root
// or reference outside the object table, a tensor on a missing storage, strides that do not
// match the shape).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>

#include "formats/pickle.hpp"
#include "tenzip/tenzip.hpp"

namespace {

[[noreturn]] void finding(const std::string& what) {
  std::fprintf(stderr, "pickle_fuzzer finding: %s\n", what.c_str());
  std::abort();
}

template <class F>
void guarded(F&& f) {
  try {
    f();
  } catch (const tenzip::Error& e) {
    if (e.code() != tenzip::Errc::corrupt_input) finding(e.what());
    if (std::strlen(e.what()) == 0) finding("empty error message");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace tenzip::formats;
  guarded([&] {
    const pickle::Pickle p = pickle::parse(std::span<const uint8_t>(data, size), "pkl");
    const size_t n = p.objects.size();
    if (p.root >= n) finding("root outside the object table");
    for (const auto& o : p.objects) {
      for (const uint32_t i : o.items) if (i >= n) finding("item outside the object table");
      for (const uint32_t i : o.set_items) if (i >= n) finding("item outside the object table");
      for (const uint32_t i : o.appended) if (i >= n) finding("item outside the object table");
      if (o.state != pickle::kNoObject && o.state >= n) finding("state outside the object table");
    }
    for (const bool constants : {false, true}) {
      guarded([&] {
        const pickle::TorchObjects t = pickle::torch_objects(p, constants, "pkl");
        for (const auto& tr : t.tensors) {
          if (tr.storage >= t.storages.size()) finding("tensor on a missing storage");
          if (tr.stride.size() != tr.shape.size() || !tr.dtype) finding("malformed tensor record");
          if (tr.name.empty()) finding("tensor without a name");
        }
      });
    }
  });
  return 0;
}
