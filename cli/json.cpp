// Minimal JSON writing helpers for --json outputs.
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <cmath>
#include <cstdio>

#include "commands.hpp"

namespace tzcli {

namespace {
// Length of a valid UTF-8 sequence starting at s[i], or 0 if invalid (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF; the second byte's range depends on the first).
size_t utf8_len(const std::string& s, size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0xC2 ? 0 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : c < 0xF5 ? 4 : 0;
  if (n == 0 || i + n > s.size()) return 0;
  const unsigned lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
  const unsigned hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
  const auto second = static_cast<unsigned char>(s[i + 1]);
  if (second < lo || second > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return 0;
  return n;
}
}  // namespace

std::string json_string(const std::string& s) {
  std::string o = "\"";
  char esc[8];
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      o += '\\';
      o += static_cast<char>(c);
    } else if (c == '\n') {
      o += "\\n";
    } else if (c == '\t') {
      o += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      o += esc;
    } else if (c >= 0x80) {
      // Paths are bytes: keep valid UTF-8, escape any other byte so the JSON stays valid.
      const size_t n = utf8_len(s, i);
      if (n) {
        o.append(s, i, n);
        i += n;
        continue;
      }
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      o += esc;
    } else {
      o += static_cast<char>(c);
    }
    ++i;
  }
  return o + "\"";
}

std::string json_number(double v) {
  if (!std::isfinite(v)) return "null";
  char b[40];
  std::snprintf(b, sizeof b, "%.6g", v);
  return b;
}

}  // namespace tzcli
