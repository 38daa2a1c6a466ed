// Folders: `tenzip compress|decompress DIR` (each weight file compressed as NAME.tnz, in
// parallel, everything else copied, as is a weight file coding would not shrink; the output
// folder is built under a temporary name and renamed when complete) and `tenzip decompress -t
// DIR.tnz`.
// GCC 12 warns falsely about std::string concatenation at -O3 (GCC bug 105329).
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ == 12
#pragma GCC diagnostic ignored "-Wrestrict"
#endif
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
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

struct FolderEntry {
  fs::path rel;
  bool is_dir = false;
};

// Every directory and file under `root`, sorted (deterministic output). File symlinks are
// followed (Hugging Face snapshots are symlinks into a blob store); a symlink to a directory or
// anything that is neither file nor directory is an error rather than silently skipped.
std::vector<FolderEntry> list_folder(const fs::path& root) {
  std::vector<FolderEntry> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) fail_io(root.string(), ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) fail_io(root.string(), ec.message());
    const fs::path p = it->path();
    const fs::path rel = p.lexically_relative(root);  // not fs::relative: it would resolve symlinks
    if (it->is_symlink()) {
      if (fs::is_directory(p)) throw CliError(1, p.string() + ": symlink to a directory; not followed");
      if (!fs::is_regular_file(p)) throw CliError(1, p.string() + ": broken symlink or not a regular file");
      out.push_back({rel, false});
    } else if (it->is_directory()) {
      out.push_back({rel, true});
    } else if (it->is_regular_file()) {
      out.push_back({rel, false});
    } else {
      throw CliError(1, p.string() + ": not a regular file or directory");
    }
  }
  std::sort(out.begin(), out.end(), [](const FolderEntry& x, const FolderEntry& y) { return x.rel < y.rel; });
  return out;
}

// A temp directory beside the final output, removed unless committed (renamed into place).
class TempDir {
 public:
  TempDir(const fs::path& final_path, bool force) : final_(final_path), force_(force) {
    std::error_code ec;
    if (fs::exists(fs::symlink_status(final_, ec)) && !force)
      throw CliError(1, final_.string() + ": already exists; use -f to replace it");
    tmp_ = final_;
    tmp_ += ".tmp-" + std::to_string(getpid());
    fs::remove_all(tmp_, ec);
    if (!fs::create_directories(tmp_, ec) || ec) fail_io(tmp_.string(), "cannot create directory: " + ec.message());
  }
  ~TempDir() {
    if (committed_) return;
    std::error_code ec;
    fs::remove_all(tmp_, ec);
  }
  const fs::path& path() const { return tmp_; }
  void commit() {
    std::error_code ec;
    fs::path old;
    if (fs::exists(fs::symlink_status(final_, ec))) {
      if (!force_) throw CliError(1, final_.string() + ": appeared while writing; use -f to replace it");
      old = final_;
      old += ".old-" + std::to_string(getpid());
      fs::rename(final_, old, ec);
      if (ec) fail_io(final_.string(), "cannot move the old output aside: " + ec.message());
    }
    fs::rename(tmp_, final_, ec);
    if (ec) fail_io(final_.string(), "cannot rename " + tmp_.string() + " into place: " + ec.message());
    committed_ = true;
    if (!old.empty()) fs::remove_all(old, ec);
  }

 private:
  fs::path final_, tmp_;
  bool force_;
  bool committed_ = false;
};

// Writes the bytes `produce(sink)` emits to a new file `path` inside the folder's temp directory.
// Not through Output: that registers its temp file with the signal handler, one at a time,
// while folder workers write files in parallel; here the whole temp directory is the unit
// that is renamed into place or removed.
void write_file(const fs::path& path, unsigned mode, const std::function<void(const tenzip::Sink&)>& produce) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) fail_errno(path.string(), "cannot create");
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  produce([&](std::span<const uint8_t> s) {
    while (!s.empty()) {
      const ssize_t n = ::write(fd, s.data(), s.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail_errno(path.string(), "cannot write");
      }
      s = s.subspan(static_cast<size_t>(n));
    }
  });
  if (::fsync(fd) != 0) fail_errno(path.string(), "cannot sync");
}

void copy_into(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::none, ec);  // follows symlinks: copies the content
  if (ec) fail_io(from.string(), "cannot copy to " + to.string() + ": " + ec.message());
}

unsigned file_mode(const fs::path& p) {
  std::error_code ec;
  const auto perms = fs::status(p, ec).permissions();
  return ec ? default_file_mode() : static_cast<unsigned>(perms) & 0777;
}

