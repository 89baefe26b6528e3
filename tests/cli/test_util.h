// Helpers for the CLI tests: a scratch directory per test, running the
// pixelzip binary with redirected stdin/stdout/stderr, and test images.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pixelzip/image.h"

namespace pixelzip::cli::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }
  std::vector<std::string> List() const;  // names of the entries, sorted, hidden files included

 private:
  std::string path_;
};

struct RunResult {
  int exit_code = -1;          // the exit status, or 128 + signal number
  std::vector<uint8_t> out;    // everything written to stdout
  std::string err;             // everything written to stderr
  std::vector<std::string> ErrLines() const;  // stderr split on '\n', without a trailing empty line
};

struct RunSpec {
  std::string stdin_file;  // empty: /dev/null
  bool stdout_is_tty = false;  // stdout is a pseudo-terminal (its output is discarded)
};

// Runs the pixelzip binary under test with `args`; never throws for a non-zero exit.
RunResult RunPixelzip(const std::vector<std::string>& args, const RunSpec& spec = {});

std::vector<uint8_t> ReadBytes(const std::string& path);
void WriteBytes(const std::string& path, const std::vector<uint8_t>& bytes);
bool Exists(const std::string& path);

// A deterministic image with smooth gradients and a little noise (something a
// model can predict, and not constant), any channel count 1..4.
Image MakeImage(uint32_t width, uint32_t height, uint32_t channels, uint32_t seed = 1);

}  // namespace pixelzip::cli::testing
