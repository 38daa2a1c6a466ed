#include <algorithm>
#include <array>
#include <cctype>
#include <string>

#include "tenzip/tenzip.hpp"

namespace tenzip {

std::string_view version_string() { return "0.3.0"; }

size_t dtype_size(DType d) noexcept {
  switch (d) {
    case DType::bf16:
    case DType::fp16: return 2;
    case DType::fp32: return 4;
    case DType::bytes:
    case DType::fp8_e4m3:
    case DType::fp8_e5m2: return 1;
  }
  return 1;
}

std::string_view dtype_name(DType d) noexcept {
  switch (d) {
    case DType::bytes: return "bytes";
    case DType::bf16: return "bf16";
    case DType::fp16: return "fp16";
    case DType::fp32: return "fp32";
    case DType::fp8_e4m3: return "fp8_e4m3";
    case DType::fp8_e5m2: return "fp8_e5m2";
  }
  return "?";
}

bool dtype_is_valid(uint8_t code) noexcept { return code < kDTypeCount; }

std::optional<DType> parse_dtype(std::string_view name) noexcept {
  std::string s(name);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  struct Alias { const char* name; DType d; };
  static constexpr std::array<Alias, 17> kAliases{{
      {"bytes", DType::bytes},       {"u8", DType::bytes},          {"raw", DType::bytes},
      {"bf16", DType::bf16},         {"bfloat16", DType::bf16},
      {"fp16", DType::fp16},         {"f16", DType::fp16},          {"float16", DType::fp16},
      {"half", DType::fp16},
      {"fp32", DType::fp32},         {"f32", DType::fp32},          {"float32", DType::fp32},
      {"float", DType::fp32},
      {"fp8_e4m3", DType::fp8_e4m3}, {"f8_e4m3", DType::fp8_e4m3},
      {"fp8_e5m2", DType::fp8_e5m2}, {"f8_e5m2", DType::fp8_e5m2},
  }};
  for (const auto& a : kAliases)
    if (s == a.name) return a.d;
  if (s == "float8_e4m3fn" || s == "e4m3") return DType::fp8_e4m3;
  if (s == "float8_e5m2" || s == "e5m2") return DType::fp8_e5m2;
  return std::nullopt;
}

std::string_view errc_name(Errc e) noexcept {
  switch (e) {
    case Errc::invalid_argument: return "invalid argument";
    case Errc::corrupt_input: return "corrupt input";
    case Errc::truncated_input: return "truncated input";
    case Errc::checksum_mismatch: return "checksum mismatch";
    case Errc::unsupported_version: return "unsupported version";
    case Errc::io_error: return "I/O error";
    case Errc::internal: return "internal error";
  }
  return "unknown error";
}

}  // namespace tenzip
