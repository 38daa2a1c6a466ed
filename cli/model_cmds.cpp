// Model files: `tenzip compress|decompress` on a model file, `decompress -t`, and `tenzip
// extract`. Files are mapped, not read; every output is written to a temp path and renamed into
// place when complete. Folders: folder_cmds.cpp.
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io.hpp"
#include "model_files.hpp"
#include "progress.hpp"
#include "tenzip/model.hpp"

namespace tzcli {

namespace fs = std::filesystem;

namespace {
constexpr std::string_view kSuffix = kTnzSuffix;
}  // namespace

std::string summary_ratio(uint64_t in, uint64_t out) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f%%", in ? 100.0 * double(out) / double(in) : 0.0);
  return buf;
}

tenzip::ModelCompressResult compress_model_file(const std::string& path, std::span<const uint8_t> bytes,
                                                std::span<const uint8_t> base, const CodecArgs& a, unsigned threads,
                                                const tenzip::Sink& sink,
                                                const std::function<void(uint64_t)>& progress) {
  tenzip::ModelCompressOptions o;
  o.level = a.level;
  o.lanes = a.lanes;
  o.threads = threads;
  o.format = a.format;
  o.progress = progress;
  try {
    return tenzip::compress_model(bytes, sink, o, base, fs::path(path).filename().string());
  } catch (const tenzip::Error& e) {
    rethrow_named(e, path);
  }
}


bool is_model_container(const std::string& path) {
  try {
    WholeInput in(path);
    try {
      const tenzip::Reader container(in.bytes());
    } catch (const tenzip::Error&) {
      return false;  // not a valid container: the streaming path reports the problem
    }
    // A valid container whose tensor directory fails to read (damaged, or from a newer tenzip):
    // the model path reports why, rather than the file being restored as plain bytes with its
    // directory and whole-file checksum unchecked.
    try {
      return tenzip::ModelReader(in.bytes()).is_model();
    } catch (const tenzip::Error&) {
      return true;
    }
  } catch (const std::exception&) {
    return false;
  }
}

// ---------------------------------------------------------------- one file

int run_compress_model(const CodecArgs& a) {
  Input in(a.input);  // identity (refuse to overwrite the input) and permissions
  WholeInput file(a.input);
  std::optional<WholeInput> base;
  if (!a.base.empty()) {
    if (fs::is_directory(a.base)) throw CliError(2, a.base + ": --base must be a file when compressing a file");
    base.emplace(a.base);
  }
  const std::string out_path = a.to_stdout ? "-" : !a.output.empty() ? a.output : a.input + std::string(kSuffix);
  if (is_stdio(out_path) && stdout_is_terminal() && !a.force)
    throw CliError(1, "stdout is a terminal; refusing to write compressed data to it (use -o FILE, or -f to force)");
  Output out(out_path, a.force, &in, output_mode(in));
  Progress progress("compressing " + in.name(), file.bytes().size(), !a.quiet);
  const auto res = compress_model_file(a.input, file.bytes(), base ? base->bytes() : std::span<const uint8_t>{}, a,
                                a.threads, [&](std::span<const uint8_t> s) { out.write(s); },
                                [&](uint64_t done) { progress.update(done); });
  progress.finish();
  out.commit();
  if (!a.quiet && !out.is_stdout()) {
    std::string what = res.format;
    if (res.format != "raw") what += ", " + std::to_string(res.n_tensors) + " tensors";
    if (base) what += ", " + std::to_string(res.n_delta_regions) + " stored against the base";
    std::fprintf(stderr, "%s : %s (%s => %s, %s) [%s]\n", in.name().c_str(),
                 summary_ratio(res.bytes_in, res.bytes_out).c_str(), human_size(res.bytes_in).c_str(),
                 human_size(res.bytes_out).c_str(), out.name().c_str(), what.c_str());
  }
  return 0;
}

