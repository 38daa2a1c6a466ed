// Helpers shared by the model-file parser tests: files, sidecars, CRC-32, error checks.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "formats/layout.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::testing {

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

inline const fs::path kFormatsData = fs::path(TENZIP_SOURCE_DIR) / "tests" / "data" / "formats";
inline const fs::path kCorpus = fs::path(TENZIP_CORPUS_DIR);

inline Bytes read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  if (!f) throw std::runtime_error("cannot read " + p.string());
  return Bytes(std::istreambuf_iterator<char>(f), {});
}
inline nlohmann::json read_json(const fs::path& p) {
  const Bytes b = read_bytes(p);
  return nlohmann::json::parse(b.begin(), b.end());
}

// zlib's CRC-32, as Python's zlib.crc32 writes into the sidecars.
inline uint32_t crc32(std::span<const uint8_t> b) {
  static const auto table = [] {
    std::array<uint32_t, 256> t{};
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[i] = c;
    }
    return t;
  }();
  uint32_t c = 0xffffffffu;
  for (uint8_t x : b) c = table[(c ^ x) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

// The bytes of tensor t, from the file through its region.
inline std::span<const uint8_t> tensor_bytes(std::span<const uint8_t> file, const formats::FileLayout& l,
                                             const formats::Tensor& t) {
  const formats::Region& r = l.regions.at(t.region);
  return file.subspan(r.offset + t.offset, t.size);
}

// `parse` must throw Error(corrupt_input) whose message contains every needle.
inline void expect_corrupt(const std::function<void()>& parse, std::initializer_list<std::string> needles) {
  try {
    parse();
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(errc_name(e.code()), errc_name(Errc::corrupt_input)) << e.what();
    for (const auto& n : needles) EXPECT_NE(std::string(e.what()).find(n), std::string::npos) << e.what();
  }
}

// Robustness on damaged input: parse either throws Error(corrupt_input) or returns a layout
// that check_layout accepts. Anything else (another exception, a crash) fails the test.
inline void expect_error_or_valid(const std::function<formats::FileLayout(std::span<const uint8_t>)>& parse,
                                  std::span<const uint8_t> in, const std::string& what) {
  try {
    const formats::FileLayout l = parse(in);
    try {
      formats::check_layout(l, in.size());
    } catch (const Error& e) {
      ADD_FAILURE() << what << ": parsed into an invalid layout: " << e.what();
    }
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::corrupt_input) << what << ": " << e.what();
  }
}

}  // namespace tenzip::testing
