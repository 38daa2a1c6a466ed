// The subcommands of the `tenzip` command. Each returns the process exit code and throws
// CliError / tenzip::Error / std::exception for failures (reported by main).
#pragma once

#include <string>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tzcli {

// Block size for streaming: bounded memory whatever the input size.
inline constexpr size_t kStreamBlock = size_t{4} << 20;

struct CodecArgs {
  std::string input;
  std::string output;      // empty: derive from input
  bool to_stdout = false;  // -c
  bool force = false;
  bool quiet = false;
  unsigned threads = 0;    // already resolved (never 0 here)
  int level = 3;
  bool lanes = false;        // --lanes
  tenzip::DType dtype = tenzip::DType::bytes;
  bool dtype_given = false;  // --dtype: a raw buffer of that dtype, no model-file detection
  std::string format = "auto";  // --format (model files)
  std::string base;          // --base OLD: a checkpoint delta against OLD (file or folder)
  bool test = false;         // decompress -t: decode and verify, write nothing
};
int run_compress(const CodecArgs& a);
int run_decompress(const CodecArgs& a);

// Model files (model_cmds.cpp) and folders (folder_cmds.cpp); run_compress/run_decompress
// dispatch to them.
int run_compress_model(const CodecArgs& a);
int run_decompress_model(const CodecArgs& a);  // a.input: a regular file holding a model container
int run_compress_folder(const CodecArgs& a);
int run_decompress_folder(const CodecArgs& a);
// decompress -t on a file or a folder (its NAME.tnz files): decoded and checked as decompress
// would, with nothing written. (From stdin, run_decompress streams into nothing.)
int run_test(const CodecArgs& a);
int run_test_folder(const CodecArgs& a);
// True if the container file at `path` holds a model directory, or a directory that cannot be
// read (so decompress takes the model path, which reports why).
bool is_model_container(const std::string& path);

struct ExtractArgs {
  std::string input;
  std::string tensor;
  std::string output;  // empty or "-": stdout
  std::string base;
  bool to_stdout = false;
  bool force = false;
  bool list = false;
  unsigned threads = 1;
};
int run_extract(const ExtractArgs& a);

struct InspectArgs {
  std::string input;
  bool json = false;
  unsigned threads = 1;
};
int run_inspect(const InspectArgs& a);

struct BenchArgs {
  std::vector<std::string> files;
  tenzip::DType dtype = tenzip::DType::bytes;
  unsigned threads = 1;
  int level = 3;
  bool lanes = false;
  bool json = false;
  double min_time = 1.0;  // seconds per direction per file
};
int run_bench(const BenchArgs& a);

unsigned hardware_threads();  // >= 1

// JSON string literal with escapes (file names are bytes: non-UTF-8 bytes become \u00XX).
std::string json_string(const std::string& s);
// Number for JSON: finite doubles with enough digits; non-finite as null.
std::string json_number(double v);

}  // namespace tzcli
