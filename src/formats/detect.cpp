// Format detection: which parser a file goes to.
#include <string>
#include <vector>

#include "formats/layout.hpp"
#include "model/compress_model.hpp"

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
  };
  return formats;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

FileLayout parse_any(std::span<const uint8_t> file, std::string_view name_hint) {
  (void)name_hint;
  for (const FormatEntry& f : registry())
    if (f.sniff(file)) return f.parse(file);
  FileLayout raw;
  raw.format = "raw";
  return raw;
}

}  // namespace tenzip::formats

namespace tenzip::model {

formats::FileLayout layout_for(std::span<const uint8_t> file, const std::string& format, std::string_view name_hint) {
  if (format == "auto") return formats::parse_any(file, name_hint);
  if (format == "raw") return formats::FileLayout{"raw", {}, {}};
  for (const auto& f : formats::registry())
    if (f.name == format) return f.parse(file);
  std::string known = "auto, raw";
  for (const auto& f : formats::registry()) known += ", " + std::string(f.name);
  throw Error(Errc::invalid_argument, "unknown model format '" + format + "' (" + known + ")");
}

}  // namespace tenzip::model

namespace tenzip {

std::string_view detect_model_format(std::span<const uint8_t> file, std::string_view name_hint) noexcept {
  (void)name_hint;
  for (const auto& f : formats::registry())
    if (f.sniff(file)) return f.name;
  return "raw";
}

std::vector<std::string_view> model_formats() {
  std::vector<std::string_view> out = {"auto", "raw"};
  for (const auto& f : formats::registry()) out.push_back(f.name);
  return out;
}

}  // namespace tenzip
