// Writing an output file so that it appears complete or not at all
// (docs/design.md section 6): the bytes go to a temporary file in the destination's
// directory, are fsync'ed, and the file is renamed into place only on Commit().
// Reading whole inputs, "-" meaning stdin/stdout, lives here too.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/error.h"

namespace pixelzip::cli {

// Thrown when the output exists and overwriting was not asked for.
class OutputExistsError : public Error {
 public:
  OutputExistsError() : Error(ErrorCode::kInvalidArgument, "already exists (use --force to overwrite)") {}
};

// One output file in the making.
//
// What `path` names decides how it is written:
//  - nothing, or a regular file: the bytes go to a temporary file beside it,
//    renamed over `path` on Commit() (an existing file needs overwrite);
//  - a symbolic link (needs overwrite): followed, all the way; its final
//    target, which must exist and be a regular file or one of the special
//    files below, is written as above. The link itself is never replaced:
//    no rename ever lands on a symbolic link;
//  - a character device or a FIFO (e.g. /dev/null, a named pipe): written
//    through, in place, with no temporary file and no rename, and without
//    overwrite (nothing is replaced). Not atomic: a failure may leave part of
//    the output written. A terminal is refused unless overwrite (binary data);
//  - a directory, a block device, a socket: refused (kInvalidArgument).
//
// Guarantees for the temporary-file kinds: until Commit() returns, the file
// written is untouched (an existing file keeps its bytes and mode); if the
// object is destroyed without a successful Commit(), or the process is
// interrupted by SIGINT/SIGTERM/SIGHUP, the temporary file is removed. All
// failures throw pixelzip::Error: kIo for system errors, OutputExistsError
// when `path` exists (and is not a character device or FIFO) and overwrite is
// false.
class AtomicFile {
 public:
  // Creates the temporary file "<dir of target>/.<name of target>.XXXXXX"
  // (mode 0666 minus umask), or opens the special file. REQUIRES: path is not
  // empty and not "-".
  AtomicFile(std::string path, bool overwrite);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  // Appends bytes to the temporary file. REQUIRES: not yet committed.
  void Write(const uint8_t* data, size_t size);
  void Write(const std::vector<uint8_t>& bytes) { Write(bytes.data(), bytes.size()); }

  // fsyncs and closes the temporary file and renames it to `path`. Without
  // overwrite the rename is refused atomically (RENAME_NOREPLACE, or link())
  // when `path` appeared meanwhile. Then fsyncs the directory.
  // REQUIRES: not yet committed.
  void Commit();

  const std::string& path() const { return path_; }
  // The file that Commit() replaces or creates: `path`, or its symbolic link's target.
  const std::string& target_path() const { return target_; }
  const std::string& temp_path() const { return temp_path_; }  // empty once committed or removed
  bool writes_through() const { return through_; }  // a character device or FIFO, written in place

 private:
  void RemoveTemp() noexcept;

  std::string path_;
  std::string target_;
  std::string temp_path_;
  bool overwrite_;
  bool through_ = false;
  int fd_ = -1;
};

// True when writing to `path` would replace something that exists (any kind of
// file but a character device or FIFO, which are written through): the CLI asks
// for --force first.
bool OutputWouldReplace(const std::string& path);

// Writes `bytes` to `path` through an AtomicFile, or to stdout when path is "-".
// Throws pixelzip::Error as AtomicFile does.
void WriteOutput(const std::string& path, const std::vector<uint8_t>& bytes, bool overwrite);

// Reads a whole file, or stdin when path is "-". Throws pixelzip::Error(kIo)
// naming the file, or kLimitExceeded when the input exceeds max_bytes.
std::vector<uint8_t> ReadInput(const std::string& path, uint64_t max_bytes = uint64_t{1} << 34);

// True when `a` and `b` name the same existing file (same device and inode).
bool SameFile(const std::string& a, const std::string& b);
bool FileExists(const std::string& path);  // lstat succeeds (any kind of file)

// The name used in messages: "<stdin>"/"<stdout>" for "-", else the path.
std::string DisplayName(const std::string& path, bool is_output);

}  // namespace pixelzip::cli
