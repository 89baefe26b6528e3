#include "atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "pixelzip/error.h"

namespace pixelzip::cli {
namespace {

// ---- Removing temporary files when a signal ends the process ----
// A fixed table the handler can read without allocating (async-signal-safe).
constexpr int kSlots = 8;
constexpr size_t kMaxPath = 4096;
char g_temp_paths[kSlots][kMaxPath];
volatile sig_atomic_t g_slot_used[kSlots];
std::mutex g_slots_mutex;

extern "C" void RemoveTempsAndReraise(int sig) {
  for (int i = 0; i < kSlots; ++i) {
    if (g_slot_used[i]) unlink(g_temp_paths[i]);
  }
  signal(sig, SIG_DFL);
  raise(sig);
}

void InstallSignalHandlersOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) {
      struct sigaction old {};
      if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler == SIG_IGN) continue;  // keep nohup's choice
      struct sigaction action {};
      action.sa_handler = RemoveTempsAndReraise;
      sigemptyset(&action.sa_mask);
      sigaction(sig, &action, nullptr);
    }
  });
}

int RegisterTemp(const std::string& path) {
  if (path.size() >= kMaxPath) return -1;  // still removed by the destructor, just not on a signal
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    if (!g_slot_used[i]) {
      std::memcpy(g_temp_paths[i], path.c_str(), path.size() + 1);
      g_slot_used[i] = 1;
      return i;
    }
  }
  return -1;
}

void UnregisterTemp(const std::string& path) {
  std::lock_guard<std::mutex> lock(g_slots_mutex);
  for (int i = 0; i < kSlots; ++i) {
    if (g_slot_used[i] && path == g_temp_paths[i]) g_slot_used[i] = 0;
  }
}

[[noreturn]] void ThrowErrno(const std::string& what, int err) {
  throw Error(ErrorCode::kIo, what + ": " + std::strerror(err));
}

std::string DirName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

mode_t CurrentUmask() {
  // umask() can only be read by setting it; the CLI is single-threaded here.
  const mode_t mask = umask(022);
  umask(mask);
  return mask;
}

void WriteAll(int fd, const uint8_t* data, size_t size, const std::string& what) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno(what, errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

// Character devices (/dev/null) and FIFOs are written in place; nothing is replaced.
bool IsWriteThroughKind(mode_t mode) { return S_ISCHR(mode) || S_ISFIFO(mode); }

// Why a file of this kind is never an output; nullptr for the kinds AtomicFile writes.
const char* RefusedKind(mode_t mode) {
  if (S_ISDIR(mode)) return "is a directory";
  if (S_ISBLK(mode)) return "is a block device; pixelzip does not write to block devices";
  if (S_ISSOCK(mode)) return "is a socket";
  if (!S_ISREG(mode) && !IsWriteThroughKind(mode)) return "is not a regular file";
  return nullptr;
}

}  // namespace

AtomicFile::AtomicFile(std::string path, bool overwrite)
    : path_(std::move(path)), target_(path_), overwrite_(overwrite) {
  if (path_.empty() || path_ == "-") throw Error(ErrorCode::kInvalidArgument, "not a file name");
  struct stat st {};
  if (lstat(path_.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode)) {
      // Never rename over the link: write through it to its final target.
      if (!overwrite_) throw OutputExistsError();
      char* resolved = realpath(path_.c_str(), nullptr);
      if (resolved == nullptr) {
        const int err = errno;
        if (err == ENOENT) {
          throw Error(ErrorCode::kIo, "is a symbolic link to a file that does not exist (pixelzip writes through "
                                      "symbolic links, never over them)");
        }
        ThrowErrno("cannot follow the symbolic link", err);
      }
      target_ = resolved;
      std::free(resolved);
      if (stat(target_.c_str(), &st) != 0) ThrowErrno("cannot stat the link's target " + target_, errno);
    }
    if (const char* why = RefusedKind(st.st_mode)) {
      throw Error(ErrorCode::kInvalidArgument,
                  target_ == path_ ? std::string(why) : "links to " + target_ + ", which " + why);
    }
    if (IsWriteThroughKind(st.st_mode)) {
      fd_ = open(target_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
      if (fd_ < 0) ThrowErrno("cannot open", errno);
      struct stat opened {};
      if (fstat(fd_, &opened) != 0 || !IsWriteThroughKind(opened.st_mode)) {
        close(fd_);
        fd_ = -1;
        throw Error(ErrorCode::kIo, "changed while it was being opened");
      }
      if (!overwrite_ && isatty(fd_)) {
        close(fd_);
        fd_ = -1;
        throw Error(ErrorCode::kInvalidArgument, "is a terminal; refusing to write binary data to it (use --force)");
      }
      through_ = true;
      return;
    }
    if (!overwrite_) throw OutputExistsError();
  }
  InstallSignalHandlersOnce();
  std::string templ = DirName(target_) + "/." + BaseName(target_) + ".XXXXXX";
  fd_ = mkstemp(templ.data());
  if (fd_ < 0) ThrowErrno("cannot create a temporary file in " + DirName(target_), errno);
  temp_path_ = templ;
  RegisterTemp(temp_path_);
  if (fchmod(fd_, 0666 & ~CurrentUmask()) != 0) {
    const int err = errno;
    RemoveTemp();
    ThrowErrno("cannot set the mode of " + temp_path_, err);
  }
}

