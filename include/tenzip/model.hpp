// tenzip — model files: safetensors, GGUF, PyTorch zips, TorchScript, ONNX, TFLite.
//
// A model file is stored as one .tnz container whose segments, decoded in order, are the file's
// bytes: every tensor is a segment of its dtype (so it decodes alone) and every stretch between
// tensors (headers, JSON, pickles, protobuf fields) is a segment of `bytes`. Plain
// `tenzip::decompress` therefore restores any model container that is not a delta. The tensor
// directory lives in the container's metadata (doc/FORMAT.md, "Model metadata").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip {

struct ModelCompressOptions {
  int level = 3;
  unsigned threads = 1;          // 0 = all hardware threads
  uint32_t chunk_elems = 65536;
  bool lanes = false;            // CompressOptions::lanes: exponents for AVX-512 decoders
  // "auto" sniffs the file; "raw" stores it as bytes; or force one of: safetensors, gguf,
  // pytorch-zip (also TorchScript), onnx, tflite, npy, npz.
  std::string format = "auto";
  // Called now and then on the calling thread with the bytes of the file consumed so far.
  std::function<void(uint64_t)> progress;
};

struct ModelTensor {
  std::string name;
  std::string dtype;             // as the file names it: "F32", "BF16", "Q4_K", "torch.float16", "FLOAT"
  std::vector<uint64_t> shape;
  uint64_t size = 0;             // bytes of the tensor as a contiguous row-major array
  DType codec_dtype = DType::bytes;  // how the codec split it
  uint64_t stored_size = 0;      // compressed bytes of its region (frames included); shared regions count once per tensor
  bool delta = false;            // stored relative to the base file
};

struct ModelCompressResult {
  std::string format;            // what was detected or forced ("raw" when nothing matched)
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  size_t n_tensors = 0;
  size_t n_delta_regions = 0;    // regions stored against the base
};

// Compresses a model file held in memory (for example mmapped) into a container written to
// `sink`. With a non-empty `base` (an older version of the same model), every region whose name,
// dtype and size match a region of the base is stored as its difference to it; decoding then
// needs the same base. `name_hint` (the file name) helps to recognise formats without magic.
ModelCompressResult compress_model(std::span<const uint8_t> file, const Sink& sink,
                                   const ModelCompressOptions& opts = {}, std::span<const uint8_t> base = {},
                                   std::string_view name_hint = {});

// Reads a container held in memory. Works on any container: one without model metadata has
// format() "raw" and no tensors.
class ModelReader {
 public:
  explicit ModelReader(std::span<const uint8_t> container);  // validates the container and its metadata
  ~ModelReader();
  ModelReader(ModelReader&&) noexcept;
  ModelReader& operator=(ModelReader&&) noexcept;

  const std::string& format() const noexcept;
  bool is_model() const noexcept;     // has a tensor directory
  bool needs_base() const noexcept;   // written with compress_model(..., base)
  uint64_t file_size() const noexcept;  // bytes of the original file
  const std::vector<ModelTensor>& tensors() const noexcept;
  std::optional<size_t> find(std::string_view name) const;
  const Reader& reader() const noexcept;

  // The tensor's bytes, contiguous and row-major, exactly as the format's reference loader
  // returns them. Decodes only the region holding it. `base` is required when needs_base().
  std::vector<uint8_t> extract(size_t tensor, std::span<const uint8_t> base = {}, unsigned threads = 1) const;
  // The same into caller memory of exactly tensors()[tensor].size bytes (e.g. a torch tensor's
  // storage). A tensor that fills its region (the usual case) decodes straight into dst.
  void extract_into(size_t tensor, std::span<uint8_t> dst, std::span<const uint8_t> base = {},
                    unsigned threads = 1) const;

  // Bytes [offset, offset + dst.size()) of the original file, decoding only the chunks that
  // hold them (each checked; the whole-file checksum needs the whole file and is not). `base`
  // is required when the range touches a delta region; each such region's base bytes are
  // checked against their hash the first time.
  void read_range(uint64_t offset, std::span<uint8_t> dst, std::span<const uint8_t> base = {},
                  unsigned threads = 1) const;

  // The whole original file, in order, to `sink`, in pieces of bounded size; every chunk is
  // checked, then the whole file's checksum. `base` is required when needs_base().
  void decompress(const Sink& sink, std::span<const uint8_t> base = {}, unsigned threads = 1) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Where the tensors of an uncompressed model file are, after the same validation compress_model
// applies (for example to read a plain .safetensors file without a second parser).
struct FileTensor {
  std::string name;
  std::string dtype;              // as the file names it
  std::vector<uint64_t> shape;
  uint64_t offset = 0;            // byte offset of element 0 in the file
  uint64_t size = 0;              // bytes as a contiguous row-major array
  std::vector<uint64_t> strides;  // in elements; empty = contiguous row-major (then [offset, offset+size) holds it)
  uint32_t element_size = 0;      // 0 for block formats
};
struct ModelFileLayout {
  std::string format;             // "raw" when no format matched (then no tensors)
  std::vector<FileTensor> tensors;
};
// `format` as in ModelCompressOptions::format ("auto" sniffs). Throws corrupt_input naming the problem.
ModelFileLayout read_model_layout(std::span<const uint8_t> file, const std::string& format = "auto",
                                  std::string_view name_hint = {});

// The format names compress_model accepts in ModelCompressOptions::format.
std::vector<std::string_view> model_formats();

// The format "auto" would pick for this file, from a cheap look at its first bytes ("raw" if
// none). The full parse (and its validation) happens in compress_model.
std::string_view detect_model_format(std::span<const uint8_t> file, std::string_view name_hint = {}) noexcept;

// Folder policy (`tenzip compress DIR`, tenzip.compress_file on a folder): whether a file goes
// through the codec (as NAME.tnz) or is copied as it is. Weight-file extensions (.safetensors,
// .gguf, .bin, .pt, .pth, .ckpt, .onnx, .tflite, .h5, .msgpack, .npz, .npy, .pb, .jit) and .tnz
// (so that every .tnz of the output is tenzip's) always do; other files when their content is a
// model format. `head`: the file's bytes (a prefix is enough for the sniffs).
bool folder_compresses(std::string_view file_name, std::span<const uint8_t> head) noexcept;

// Whether a container's metadata (ContainerInfo::metadata, or what decompress_stream returns)
// says it is a delta that needs its base file to decode.
bool model_metadata_needs_base(std::span<const uint8_t> metadata) noexcept;

}  // namespace tenzip
