// Front-to-back container parser: reads the file header, every frame in order, the index and
// the footer, validating each against what came before. Used by decompress_stream (decoding)
// and by Reader to explain a file whose footer is missing (structure only).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip::detail {

class Input {
 public:
  virtual ~Input() = default;
  // Reads up to n bytes; returns fewer only at the end of the input.
  virtual size_t read(uint8_t* dst, size_t n) = 0;
  // Skips up to n bytes; returns how many were skipped (fewer only at the end).
  virtual uint64_t skip(uint64_t n);
};

class MemoryInput final : public Input {
 public:
  explicit MemoryInput(std::span<const uint8_t> data) : data_(data) {}
  size_t read(uint8_t* dst, size_t n) override;
  uint64_t skip(uint64_t n) override;

 private:
  std::span<const uint8_t> data_;
  size_t pos_ = 0;
};

// With sink == nullptr, payloads are skipped, not decoded (structure check only).
// Returns the number of decoded bytes; `metadata` (if given) receives the index's metadata.
uint64_t parse_stream(Input& in, const Sink* sink, unsigned threads, std::vector<uint8_t>* metadata = nullptr);

}  // namespace tenzip::detail
