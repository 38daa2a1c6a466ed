// The Huffman loops compiled with AVX2/BMI2 (shrx/bzhi make each lookup a few uops).
#include "entropy/histogram_kernels.hpp"
#include "entropy/huffman_dispatch.hpp"
#include "entropy/huffman_decode_kernels.hpp"
#include "entropy/huffman_encode_kernels.hpp"

namespace tenzip::detail {

const HuffKernels* huff_kernels_avx2() noexcept {
#if defined(__x86_64__)
  static const HuffKernels k{kernels::huff_encode4, kernels::huff_decode4, kernels::huff_decode_flat4, kernels::histogram_add, kernels::histogram_blocks, kernels::huff_build_multi, kernels::repeat_hits};
  return &k;
#else
  return nullptr;
#endif
}

}  // namespace tenzip::detail
