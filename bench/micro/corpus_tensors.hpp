// The corpus tensors the micro benchmarks run on: bench/extract_corpus.py's ALL.raw of a dtype
// (default directory: build/corpus_tensors, set by CMake; override with TENZIP_CORPUS_TENSORS).
#pragma once

#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

// The bytes of <root>/<dtype>/ALL.raw; empty (with a message on stderr) if there are none.
inline std::vector<uint8_t> read_corpus_tensors(const char* dtype) {
  const char* env = std::getenv("TENZIP_CORPUS_TENSORS");
  const std::string root = env ? env : TENZIP_DEFAULT_CORPUS_TENSORS;
  std::ifstream f(root + "/" + dtype + "/ALL.raw", std::ios::binary);
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(f)), {});
  if (data.empty()) std::fprintf(stderr, "no corpus tensors at %s (run bench/extract_corpus.py)\n", root.c_str());
  return data;
}