// Runs job(i) for i in [0, n) on `workers` threads, in order of i per thread; stops early on
// the first error (rethrown) or on a signal.
void run_jobs(size_t n, unsigned workers, const std::function<void(size_t)>& job) {
  std::atomic<size_t> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr first_error;
  std::mutex mu;
  auto loop = [&] {
    for (;;) {
      if (stop || interrupted()) return;
      const size_t i = next++;
      if (i >= n) return;
      try {
        job(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!first_error) first_error = std::current_exception();
        stop = true;
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned w = 1; w < workers; ++w) pool.emplace_back(loop);
  loop();
  for (auto& t : pool) t.join();
  if (first_error) std::rethrow_exception(first_error);
  if (interrupted()) throw CliError(1, "interrupted");
}

struct FileJob {
  fs::path rel;
  bool compress = false;
  uint64_t size = 0;
};

fs::path strip_slashes(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return fs::path(s);
}

// --base for a folder operation: must be a folder.
std::optional<fs::path> base_folder(const CodecArgs& a, const char* verb) {
  if (a.base.empty()) return std::nullopt;
  if (!fs::is_directory(a.base))
    throw CliError(2, a.base + ": --base must be a folder when " + verb + " a folder");
  return strip_slashes(a.base);
}

// Recreates the directories of `entries` under `tmp` and returns the files as jobs, each
// classified by `classify(rel)`.
std::vector<FileJob> mirror_tree(const std::vector<FolderEntry>& entries, const fs::path& tmp,
                                 const std::function<FileJob(const fs::path&)>& classify) {
  std::vector<FileJob> jobs;
  for (const auto& e : entries) {
    if (!e.is_dir) {
      jobs.push_back(classify(e.rel));
      continue;
    }
    std::error_code ec;
    fs::create_directories(tmp / e.rel, ec);
    if (ec) fail_io((tmp / e.rel).string(), ec.message());
  }
  return jobs;
}

// Many files to code: one thread each, files in parallel. Few: the threads split each file's chunks.
struct ThreadSplit {
  unsigned workers, per_file;
};
ThreadSplit split_threads(const std::vector<FileJob>& jobs, unsigned threads) {
  const auto n = static_cast<size_t>(std::count_if(jobs.begin(), jobs.end(), [](auto& j) { return j.compress; }));
  const unsigned workers = static_cast<unsigned>(std::clamp<size_t>(n, 1, threads));
  return {workers, std::max(1u, threads / workers)};
}

}  // namespace

int run_compress_folder(const CodecArgs& a) {
  if (a.to_stdout) throw CliError(2, a.input + ": a folder compresses to a folder; -c is not possible");
  if (a.dtype_given) throw CliError(2, a.input + ": --dtype applies to single files; a folder's files are detected one by one");
  const fs::path src = strip_slashes(a.input);
  const fs::path dst = a.output.empty() ? fs::path(src.string() + std::string(kSuffix)) : strip_slashes(a.output);
  const std::optional<fs::path> base_dir = base_folder(a, "compressing");
  DeferSignals defer;
  const auto entries = list_folder(src);
  TempDir tmp(dst, a.force);
  std::vector<FileJob> jobs = mirror_tree(entries, tmp.path(), [&](const fs::path& rel) {
    const fs::path p = src / rel;
    WholeInput head(p.string());
    return FileJob{rel, tenzip::folder_compresses(p.filename().string(), head.bytes()), head.bytes().size()};
  });
  // Weight files first, biggest first, so that the parallel workers finish together.
  std::stable_sort(jobs.begin(), jobs.end(), [](const FileJob& x, const FileJob& y) {
    return x.compress != y.compress ? x.compress : x.size > y.size;
  });
  const ThreadSplit split = split_threads(jobs, a.threads);
  const bool show = !a.quiet && stderr_is_terminal();
  std::mutex print_mu;
  std::atomic<size_t> n_done{0}, n_coded{0};
  uint64_t total_in = 0;
  std::atomic<uint64_t> total_out{0};
  for (const auto& j : jobs) total_in += j.size;

  run_jobs(jobs.size(), split.workers, [&](size_t i) {
    const FileJob& j = jobs[i];
    const fs::path from = src / j.rel;
    uint64_t out_bytes = j.size;
    std::string what = "copied";
    if (!j.compress) {
      copy_into(from, tmp.path() / j.rel);
    } else {
      WholeInput file(from.string());
      std::optional<WholeInput> base;
      if (base_dir && fs::is_regular_file(*base_dir / j.rel)) base.emplace((*base_dir / j.rel).string());
      fs::path to = tmp.path() / j.rel;
      to += kSuffix;
      tenzip::ModelCompressResult res;
      write_file(to, file_mode(from), [&](const tenzip::Sink& sink) {
        res = compress_model_file(from.string(), file.bytes(), base ? base->bytes() : std::span<const uint8_t>{}, a, split.per_file,
                           sink, [&](uint64_t) {
                             if (interrupted()) throw CliError(1, "interrupted");
                           });
      });
      out_bytes = res.bytes_out;
      what = res.format + " " + summary_ratio(res.bytes_in, res.bytes_out);
      if (base) what += ", " + std::to_string(res.n_delta_regions) + " regions against the base";
      // A file coding does not shrink (a tiny checkpoint, a training_args.bin) is copied
      // instead, so that no file of the folder grows. Not a NAME.tnz: every NAME.tnz of a
      // compressed folder is decompressed, so such a file stays coded.
      if (out_bytes >= j.size && !has_tnz_suffix(j.rel.filename().string())) {
        std::error_code ec;
        fs::remove(to, ec);
        if (ec) fail_io(to.string(), "cannot remove: " + ec.message());
        copy_into(from, tmp.path() / j.rel);
        out_bytes = j.size;
        what = "copied: coding made it " + human_size(res.bytes_out);
      } else {
        ++n_coded;
      }
    }
    total_out += out_bytes;
    const size_t k = ++n_done;
    if (show) {
      std::lock_guard lock(print_mu);
      std::fprintf(stderr, "[%zu/%zu] %s : %s => %s (%s)\n", k, jobs.size(), j.rel.string().c_str(),
                   human_size(j.size).c_str(), human_size(out_bytes).c_str(), what.c_str());
    }
  });
  tmp.commit();
  if (!a.quiet)
    std::fprintf(stderr, "%s : %s (%s => %s, %zu files, %zu compressed, %s)\n", src.string().c_str(),
                 summary_ratio(total_in, total_out).c_str(), human_size(total_in).c_str(),
                 human_size(total_out.load()).c_str(), jobs.size(), n_coded.load(), dst.string().c_str());
  return 0;
}

int run_decompress_folder(const CodecArgs& a) {
  if (a.to_stdout) throw CliError(2, a.input + ": a folder decompresses to a folder; -c is not possible");
  const fs::path src = strip_slashes(a.input);
  fs::path dst;
  if (!a.output.empty()) dst = strip_slashes(a.output);
  else if (has_tnz_suffix(src.string())) dst = src.string().substr(0, src.string().size() - kSuffix.size());
  else throw CliError(2, a.input + ": unknown suffix (expected DIR.tnz); name the output folder with -o OUT");
  const std::optional<fs::path> base_dir = base_folder(a, "decompressing");
  DeferSignals defer;
  const auto entries = list_folder(src);
  TempDir tmp(dst, a.force);
  const std::vector<FileJob> jobs = mirror_tree(entries, tmp.path(), [](const fs::path& rel) {
    return FileJob{rel, has_tnz_suffix(rel.filename().string()), 0};
  });
  const size_t n_packed = static_cast<size_t>(std::count_if(jobs.begin(), jobs.end(), [](auto& j) { return j.compress; }));
  const ThreadSplit split = split_threads(jobs, a.threads);
  const bool show = !a.quiet && stderr_is_terminal();
  std::mutex print_mu;
  std::atomic<size_t> n_done{0};
  run_jobs(jobs.size(), split.workers, [&](size_t i) {
    const FileJob& j = jobs[i];
    const fs::path from = src / j.rel;
    if (!j.compress) {
      copy_into(from, tmp.path() / j.rel);
    } else {
      fs::path rel = j.rel;
      rel.replace_filename(j.rel.filename().string().substr(0, j.rel.filename().string().size() - kSuffix.size()));
      WholeInput file(from.string());
      try {
        const tenzip::ModelReader reader(file.bytes());
        std::optional<WholeInput> base;
        if (reader.needs_base()) {
          if (!base_dir)
            throw CliError(2, from.string() + ": a checkpoint delta; give the folder it was made against with --base OLD_DIR");
          if (!fs::is_regular_file(*base_dir / rel))
            throw CliError(1, from.string() + ": its base " + (*base_dir / rel).string() + " does not exist");
          base.emplace((*base_dir / rel).string());
        }
        write_file(tmp.path() / rel, file_mode(from), [&](const tenzip::Sink& sink) {
          reader.decompress(sink, base ? base->bytes() : std::span<const uint8_t>{}, split.per_file);
        });
      } catch (const tenzip::Error& e) {
        rethrow_named(e, from.string());
      }
    }
    const size_t k = ++n_done;
    if (show) {
      std::lock_guard lock(print_mu);
      std::fprintf(stderr, "[%zu/%zu] %s\n", k, jobs.size(), j.rel.string().c_str());
    }
  });
  tmp.commit();
  if (!a.quiet) std::fprintf(stderr, "%s : %zu files, %zu decompressed => %s\n", src.string().c_str(), jobs.size(), n_packed, dst.string().c_str());
  return 0;
}

// decompress -t on a folder: every NAME.tnz in it (the other files are plain copies); a delta's
// base is NAME in the base folder.
int run_test_folder(const CodecArgs& a) {
  const fs::path src = strip_slashes(a.input);
  const std::optional<fs::path> base_dir = base_folder(a, "testing");
  size_t n_files = 0;
  uint64_t total = 0;
  for (const FolderEntry& e : list_folder(src)) {
    const std::string file_name = e.rel.filename().string();
    if (e.is_dir || !has_tnz_suffix(file_name)) continue;
    fs::path rel = e.rel;
    rel.replace_filename(file_name.substr(0, file_name.size() - kSuffix.size()));
    total += verify_container_file((src / e.rel).string(), base_dir ? (*base_dir / rel).string() : std::string(),
                                   a.threads);
    ++n_files;
  }
  if (!a.quiet)
    std::fprintf(stderr, "%s : OK (%zu compressed files => %s)\n", src.string().c_str(), n_files,
                 human_size(total).c_str());
  return 0;
}

}  // namespace tzcli
