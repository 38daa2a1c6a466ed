// The `tenzip` command: argument parsing and error reporting. Uses the public API only.
// Exit codes: 0 success, 1 failure (bad or corrupt input, I/O), 2 usage error.
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <new>
#include <string>
#include <vector>

#include "commands.hpp"
#include "io.hpp"

namespace {

using namespace tzcli;

void print_error(const std::string& what) { std::fprintf(stderr, "tenzip: error: %s\n", what.c_str()); }

const char* const kLanesHelp =
    "code exponents for AVX-512 VBMI decoders (Ice Lake, Zen 4 and later): bf16 decompresses "
    "~1.3-1.9x faster there (by CPU), about half as fast with AVX2 only; ~0.2% larger, slower compression; "
    "files get format version 3";

const char* const kLevelHelp =
    "1 (fastest) .. 9 (smallest). Default: 3; 1-2 never try LZ (zstd over repeats): faster, 1-2% larger";

std::string version_line() {
  return "tenzip " + std::string(tenzip::version_string()) + " (format version " +
         std::to_string(tenzip::kFormatVersion) + ")";
}

// Accepts every name tenzip::parse_dtype knows.
CLI::Validator dtype_validator() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (tenzip::parse_dtype(s)) return {};
        return "unknown dtype '" + s + "' (bf16, fp16, fp32, fp8_e4m3, fp8_e5m2, bytes)";
      },
      "DTYPE");
}

constexpr const char* kDtypeHelp =
    "element type of the input: bf16, fp16, fp32, fp8_e4m3, fp8_e5m2 or bytes (anything else); "
    "aliases such as bfloat16, float16, float32 work too. Default: bytes";

// Runs a command; its exceptions become an error line on stderr and an exit code.
template <class F>
int report_errors(F&& run) {
  try {
    return run();
  } catch (const CliError& e) {
    print_error(e.what());
    return e.exit_code;
  } catch (const tenzip::Error& e) {
    print_error(e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    print_error("out of memory");
    return 1;
  } catch (const std::exception& e) {
    print_error(e.what());
    return 1;
  }
}

// Several inputs, zstd's way: each is run as if given alone (its output beside it); a failure
// is reported and the others still run, unless stop_on_failure. `between` is printed on stdout
// between inputs. The exit code is the worst one.
template <class Args>
int for_each_input(const std::vector<std::string>& inputs, Args a, int (*run)(const Args&), bool stop_on_failure,
                   const char* between = "") {
  int worst = 0;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (i > 0 && *between) std::fputs(between, stdout);
    a.input = inputs[i];
    worst = std::max(worst, report_errors([&] { return run(a); }));
    if (worst != 0 && stop_on_failure) break;
  }
  return worst;
}

// What several inputs rule out: stdin among them, and one named output.
void check_several(const std::string& cmd, const std::vector<std::string>& inputs, const std::string& output) {
  if (inputs.size() < 2) return;
  if (std::any_of(inputs.begin(), inputs.end(), [](const std::string& in) { return is_stdio(in); }))
    throw CliError(2, cmd + ": - (stdin) must be the only input");
  if (!output.empty())
    throw CliError(2, cmd + ": -o names one output; with several inputs each output is written beside its input");
}

}  // namespace

