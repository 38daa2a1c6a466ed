// The same kernels compiled with AVX2 enabled (see CMakeLists: *_avx2.cpp files).
#include "split/split.hpp"
#include "split/split_kernels.hpp"

namespace tenzip::detail {

const SplitKernels* split_kernels_avx2() noexcept {
#if defined(__x86_64__)
  static const SplitKernels k{kernels::split16, kernels::merge16, kernels::split32, kernels::merge32};
  return &k;
#else
  return nullptr;
#endif
}

}  // namespace tenzip::detail
