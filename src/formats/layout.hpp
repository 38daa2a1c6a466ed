// Where the tensors are inside a model file. Each format's parser turns the bytes of a file into
// a FileLayout; the model layer (src/model) then codes every region with its dtype and every gap
// between regions as `bytes`, so decoding the segments in order gives back the file byte for byte
// whatever the format.
//
// Parsers are pure: they read only the span they are given, allocate nothing but their result,
// never execute anything (pickles are parsed, not run), and throw tenzip::Error with
// Errc::corrupt_input and a message naming the problem ("safetensors: tensor 'x': data_offsets
// [10, 4) end before they begin") for any malformed or out-of-range input.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tenzip::formats {

// A byte range of the file that is coded as its own segment (so it decodes alone).
struct Region {
  uint64_t offset = 0;      // in the file
  uint64_t size = 0;        // bytes
  DType dtype = DType::bytes;  // how the codec splits it; `bytes` for ints, bools, quantized blocks
  std::string name;         // for messages and `inspect`: a tensor name or a storage key
};

// A tensor as the file's own loader sees it. Most formats store one tensor per region; PyTorch
// storages can back several tensors (views), so a tensor points into a region.
struct Tensor {
  std::string name;
  std::string dtype;               // as the format names it: "F32", "BF16", "Q4_K", "torch.float16", "FLOAT"
  std::vector<uint64_t> shape;     // row-major (outermost first), as the reference loader reports it
  size_t region = 0;               // index into FileLayout::regions
  uint64_t offset = 0;             // byte offset of element 0 inside the region
  uint64_t size = 0;               // bytes of a contiguous, row-major copy of the tensor
  std::vector<uint64_t> strides;   // in elements; empty = contiguous row-major
  uint32_t element_size = 0;       // bytes per element (0 when the dtype is a block format, e.g. GGUF Q4_K)
};

struct FileLayout {
  std::string format;              // "safetensors", "gguf", "pytorch-zip", "torchscript", "onnx", ...
  std::vector<Region> regions;     // sorted by offset, pairwise disjoint, all inside the file
  std::vector<Tensor> tensors;     // in the file's own order
};

// Throws corrupt_input unless `layout` obeys the rules above for a file of `file_size` bytes
// (sorted, disjoint, in range, every tensor inside its region, sizes consistent with dtype).
void check_layout(const FileLayout& layout, uint64_t file_size);

// ---------------------------------------------------------------- parsers (one file each)
// Each takes the whole file. `looks_like_*` is a cheap sniff of the first bytes (and the size);
// `parse_*` validates fully.
bool looks_like_safetensors(std::span<const uint8_t> file) noexcept;
FileLayout parse_safetensors(std::span<const uint8_t> file);

bool looks_like_gguf(std::span<const uint8_t> file) noexcept;
FileLayout parse_gguf(std::span<const uint8_t> file);

bool looks_like_zip(std::span<const uint8_t> file) noexcept;
FileLayout parse_pytorch_zip(std::span<const uint8_t> file);  // torch.save zips and TorchScript archives

// ONNX has no magic number: the sniff checks that the file parses as a ModelProto's first fields.
bool looks_like_onnx(std::span<const uint8_t> file) noexcept;
FileLayout parse_onnx(std::span<const uint8_t> file);

bool looks_like_tflite(std::span<const uint8_t> file) noexcept;
FileLayout parse_tflite(std::span<const uint8_t> file);

// NumPy: a .npy holds one array (tensor "array"); a .npz is a zip of .npy members (np.savez),
// each stored member a tensor named as np.load names it (the member name without ".npy").
bool looks_like_npy(std::span<const uint8_t> file) noexcept;
FileLayout parse_npy(std::span<const uint8_t> file);
bool looks_like_npz(std::span<const uint8_t> file) noexcept;
FileLayout parse_npz(std::span<const uint8_t> file);

// The tensor's elements as a contiguous row-major array, read from the bytes of its region
// (strided views are gathered). The layout must have passed check_layout.
std::vector<uint8_t> gather_tensor(std::span<const uint8_t> region_bytes, const Tensor& t);
// The same into dst, which must hold exactly t.size bytes (no second copy of a large tensor).
void gather_tensor_into(std::span<const uint8_t> region_bytes, const Tensor& t, std::span<uint8_t> dst);

// For a file of no known format: format "raw", no tensors, and regions for the stretches that
// are estimated to code smaller as fp32 or 2-byte floats (at any alignment) than as bytes.
FileLayout guess_layout(std::span<const uint8_t> file);

// The dtype among `candidates` that the chunk coder codes `sample` smallest as, a float dtype
// having to beat `bytes` by 1% as in guess_layout: for tensors whose file does not say what
// their elements are (numpy's '<V2', which is how ml_dtypes' bfloat16 is saved).
DType smallest_coding(std::span<const uint8_t> sample, std::span<const DType> candidates);

// Tries each format's sniff, then its parser. Returns guess_layout(file) when nothing matches. If a sniff matches but the parse fails, the parser's error propagates:
// a damaged safetensors file is reported, not silently stored as bytes.
FileLayout parse_any(std::span<const uint8_t> file, std::string_view file_name_hint = {});

}  // namespace tenzip::formats
