// File I/O for the tenzip command: inputs (files, FIFOs, stdin), outputs written atomically
// (temp file in the output's directory, fsync, rename), and signal handlers that remove an
// unfinished temp file so that no partial output ever remains.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tenzip/tenzip.hpp"

namespace tzcli {

// A failure the CLI reports as `tenzip: error: <what>` with exit code 1 (I/O, bad input)
// or 2 (usage).
struct CliError : std::runtime_error {
  CliError(int exit_code, const std::string& what) : std::runtime_error(what), exit_code(exit_code) {}
  int exit_code;
};
[[noreturn]] void fail_io(const std::string& path, const std::string& what);  // exit 1
[[noreturn]] void fail_errno(const std::string& path, const char* action);    // exit 1, strerror(errno)

// Install SIGINT/SIGTERM/SIGHUP handlers that unlink the temp file being written (if any)
// and then die by the same signal. Signals ignored at start (e.g. under nohup) stay ignored.
void install_signal_handlers();

// Folder operations write a whole temp directory, which a signal handler cannot remove safely.
// While a DeferSignals lives, those signals only set a flag that interrupted() reports; the code
// polls it, stops, removes its temp directory, and the destructor then dies by the signal.
class DeferSignals {
 public:
  DeferSignals();
  ~DeferSignals();
  DeferSignals(const DeferSignals&) = delete;
  DeferSignals& operator=(const DeferSignals&) = delete;
};
bool interrupted();

bool is_stdio(const std::string& path);  // "-"

// The suffix of tenzip's outputs, and whether a path ends with it (after a non-empty name).
inline constexpr std::string_view kTnzSuffix = ".tnz";
bool has_tnz_suffix(const std::string& path);

// Library errors name no file; say which one. invalid_argument means the command line asked
// for something the library refuses: a usage error (exit 2); everything else exits 1.
[[noreturn]] void rethrow_named(const tenzip::Error& e, const std::string& name);

// An input: a file (any kind: regular, FIFO, device) or stdin.
class Input {
 public:
  explicit Input(const std::string& path);  // throws CliError
  ~Input();
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;

  // Reads up to dst.size() bytes, fewer only at end of input; 0 = end.
  size_t read(std::span<uint8_t> dst);
  // Size if known (regular file), for the progress bar and the summary.
  std::optional<uint64_t> size() const { return size_; }
  const std::string& name() const { return name_; }
  int fd() const { return fd_; }
  bool is_regular() const { return regular_; }
  // Identity, to refuse writing over the input itself.
  uint64_t dev() const { return dev_; }
  uint64_t ino() const { return ino_; }
  unsigned mode() const { return mode_; }
  uint64_t bytes_read() const { return bytes_read_; }

 private:
  int fd_ = -1;
  bool owned_ = false;
  bool regular_ = false;
  std::optional<uint64_t> size_;
  std::string name_;
  uint64_t dev_ = 0, ino_ = 0;
  unsigned mode_ = 0;
  uint64_t bytes_read_ = 0;
};

// Reads a whole input into memory (bench, inspect).
std::vector<uint8_t> read_all(const std::string& path);

// A whole input as bytes: a read-only mapping for regular files (no copy, pages loaded on
// demand: inspect of a multi-GB container), else read into memory (stdin, pipes).
class WholeInput {
 public:
  enum class Access { normal, sequential, random };  // madvise hint for a mapped file
  explicit WholeInput(const std::string& path, Access access = Access::normal);
  ~WholeInput();
  WholeInput(const WholeInput&) = delete;
  WholeInput& operator=(const WholeInput&) = delete;
  std::span<const uint8_t> bytes() const { return {data_, size_}; }

 private:
  std::vector<uint8_t> buf_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;
};

// An output: stdout, an existing device or FIFO written in place, or a temp file renamed
// over `path` by commit(). Destroying an uncommitted output removes the temp file.
class Output {
 public:
  // `force`: allowed to replace an existing file. `input`: refuse if the output is that file.
  // `mode`: permission bits for the new file (already filtered by umask by the caller).
  Output(const std::string& path, bool force, const Input* input, unsigned mode);
  ~Output();
  Output(const Output&) = delete;
  Output& operator=(const Output&) = delete;

  void write(std::span<const uint8_t> data);  // throws CliError on failure
  void commit();                              // fsync + rename (files); flush (stdout)
  // No summary for stdout; a device output (-o /dev/null) is written in place.
  bool is_stdout() const { return path_.empty() && !direct_; }
  const std::string& name() const { return name_; }
  uint64_t bytes_written() const { return written_; }

 private:
  void discard() noexcept;
  int fd_ = -1;
  std::string path_;  // final path, empty for stdout
  std::string tmp_;   // temp file path
  std::string name_;
  bool force_ = false;
  bool committed_ = false;
  bool direct_ = false;  // existing device/FIFO written in place
  uint64_t written_ = 0;
};

// Fails (exit 1) if `path` exists and force is false, or if it is the input itself.
void check_output_path(const std::string& path, bool force, const Input* input);
unsigned default_file_mode();  // 0666 & ~umask
// New files get the input's permission bits (as zstd does), else 0666 & ~umask.
unsigned output_mode(const Input& in);

bool stdout_is_terminal();
bool stderr_is_terminal();
bool stdin_is_terminal();

}  // namespace tzcli
