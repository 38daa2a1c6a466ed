// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include "io.hpp"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace tzcli {

void fail_io(const std::string& path, const std::string& what) { throw CliError(1, path + ": " + what); }
void fail_errno(const std::string& path, const char* action) {
  const int e = errno;
  throw CliError(1, path + ": " + action + " failed: " + std::strerror(e));
}

bool is_stdio(const std::string& path) { return path == "-"; }
bool stdout_is_terminal() { return isatty(STDOUT_FILENO) == 1; }
bool stderr_is_terminal() { return isatty(STDERR_FILENO) == 1; }
bool stdin_is_terminal() { return isatty(STDIN_FILENO) == 1; }

// ---------------------------------------------------------------- signals
// The one temp file this process may be writing. The handler only reads these and calls
// unlink(), which is async-signal-safe. The path is filled before the flag is raised.
namespace {
char g_tmp_path[PATH_MAX + 1];
volatile sig_atomic_t g_tmp_active = 0;
volatile sig_atomic_t g_defer = 0;    // a folder operation cleans up itself (DeferSignals)
volatile sig_atomic_t g_pending = 0;  // the signal it deferred
constexpr int kSignals[] = {SIGINT, SIGTERM, SIGHUP};

extern "C" void on_fatal_signal(int sig) {
  if (g_defer) {
    g_pending = sig;
    return;
  }
  if (g_tmp_active) unlink(g_tmp_path);
  // Die by the same signal so that the parent sees the usual status (e.g. 128+15).
  signal(sig, SIG_DFL);
  raise(sig);
}

// Blocks the handled signals in this thread while the temp-file registration changes.
struct SignalBlock {
  sigset_t old;
  SignalBlock() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : kSignals) sigaddset(&set, s);
    pthread_sigmask(SIG_BLOCK, &set, &old);
  }
  ~SignalBlock() { pthread_sigmask(SIG_SETMASK, &old, nullptr); }
};
}  // namespace