int main(int argc, char** argv) {
  install_signal_handlers();
  const unsigned hw = hardware_threads();
  const std::string threads_help = "worker threads; 0 = all hardware threads. Default: all (" + std::to_string(hw) + ")";

  CLI::App app{"tenzip: lossless compression of neural-network weights.", "tenzip"};
  app.footer(
      "Examples:\n"
      "  tenzip compress --dtype bf16 model.bin         # writes model.bin.tnz, keeps model.bin\n"
      "  tenzip decompress model.bin.tnz -o copy.bin\n"
      "  cat w.bin | tenzip compress --dtype fp32 - > w.tnz\n"
      "  tenzip decompress - < w.tnz | sha256sum\n"
      "  tenzip inspect model.bin.tnz\n"
      "  tenzip compress model.safetensors && tenzip extract model.safetensors.tnz --tensor wte.weight -o wte.bin\n"
      "  tenzip bench --dtype fp16 --json a.bin b.bin\n"
      "Run 'tenzip COMMAND --help' for a command's options.\n"
      "Exit status: 0 success, 1 failure (bad input, I/O), 2 usage error.");
  bool show_version = false;
  app.add_flag("-V,--version", show_version, "print the library and format versions, then exit");

  // ---- compress
  CodecArgs ca;
  std::string dtype_c = "bytes";
  ca.threads = hw;
  bool keep = false;
  auto* comp = app.add_subcommand("compress", "compress files or folders (or - for stdin), each into a .tnz container");
  std::vector<std::string> comp_inputs, dec_inputs;
  comp->add_option("input", comp_inputs, "files or folders to compress (each to its own output), or - for stdin")
      ->required();
  auto* dtype_opt = comp->add_option("--dtype", dtype_c, kDtypeHelp)->check(dtype_validator());
  comp->add_option("--format", ca.format,
                   "model file format: auto (detect), raw (no tensors), safetensors, gguf, pytorch-zip, onnx, "
                   "tflite, npy, npz. Default: auto (files only; stdin is raw)");
  comp->add_option("--base", ca.base,
                   "store a checkpoint delta against this older version of the file (or folder); "
                   "decompressing then needs the same --base");
  comp->add_option("-T,--threads", ca.threads, threads_help)->check(CLI::Range(0u, 4096u));
  comp->add_option("-l,--level", ca.level, kLevelHelp)
      ->check(CLI::Range(tenzip::kMinLevel, tenzip::kMaxLevel));
  comp->add_flag("--lanes", ca.lanes, kLanesHelp);
  comp->add_option("-o,--output", ca.output, "output file, or - for stdout. Default: INPUT.tnz (stdout for stdin)");
  comp->add_flag("-c,--stdout", ca.to_stdout, "write to stdout");
  comp->add_flag("-f,--force", ca.force,
                 "overwrite an existing output; allow writing compressed data to a terminal");
  comp->add_flag("-k,--keep", keep, "keep the input (always done; accepted for zstd compatibility)");
  comp->add_flag("-q,--quiet", ca.quiet, "no progress bar, no summary");
  comp->footer(
      "Without --dtype, a file is checked for a model format (safetensors, GGUF, PyTorch zip and\n"
      "TorchScript, ONNX, TFLite): each tensor is coded with its own dtype and can be extracted\n"
      "alone. Other files are coded as bytes. A folder (e.g. a downloaded model) becomes a folder\n"
      "DIR.tnz: weight files compressed (as NAME.tnz, in parallel), everything else copied (so is\n"
      "a weight file that coding would not shrink).\n"
      "The output is written to a temporary file beside it and renamed when complete: an\n"
      "interrupted or failed run leaves no partial output. The input is never modified.\n"
      "Examples:\n"
      "  tenzip compress model.safetensors              # writes model.safetensors.tnz\n"
      "  tenzip compress all-MiniLM-L6-v2/              # writes all-MiniLM-L6-v2.tnz/\n"
      "  tenzip compress --base step1000.safetensors step1100.safetensors\n"
      "  tenzip compress --dtype fp32 -l 9 weights.bin\n"
      "  tenzip compress --dtype bf16 *.bin                 # each to its own .tnz\n"
      "  tenzip compress --dtype bf16 -T 1 -o out.tnz - < weights.bin");

  // ---- decompress
  CodecArgs da;
  da.threads = hw;
  auto* dec = app.add_subcommand("decompress", "decompress .tnz containers (or - for stdin)");
  dec->add_option("input", dec_inputs, "files (or folders) .tnz to decompress, each to its own output, or - for stdin")
      ->required();
  dec->add_option("-T,--threads", da.threads, threads_help)->check(CLI::Range(0u, 4096u));
  dec->add_option("-o,--output", da.output,
                  "output file, or - for stdout. Default: INPUT without .tnz (stdout for stdin)");
  dec->add_flag("-c,--stdout", da.to_stdout, "write to stdout");
  dec->add_flag("-f,--force", da.force, "overwrite an existing output");
  dec->add_option("--base", da.base, "the file (or folder) a checkpoint delta was made against");
  dec->add_flag("-k,--keep", keep, "keep the input (always done; accepted for zstd compatibility)");
  dec->add_flag("-q,--quiet", da.quiet, "no progress bar, no summary");
  dec->add_flag("-t,--test", da.test,
                "test: decode and verify everything decompressing would (for a folder, each NAME.tnz in it), "
                "write nothing");
  dec->footer(
      "Every chunk is verified against its checksum; on any error the output is removed.\n"
      "Examples:\n"
      "  tenzip decompress weights.bin.tnz            # writes weights.bin\n"
      "  tenzip decompress -c weights.bin.tnz | sha256sum\n"
      "  tenzip decompress *.tnz                      # each beside its input; failures reported, others go on\n"
      "  tenzip decompress -t all-MiniLM-L6-v2.tnz/    # checks every file, writes nothing");

  // ---- extract
  ExtractArgs ea;
  ea.threads = hw;
  auto* ext = app.add_subcommand("extract", "write one tensor of a compressed model file, decoding only that tensor");
  ext->add_option("input", ea.input, "a model file's .tnz")->required();
  ext->add_option("--tensor", ea.tensor, "the tensor's name, as the model file names it");
  ext->add_flag("--list", ea.list, "print the tensor names, one per line");
  ext->add_option("-o,--output", ea.output, "output file. Default: stdout");
  ext->add_flag("-c,--stdout", ea.to_stdout, "write to stdout");
  ext->add_flag("-f,--force", ea.force, "overwrite an existing output; allow writing to a terminal");
  ext->add_option("--base", ea.base, "the file a checkpoint delta was made against");
  ext->add_option("-T,--threads", ea.threads, threads_help)->check(CLI::Range(0u, 4096u));
  ext->footer(
      "The output holds the tensor's elements, contiguous, row-major and little-endian, exactly\n"
      "as the format's reference loader returns them (views of shared PyTorch storages are\n"
      "gathered). Shape and dtype: tenzip inspect FILE.tnz.\n"
      "Example:\n"
      "  tenzip extract model.safetensors.tnz --tensor lm_head.weight -o lm_head.bin");

  // ---- inspect
  InspectArgs ia;
  ia.threads = hw;
  auto* ins = app.add_subcommand(
      "inspect", "show containers' layout, stream sizes and exponent statistics (several files: each in turn)");
  std::vector<std::string> ins_inputs;
  ins->add_option("input", ins_inputs, "files .tnz (each reported in turn), or - for stdin")->required();
  ins->add_flag("--json", ia.json, "one JSON object per file and line on stdout");
  ins->add_option("-T,--threads", ia.threads, threads_help)->check(CLI::Range(0u, 4096u));
  ins->footer(
      "Decodes everything (verifying checksums) to report, per float segment, the histogram of\n"
      "exponent values and its order-0 entropy in bits, whole and averaged over 4096-element blocks.");

  // ---- bench
  BenchArgs ba;
  std::string dtype_b = "bytes";
  ba.threads = hw;
  auto* ben = app.add_subcommand("bench", "measure ratio and speed on files (in memory, round trip verified)");
  ben->add_option("files", ba.files, "files to measure")->required();
  ben->add_option("--dtype", dtype_b, kDtypeHelp)->check(dtype_validator());
  ben->add_option("-T,--threads", ba.threads, threads_help)->check(CLI::Range(0u, 4096u));
  ben->add_option("-l,--level", ba.level, kLevelHelp)
      ->check(CLI::Range(tenzip::kMinLevel, tenzip::kMaxLevel));
  ben->add_flag("--lanes", ba.lanes, kLanesHelp);
  ben->add_flag("--json", ba.json, "one JSON object per file and line on stdout");
  ben->add_option("--min-time", ba.min_time, "seconds to repeat each direction (at least 3 runs). Default: 1")
      ->check(CLI::Range(0.0, 3600.0));
  ben->footer(
      "Ratio = compressed / original. MB/s = 1e6 bytes of uncompressed data per second, best run.\n"
      "Example:\n"
      "  tenzip bench --dtype fp32 -T 1 --json stories260K.bin");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    print_error(std::string(e.what()) + " (see tenzip --help)");
    return 2;
  }
  if (show_version) {
    std::printf("%s\n", version_line().c_str());
    return 0;
  }

  auto resolve = [&](unsigned t) { return t == 0 ? hw : t; };
  return report_errors([&] {
    if (*comp) {
      ca.dtype = *tenzip::parse_dtype(dtype_c);
      ca.dtype_given = dtype_opt->count() > 0;
      ca.threads = resolve(ca.threads);
      check_several("compress", comp_inputs, ca.output);
      if (comp_inputs.size() > 1 && ca.to_stdout)
        throw CliError(2, "compress: -c with several inputs would write containers back to back, which do not "
                          "decode as one; compress them one at a time");
      return for_each_input(comp_inputs, ca, run_compress, false);
    }
    if (*dec) {
      da.threads = resolve(da.threads);
      check_several("decompress", dec_inputs, da.output);
      // -c: the outputs back to back on stdout (as zcat); going on after a failure would leave
      // a concatenation with a piece missing.
      return for_each_input(dec_inputs, da, run_decompress, da.to_stdout);
    }
    if (*ext) {
      if (ea.list == !ea.tensor.empty()) {
        print_error("extract: give exactly one of --tensor NAME or --list (see tenzip extract --help)");
        return 2;
      }
      ea.threads = resolve(ea.threads);
      return run_extract(ea);
    }
    if (*ins) {
      ia.threads = resolve(ia.threads);
      check_several("inspect", ins_inputs, "");
      return for_each_input(ins_inputs, ia, run_inspect, false, ia.json ? "" : "\n");
    }
    if (*ben) {
      ba.dtype = *tenzip::parse_dtype(dtype_b);
      ba.threads = resolve(ba.threads);
      return run_bench(ba);
    }
    print_error("no command given; use compress, decompress, extract, inspect or bench (see tenzip --help)");
    return 2;
  });
}
