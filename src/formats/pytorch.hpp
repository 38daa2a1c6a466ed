// PyTorch zip archives: torch.save files ("pytorch-zip") and TorchScript archives ("torchscript").
// parse_pytorch_zip and looks_like_zip are declared in formats/layout.hpp; this header adds what
// the model layer reuses.
//
// Layout of an archive, all under one root directory (the first entry's first path component):
//   <root>/data.pkl               the pickled object tree; storages are persistent ids
//   <root>/data/<key>             one stored entry per storage, raw little-endian elements
//   <root>/constants.pkl          TorchScript only: the constant table, storages in
//   <root>/constants/<key>
//   <root>/byteorder              "little" (absent in old files, which are little-endian)
//   everything else (code/, version, .data/, extra files, traced_inputs) is a gap.
// Every stored storage entry becomes one Region (dtype from the storage type: Float -> fp32,
// Half -> fp16, BFloat16 -> bf16, Float8_e4m3fn -> fp8_e4m3, Float8_e5m2 -> fp8_e5m2, anything
// else -> bytes; an UntypedStorage takes the dtype of the tensors on it when they all agree).
// A storage entry that is compressed is a gap, and its tensors are left out of the layout.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "formats/layout.hpp"

namespace tenzip::formats {

// The bytes of layout.tensors[tensor_index] as a contiguous row-major array, gathered from its
// region through its offset and strides (for any format). Throws Error(corrupt_input) if the
// tensor does not lie inside its region and the region inside `file`, and
// Error(invalid_argument) if tensor_index is out of range.
std::vector<uint8_t> gather_tensor(std::span<const uint8_t> file, const FileLayout& layout, size_t tensor_index);

}  // namespace tenzip::formats
