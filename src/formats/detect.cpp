// Format detection: which parser a file goes to.
#include <string>
#include <vector>

#include "formats/layout.hpp"
#include "model/compress_model.hpp"
#include "tenzip/model.hpp"

namespace tenzip::formats {

namespace {

struct FormatEntry {
  std::string_view name;
  bool (*sniff)(std::span<const uint8_t>) noexcept;
  FileLayout (*parse)(std::span<const uint8_t>);
};

// In sniffing order: formats with a magic number first, ONNX (no magic) last.
const std::vector<FormatEntry>& registry() {
  static const std::vector<FormatEntry> formats = {
      {"safetensors", looks_like_safetensors, parse_safetensors},
      {"gguf", looks_like_gguf, parse_gguf},
      {"pytorch-zip", looks_like_zip, parse_pytorch_zip},  // torch.save zips and TorchScript archives
      {"tflite", looks_like_tflite, parse_tflite},
      {"npy", looks_like_npy, parse_npy},
      {"npz", looks_like_npz, parse_npz},
      {"onnx", looks_like_onnx, parse_onnx},  // no magic number: last
  };
  return formats;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

// A zip that is not a PyTorch archive (no data.pkl) is stored as bytes, not reported as broken.
bool is_optional_match(std::string_view format, std::string_view name_hint) {
  return format == "pytorch-zip" && !ends_with(name_hint, ".pt") && !ends_with(name_hint, ".pth") &&
         !ends_with(name_hint, ".bin") && !ends_with(name_hint, ".jit") && !ends_with(name_hint, ".ckpt");
}

FileLayout parse_any(std::span<const uint8_t> file, std::string_view name_hint) {
  for (const FormatEntry& f : registry()) {
    if (!f.sniff(file)) continue;
    if (!is_optional_match(f.name, name_hint)) return f.parse(file);
    try {
      return f.parse(file);
    } catch (const Error&) {
      break;  // some other zip (a .npz, a .docx): bytes
    }
  }
  return guess_layout(file);
}

}  // namespace tenzip::formats

namespace tenzip::model {

formats::FileLayout layout_for(std::span<const uint8_t> file, const std::string& format, std::string_view name_hint) {
  if (format == "auto") return formats::parse_any(file, name_hint);
  if (format == "raw") return formats::FileLayout{"raw", {}, {}};
  const std::string want = format == "torchscript" ? std::string("pytorch-zip") : format;  // a string: a view of the ternary's temporary would dangle
  for (const auto& f : formats::registry())
    if (f.name == want) return f.parse(file);
  std::string known = "auto, raw";
  for (const auto& f : formats::registry()) known += ", " + std::string(f.name);
  throw Error(Errc::invalid_argument, "unknown model format '" + format + "' (" + known + ")");
}

}  // namespace tenzip::model

namespace tenzip {

std::string_view detect_model_format(std::span<const uint8_t> file, std::string_view name_hint) noexcept {
  (void)name_hint;  // every sniff looks at content only
  for (const auto& f : formats::registry())
    if (f.sniff(file)) return f.name;
  return "raw";
}

ModelFileLayout read_model_layout(std::span<const uint8_t> file, const std::string& format, std::string_view name_hint) {
  const formats::FileLayout l = model::layout_for(file, format, name_hint);
  formats::check_layout(l, file.size());
  ModelFileLayout out;
  out.format = l.format;
  for (const formats::Tensor& t : l.tensors)
    out.tensors.push_back({t.name, t.dtype, t.shape, l.regions[t.region].offset + t.offset, t.size, t.strides,
                           t.element_size});
  return out;
}

bool folder_compresses(std::string_view file_name, std::span<const uint8_t> head) noexcept {
  static constexpr std::string_view kExt[] = {".safetensors", ".gguf", ".bin", ".pt",  ".pth", ".ckpt", ".onnx", ".tflite",
                                              ".h5",          ".msgpack", ".npz", ".npy", ".pb",  ".jit",  ".tnz"};
  const size_t slash = file_name.find_last_of('/');
  const std::string_view base = slash == std::string_view::npos ? file_name : file_name.substr(slash + 1);
  const size_t dot = base.find_last_of('.');
  if (dot != std::string_view::npos && dot > 0)
    for (std::string_view e : kExt)
      if (base.substr(dot) == e) return true;
  return detect_model_format(head, base) != "raw";
}

std::vector<std::string_view> model_formats() {
  std::vector<std::string_view> out = {"auto", "raw"};
  for (const auto& f : formats::registry()) out.push_back(f.name);
  return out;
}

}  // namespace tenzip
