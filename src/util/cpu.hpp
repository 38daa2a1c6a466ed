// Run-time CPU feature detection for kernel dispatch.
#pragma once

#include <cstdlib>

namespace tenzip::detail {

#if defined(__x86_64__) && defined(__GNUC__)
// False if TENZIP_NO_SIMD=1 (tests and measurements force the portable kernels that way);
// otherwise initializes the CPU feature checks.
inline bool simd_allowed() noexcept {
  const char* off = std::getenv("TENZIP_NO_SIMD");
  if (off && off[0] == '1') return false;
  __builtin_cpu_init();
  return true;
}
#endif

// True if AVX2 and BMI2 can be used. TENZIP_NO_SIMD=1 in the environment forces the portable
// kernels (tests run both paths this way).
inline bool cpu_has_avx2() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = simd_allowed() && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("bmi2");
  return has;
#else
  return false;
#endif
}

// True if the AVX-512 VBMI/VBMI2 kernels (LANES decoder) can be used; TENZIP_NO_SIMD=1 says no.
inline bool cpu_has_avx512_vbmi() noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
  static const bool has = simd_allowed() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                          __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("avx512vbmi2") &&
                          __builtin_cpu_supports("bmi2") && __builtin_cpu_supports("popcnt");
  return has;
#else
  return false;
#endif
}

}  // namespace tenzip::detail
