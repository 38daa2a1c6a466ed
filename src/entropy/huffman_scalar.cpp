#include "entropy/histogram_kernels.hpp"
#include "entropy/huffman_dispatch.hpp"
#include "entropy/huffman_decode_kernels.hpp"
#include "entropy/huffman_encode_kernels.hpp"
#include "util/cpu.hpp"

namespace tenzip::detail {

const HuffKernels& huff_kernels_scalar() noexcept {
  static const HuffKernels k{kernels::huff_encode4, kernels::huff_decode4, kernels::huff_decode_flat4, kernels::histogram_add, kernels::histogram_blocks, kernels::huff_build_multi, kernels::repeat_hits};
  return k;
}

const HuffKernels& huff_kernels() noexcept {
  static const HuffKernels& k = (cpu_has_avx2() && huff_kernels_avx2()) ? *huff_kernels_avx2() : huff_kernels_scalar();
  return k;
}

}  // namespace tenzip::detail
