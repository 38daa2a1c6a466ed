// Split/merge dispatch: picks the AVX2 build of the kernels when the CPU has it.
#pragma once

#include <cstddef>
#include <cstdint>

#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

inline constexpr int kMaxStreams = 4;

// Number of byte streams an element of `dtype` is split into (= its size in bytes).
inline int stream_count(DType dtype) noexcept { return static_cast<int>(dtype_size(dtype)); }
// Stream names for inspect: index 0 is the most significant (exponent) byte.
const char* stream_name(DType dtype, int stream) noexcept;

struct SplitKernels {
  void (*split16)(const uint8_t*, size_t, uint8_t*, uint8_t*);
  void (*merge16)(const uint8_t*, const uint8_t*, size_t, uint8_t*);
  void (*split32)(const uint8_t*, size_t, uint8_t*, uint8_t*, uint8_t*, uint8_t*);
  void (*merge32)(const uint8_t*, const uint8_t*, const uint8_t*, const uint8_t*, size_t, uint8_t*);
};
const SplitKernels& split_kernels() noexcept;   // best for this CPU
const SplitKernels& split_kernels_scalar() noexcept;
const SplitKernels* split_kernels_avx2() noexcept;  // nullptr if the CPU lacks AVX2

// Split n elements into stream_count(dtype) streams (streams[0] = exponent byte).
// 1-byte dtypes are a single stream: the caller uses the input directly.
void split(DType dtype, const uint8_t* src, size_t n, uint8_t* const* streams) noexcept;
void merge(DType dtype, const uint8_t* const* streams, size_t n, uint8_t* dst) noexcept;

}  // namespace tenzip::detail
