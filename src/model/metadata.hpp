// The tensor directory of a model container (doc/FORMAT.md, "Model metadata"): a JSON object
// kept in the container's metadata. It maps each region of the original file to its segment and
// lists the tensors inside the regions. Decoding is strict: a directory that disagrees with the
// container's index is rejected before anything is decoded.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "formats/layout.hpp"
#include "tenzip/tenzip.hpp"

namespace tenzip::model {

inline constexpr int kModelMetadataVersion = 1;

// How a region is stored when the container was written against a base file.
enum class Delta : uint8_t {
  none = 0,
  xor_ = 1,  // stored = new XOR base, byte by byte
  sub = 2,   // stored = zigzag(new - base), element by element as little-endian integers
};
const char* delta_name(Delta d) noexcept;

struct RegionEntry {
  formats::Region region;   // offset/size in the original file, dtype, name
  uint32_t segment = 0;     // container segment holding it
  Delta delta = Delta::none;
  uint64_t base_offset = 0; // where the matching region starts in the base file
  uint64_t base_xxh3 = 0;   // XXH3_64 of that base region: catches a wrong base before decoding
};

struct BaseInfo {
  uint64_t file_size = 0;
  uint64_t file_xxh3 = 0;
};

struct ModelMeta {
  std::string format;
  uint64_t file_size = 0;
  uint64_t file_xxh3 = 0;   // of the whole original file, checked after a full decompression
  std::vector<RegionEntry> regions;
  std::vector<formats::Tensor> tensors;  // Tensor::region indexes `regions`
  std::optional<BaseInfo> base;
};

// The directory is JSON, stored as one zstd frame (with its content size) or as plain text.
std::vector<uint8_t> encode_metadata(const ModelMeta& m);
// The JSON text of container metadata: nullopt unless it is a (possibly zstd-compressed) JSON object.
std::optional<std::string> metadata_text(std::span<const uint8_t> raw);

// nullopt when the metadata is not a model directory (empty, or some other application's).
// Throws corrupt_input when it is one but malformed or inconsistent with `info`.
std::optional<ModelMeta> decode_metadata(const ContainerInfo& info);

}  // namespace tenzip::model
