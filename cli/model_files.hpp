// What the model-file commands (model_cmds.cpp) and the folder commands (folder_cmds.cpp) share.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>

#include "commands.hpp"
#include "tenzip/model.hpp"

namespace tzcli {

// Compresses one model file (mapped) into `sink` with the options of `a`; errors name `path`.
tenzip::ModelCompressResult compress_model_file(const std::string& path, std::span<const uint8_t> bytes,
                                                std::span<const uint8_t> base, const CodecArgs& a, unsigned threads,
                                                const tenzip::Sink& sink,
                                                const std::function<void(uint64_t)>& progress);

// Decodes a container file completely and discards the bytes: its index, every chunk's checksum
// and, for a model file, its directory and whole-file checksum are checked, as decompression
// would. `base`: the file a delta was made against (empty if none was given). Returns the
// decoded size.
uint64_t verify_container_file(const std::string& path, const std::string& base, unsigned threads);

// "67.12%": `out` as a share of `in`, for the summary lines.
std::string summary_ratio(uint64_t in, uint64_t out);

}  // namespace tzcli
