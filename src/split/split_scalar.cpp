#include "split/split.hpp"
#include "split/split_kernels.hpp"
#include "util/cpu.hpp"

namespace tenzip::detail {

const SplitKernels& split_kernels_scalar() noexcept {
  static const SplitKernels k{kernels::split16, kernels::merge16, kernels::split32, kernels::merge32};
  return k;
}

const SplitKernels& split_kernels() noexcept {
  static const SplitKernels& k = (cpu_has_avx2() && split_kernels_avx2()) ? *split_kernels_avx2() : split_kernels_scalar();
  return k;
}

const char* stream_name(DType dtype, int stream) noexcept {
  switch (dtype) {
    // Streams hold bytes of the element rotated left by one bit (sign in bit 0): doc/FORMAT.md 12.1.
    case DType::bf16: return stream == 0 ? "exponent" : "sign+mantissa";
    case DType::fp32:
      if (stream == 0) return "exponent";
      if (stream == 1) return "mantissa_hi";
      return stream == 2 ? "mantissa_mid" : "sign+mantissa_lo";
    case DType::fp16: return stream == 0 ? "exponent+mantissa_hi" : "sign+mantissa_lo";
    case DType::fp8_e4m3:
    case DType::fp8_e5m2: return "byte";
    case DType::bytes: return "bytes";
  }
  return "?";
}

void split(DType dtype, const uint8_t* src, size_t n, uint8_t* const* s) noexcept {
  const auto& k = split_kernels();
  if (dtype_size(dtype) == 2) k.split16(src, n, s[0], s[1]);
  else if (dtype_size(dtype) == 4) k.split32(src, n, s[0], s[1], s[2], s[3]);
}

void merge(DType dtype, const uint8_t* const* s, size_t n, uint8_t* dst) noexcept {
  const auto& k = split_kernels();
  if (dtype_size(dtype) == 2) k.merge16(s[0], s[1], n, dst);
  else if (dtype_size(dtype) == 4) k.merge32(s[0], s[1], s[2], s[3], n, dst);
}

}  // namespace tenzip::detail