void install_signal_handlers() {
  for (int s : kSignals) {
    struct sigaction old {};
    if (sigaction(s, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;  // nohup etc.
    struct sigaction sa {};
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    for (int t : kSignals) sigaddset(&sa.sa_mask, t);
    sigaction(s, &sa, nullptr);
  }
}

DeferSignals::DeferSignals() { g_defer = 1; }
DeferSignals::~DeferSignals() {
  g_defer = 0;
  if (const int sig = g_pending) {
    signal(sig, SIG_DFL);
    raise(sig);
  }
}
bool interrupted() { return g_pending != 0; }

// ---------------------------------------------------------------- Input
Input::Input(const std::string& path) {
  if (is_stdio(path)) {
    fd_ = STDIN_FILENO;
    name_ = "stdin";
  } else {
    name_ = path;
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail_errno(path, "open");
    owned_ = true;
  }
  struct stat st {};
  if (fstat(fd_, &st) != 0) fail_errno(name_, "stat");
  if (S_ISDIR(st.st_mode)) fail_io(name_, "is a directory");
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  mode_ = st.st_mode & 07777;
  regular_ = S_ISREG(st.st_mode);
  if (regular_) {
    // stdin may be a redirected file read from the middle.
    const off_t pos = lseek(fd_, 0, SEEK_CUR);
    const uint64_t start = pos > 0 ? static_cast<uint64_t>(pos) : 0;
    const uint64_t sz = static_cast<uint64_t>(st.st_size);
    size_ = sz > start ? sz - start : 0;
  }
}

Input::~Input() {
  if (owned_ && fd_ >= 0) ::close(fd_);
}

size_t Input::read(std::span<uint8_t> dst) {
  size_t got = 0;
  while (got < dst.size()) {
    const ssize_t n = ::read(fd_, dst.data() + got, dst.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(name_, "read");
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  bytes_read_ += got;
  return got;
}

std::vector<uint8_t> read_all(const std::string& path) {
  Input in(path);
  std::vector<uint8_t> buf;
  if (in.size()) buf.reserve(*in.size());
  constexpr size_t kBlock = size_t{4} << 20;
  for (;;) {
    const size_t old = buf.size();
    buf.resize(old + kBlock);
    const size_t n = in.read(std::span<uint8_t>(buf.data() + old, kBlock));
    buf.resize(old + n);
    if (n < kBlock) break;
  }
  return buf;
}

WholeInput::WholeInput(const std::string& path, Access access) {
  {
    Input in(path);
    if (in.is_regular() && !is_stdio(path) && in.size() && *in.size() > 0) {
      void* m = mmap(nullptr, *in.size(), PROT_READ, MAP_PRIVATE, in.fd(), 0);
      if (m != MAP_FAILED) {
        // Random access turns off the kernel's read-around (up to several MB per page fault on
        // some disks), so that reading one tensor reads about that tensor. Advice only: ignore errors.
        if (access == Access::random) madvise(m, *in.size(), MADV_RANDOM);
        if (access == Access::sequential) madvise(m, *in.size(), MADV_SEQUENTIAL);
        map_ = m;
        data_ = static_cast<const uint8_t*>(m);
        size_ = *in.size();
        return;
      }
    }
  }
  buf_ = read_all(path);
  data_ = buf_.data();
  size_ = buf_.size();
}

WholeInput::~WholeInput() {
  if (map_) munmap(map_, size_);
}

bool has_tnz_suffix(const std::string& s) {
  return s.size() > kTnzSuffix.size() && s.compare(s.size() - kTnzSuffix.size(), kTnzSuffix.size(), kTnzSuffix) == 0 &&
         s[s.size() - kTnzSuffix.size() - 1] != '/';
}

void rethrow_named(const tenzip::Error& e, const std::string& name) {
  const int code = e.code() == tenzip::Errc::invalid_argument ? 2 : 1;
  throw CliError(code, name + ": " + e.what());
}

unsigned output_mode(const Input& in) { return in.is_regular() ? (in.mode() & 0777) : default_file_mode(); }

// ---------------------------------------------------------------- Output
unsigned default_file_mode() {
  const mode_t mask = umask(0);
  umask(mask);
  return 0666u & ~static_cast<unsigned>(mask);
}

void check_output_path(const std::string& path, bool force, const Input* input) {
  struct stat st {};
  if (stat(path.c_str(), &st) == 0) {
    if (input && st.st_dev == input->dev() && st.st_ino == input->ino())
      throw CliError(1, path + ": is the input file; refusing to write over it");
    if (S_ISDIR(st.st_mode)) fail_io(path, "is a directory");
    if (!force) fail_io(path, "already exists (use -f to overwrite)");
  } else if (lstat(path.c_str(), &st) == 0 && !force) {
    fail_io(path, "already exists as a dangling symlink (use -f to overwrite)");
  }
}

namespace {
std::string dir_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}
std::string base_of(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}
}  // namespace

Output::Output(const std::string& path, bool force, const Input* input, unsigned mode) : force_(force) {
  if (is_stdio(path)) {
    fd_ = STDOUT_FILENO;
    name_ = "stdout";
    // `tenzip compress -c x >> x` would read its own output forever.
    struct stat st {};
    if (input && fstat(fd_, &st) == 0 && S_ISREG(st.st_mode) && st.st_dev == input->dev() && st.st_ino == input->ino())
      throw CliError(1, "stdout is the input file " + input->name() + "; refusing to write over it");
    return;
  }
  name_ = path;
  struct stat st {};
  if (stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    // A device or FIFO (-o /dev/null): nothing to replace, so no temp file and no -f needed.
    if (input && st.st_dev == input->dev() && st.st_ino == input->ino())
      throw CliError(1, path + ": is the input file; refusing to write over it");
    fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd_ < 0) fail_errno(path, "open");
    direct_ = true;
    return;
  }
  path_ = path;
  check_output_path(path, force, input);
  // The temp file lives beside the output so that rename() is atomic (same filesystem).
  const std::string dir = dir_of(path);
  std::string tmpl = dir + "/." + base_of(path) + ".tnztmp.XXXXXX";
  if (tmpl.size() > PATH_MAX || base_of(path).size() > 200) tmpl = dir + "/.tenzip.tnztmp.XXXXXX";
  if (tmpl.size() > PATH_MAX) fail_io(path, "path too long");
  {
    SignalBlock block;
    std::memcpy(g_tmp_path, tmpl.c_str(), tmpl.size() + 1);
    fd_ = mkostemp(g_tmp_path, O_CLOEXEC);
    if (fd_ < 0) {
      const int e = errno;
      throw CliError(1, path + ": cannot create a temporary file in " + dir + ": " + std::strerror(e));
    }
    tmp_ = g_tmp_path;
    g_tmp_active = 1;
  }
  if (fchmod(fd_, mode & 07777) != 0) {
    // Not fatal (e.g. filesystems without permissions); the file stays 0600.
  }
}

Output::~Output() {
  if (direct_ && fd_ >= 0) ::close(fd_);
  discard();
}

void Output::discard() noexcept {
  if (is_stdout() || direct_ || committed_) return;
  SignalBlock block;
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
  g_tmp_active = 0;
  tmp_.clear();
}

void Output::write(std::span<const uint8_t> data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(name_, "write");
    }
    done += static_cast<size_t>(n);
  }
  written_ += data.size();
}

void Output::commit() {
  if (committed_) return;
  if (is_stdout() || direct_) {
    committed_ = true;
    return;
  }
  if (fsync(fd_) != 0) fail_errno(name_, "fsync");
  if (::close(fd_) != 0) {
    fd_ = -1;
    fail_errno(name_, "close");
  }
  fd_ = -1;
  {
    SignalBlock block;
    int rc;
    if (force_) {
      rc = ::rename(tmp_.c_str(), path_.c_str());
    } else {
      // Never replace a file that appeared while we were working.
      rc = renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, path_.c_str(), RENAME_NOREPLACE);
      if (rc != 0 && (errno == EINVAL || errno == ENOSYS)) {
        rc = ::link(tmp_.c_str(), path_.c_str());
        if (rc == 0) {
          ::unlink(tmp_.c_str());
        } else if (errno != EEXIST) {
          struct stat st {};
          rc = (lstat(path_.c_str(), &st) == 0) ? (errno = EEXIST, -1) : ::rename(tmp_.c_str(), path_.c_str());
        }
      }
    }
    if (rc != 0) {
      const int e = errno;
      if (e == EEXIST) fail_io(path_, "already exists (use -f to overwrite)");
      throw CliError(1, path_ + ": rename failed: " + std::strerror(e));
    }
    committed_ = true;
    g_tmp_active = 0;
  }
  // Make the rename itself durable; best effort.
  const int dfd = ::open(dir_of(path_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace tzcli
