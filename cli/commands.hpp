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
  tenzip::DType dtype = tenzip::DType::bytes;
};
int run_compress(const CodecArgs& a);
int run_decompress(const CodecArgs& a);

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
