// Writing a model container from a file whose layout is already known. compress_model() (the
// public entry point) parses the file first; tests call this directly with made-up layouts.
#pragma once

#include <span>

#include "formats/layout.hpp"
#include "tenzip/model.hpp"

namespace tenzip::model {

// `base`/`base_layout`: the older version of the file and its layout, or empty/nullptr.
ModelCompressResult compress_layout(std::span<const uint8_t> file, const formats::FileLayout& layout,
                                    const Sink& sink, const ModelCompressOptions& opts,
                                    std::span<const uint8_t> base, const formats::FileLayout* base_layout);

// The layout of `file` for ModelCompressOptions::format ("auto" sniffs; "raw" gives no regions).
formats::FileLayout layout_for(std::span<const uint8_t> file, const std::string& format, std::string_view name_hint);

}  // namespace tenzip::model