int run_decompress_model(const CodecArgs& a) {
  std::string out_path;
  if (a.to_stdout) out_path = "-";
  else if (!a.output.empty()) out_path = a.output;
  else if (has_tnz_suffix(a.input)) out_path = a.input.substr(0, a.input.size() - kSuffix.size());
  else throw CliError(2, a.input + ": unknown suffix (expected .tnz); name the output with -o OUT, or use -c for stdout");
  Input in(a.input);
  WholeInput file(a.input);
  std::optional<WholeInput> base;
  if (!a.base.empty()) base.emplace(a.base);
  try {
    const tenzip::ModelReader reader(file.bytes());
    if (reader.needs_base() && !base)
      throw CliError(2, a.input + ": this is a checkpoint delta; give the file it was made against with --base OLD");
    Output out(out_path, a.force, &in, output_mode(in));
    Progress progress("decompressing " + in.name(), reader.file_size(), !a.quiet);
    uint64_t done = 0;
    reader.decompress(
        [&](std::span<const uint8_t> s) {
          out.write(s);
          progress.update(done += s.size());
        },
        base ? base->bytes() : std::span<const uint8_t>{}, a.threads);
    progress.finish();
    out.commit();
    if (!a.quiet && !out.is_stdout())
      std::fprintf(stderr, "%s : %s => %s, %s [%s]\n", in.name().c_str(), human_size(file.bytes().size()).c_str(),
                   human_size(done).c_str(), out.name().c_str(), reader.format().c_str());
  } catch (const tenzip::Error& e) {
    rethrow_named(e, in.name());
  }
  return 0;
}

// ---------------------------------------------------------------- test (decompress -t)

uint64_t verify_container_file(const std::string& path, const std::string& base, unsigned threads) {
  WholeInput file(path, WholeInput::Access::sequential);
  try {
    const tenzip::ModelReader reader(file.bytes());
    std::optional<WholeInput> base_file;
    if (reader.needs_base()) {
      if (base.empty())
        throw CliError(2, path + ": this is a checkpoint delta; give the file it was made against with --base OLD");
      base_file.emplace(base);
    }
    uint64_t n = 0;
    reader.decompress([&](std::span<const uint8_t> s) { n += s.size(); },
                      base_file ? base_file->bytes() : std::span<const uint8_t>{}, threads);
    return n;
  } catch (const tenzip::Error& e) {
    rethrow_named(e, path);
  }
}

int run_test(const CodecArgs& a) {
  std::error_code ec;
  if (fs::is_directory(a.input, ec)) return run_test_folder(a);
  const uint64_t n = verify_container_file(a.input, a.base, a.threads);
  if (!a.quiet)
    std::fprintf(stderr, "%s : OK (%s => %s)\n", a.input.c_str(), human_size(fs::file_size(a.input, ec)).c_str(),
                 human_size(n).c_str());
  return 0;
}

// ---------------------------------------------------------------- extract

int run_extract(const ExtractArgs& a) {
  WholeInput file(a.input, WholeInput::Access::random);
  std::optional<tenzip::ModelReader> reader;
  try {
    reader.emplace(file.bytes());
  } catch (const tenzip::Error& e) {
    rethrow_named(e, a.input);
  }
  if (!reader->is_model())
    throw CliError(1, a.input + ": holds no tensor directory (it was compressed as a raw buffer, not a model file)");
  if (a.list) {
    for (const auto& t : reader->tensors()) std::printf("%s\n", t.name.c_str());
    return 0;
  }
  const auto idx = reader->find(a.tensor);
  if (!idx) throw CliError(1, a.input + ": no tensor named '" + a.tensor + "' (list them with: tenzip extract --list " + a.input + ")");
  std::optional<WholeInput> base;
  if (reader->needs_base()) {
    if (a.base.empty()) throw CliError(2, a.input + ": this is a checkpoint delta; give its base with --base OLD");
    base.emplace(a.base);
  }
  const std::string out_path = a.to_stdout || a.output.empty() ? "-" : a.output;
  if (is_stdio(out_path) && stdout_is_terminal() && !a.force)
    throw CliError(1, "stdout is a terminal; refusing to write tensor bytes to it (use -o FILE, or -f to force)");
  // The contiguous copy is built in memory. A view can be far larger than its storage (a
  // broadcast, stride 0): refuse before trying rather than fail inside the allocator.
  const uint64_t size = reader->tensors()[*idx].size;
  const auto too_big = [&](const std::string& why) {
    return CliError(1, a.input + ": tensor '" + a.tensor + "' takes " + std::to_string(size) +
                           " bytes as a contiguous array: " + why);
  };
  const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page_size > 0 && size / static_cast<uint64_t>(page_size) > static_cast<uint64_t>(pages))
    throw too_big("more than this machine's memory (" + std::to_string(static_cast<uint64_t>(pages) * page_size) + " bytes)");
  std::vector<uint8_t> bytes;
  try {
    bytes = reader->extract(*idx, base ? base->bytes() : std::span<const uint8_t>{}, a.threads);
  } catch (const tenzip::Error& e) {
    rethrow_named(e, a.input);
  } catch (const std::bad_alloc&) {
    throw too_big("more memory than this process could get");
  }
  Output out(out_path, a.force, nullptr, default_file_mode());
  out.write(bytes);
  out.commit();
  return 0;
}

}  // namespace tzcli