AtomicFile::~AtomicFile() { RemoveTemp(); }

void AtomicFile::RemoveTemp() noexcept {
  if (fd_ >= 0) {
    close(fd_);
    fd_ = -1;
  }
  if (!temp_path_.empty()) {
    unlink(temp_path_.c_str());
    UnregisterTemp(temp_path_);
    temp_path_.clear();
  }
}

void AtomicFile::Write(const uint8_t* data, size_t size) {
  if (fd_ < 0) throw Error(ErrorCode::kInternal, "AtomicFile::Write after Commit");
  WriteAll(fd_, data, size, "cannot write");
}

void AtomicFile::Commit() {
  if (fd_ < 0) throw Error(ErrorCode::kInternal, "AtomicFile::Commit twice");
  if (through_) {
    const int fd = fd_;
    fd_ = -1;
    if (close(fd) != 0) ThrowErrno("cannot close", errno);
    return;
  }
  if (fsync(fd_) != 0 && errno != EINVAL && errno != EROFS) ThrowErrno("cannot sync", errno);
  const int fd = fd_;
  fd_ = -1;
  if (close(fd) != 0) ThrowErrno("cannot close", errno);

  const char* from = temp_path_.c_str();
  const char* to = target_.c_str();
  if (overwrite_) {
    // A link (or special file) put in the target's place meanwhile is not renamed over.
    struct stat st {};
    if (lstat(to, &st) == 0 && !S_ISREG(st.st_mode)) {
      throw Error(ErrorCode::kIo, target_ + " stopped being a regular file while the output was written; not "
                                            "replacing it");
    }
    if (rename(from, to) != 0) ThrowErrno("cannot rename the temporary file into place", errno);
  } else if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) != 0) {
    const int err = errno;
    if (err == EEXIST) throw OutputExistsError();
    if (err != EINVAL && err != ENOSYS && err != ENOTSUP) ThrowErrno("cannot rename the temporary file into place", err);
    // The file system has no RENAME_NOREPLACE: link() also refuses an existing name.
    if (link(from, to) == 0) {
      unlink(from);
    } else if (errno == EEXIST) {
      throw OutputExistsError();
    } else {
      // No hard links either (FAT, some FUSE): check, then rename (a small window).
      if (FileExists(target_)) throw OutputExistsError();
      if (rename(from, to) != 0) ThrowErrno("cannot rename the temporary file into place", errno);
    }
  }
  UnregisterTemp(temp_path_);
  temp_path_.clear();

  // Make the new directory entry durable too; not every file system can.
  const int dir = open(DirName(target_).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    fsync(dir);
    close(dir);
  }
}

void WriteOutput(const std::string& path, const std::vector<uint8_t>& bytes, bool overwrite) {
  if (path == "-") {
    WriteAll(STDOUT_FILENO, bytes.data(), bytes.size(), "cannot write");
    return;
  }
  AtomicFile file(path, overwrite);
  file.Write(bytes);
  file.Commit();
}

std::vector<uint8_t> ReadInput(const std::string& path, uint64_t max_bytes) {
  int fd = STDIN_FILENO;
  if (path != "-") {
    fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) ThrowErrno("cannot open", errno);
  }
  struct Closer {
    int fd;
    ~Closer() {
      if (fd != STDIN_FILENO) close(fd);
    }
  } closer{fd};
  struct stat st {};
  if (fstat(fd, &st) != 0) ThrowErrno("cannot stat", errno);
  if (S_ISDIR(st.st_mode)) throw Error(ErrorCode::kIo, "is a directory");
  std::vector<uint8_t> bytes;
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      throw Error(ErrorCode::kLimitExceeded, "file is larger than " + std::to_string(max_bytes) + " bytes");
    }
    bytes.reserve(static_cast<size_t>(st.st_size));
  }
  uint8_t buffer[1 << 16];
  for (;;) {
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0) {
      if (errno == EINTR) continue;
      ThrowErrno("cannot read", errno);
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<size_t>(n) > max_bytes) {
      throw Error(ErrorCode::kLimitExceeded, "input is larger than " + std::to_string(max_bytes) + " bytes");
    }
    bytes.insert(bytes.end(), buffer, buffer + n);
  }
  return bytes;
}

bool SameFile(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (stat(a.c_str(), &sa) != 0 || stat(b.c_str(), &sb) != 0) return false;
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool OutputWouldReplace(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0 && !IsWriteThroughKind(st.st_mode);
}

bool FileExists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

std::string DisplayName(const std::string& path, bool is_output) {
  if (path == "-") return is_output ? "<stdout>" : "<stdin>";
  return path;
}

}  // namespace pixelzip::cli
