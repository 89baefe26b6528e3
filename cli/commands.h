// The pixelzip command-line tool's subcommands, independent of argument parsing
// (main.cpp maps CLI11 options onto these structs). Every Run* function either
// returns an exit code or throws CommandError, which names the file at fault.
#pragma once

#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "pixelzip/error.h"

namespace pixelzip::cli {

// Exit codes; the same table is in `pixelzip --help` and README.md.
enum ExitCode : int {
  kExitOk = 0,
  kExitDifferent = 1,    // verify: the images differ
  kExitUsage = 2,        // bad command line or argument; refusing to write binary data to a terminal
  kExitIo = 3,           // a file could not be opened, read or written
  kExitCorrupt = 4,      // input is corrupt or truncated
  kExitUnsupported = 5,  // valid input this version does not handle
  kExitLimit = 6,        // input beyond the decoder's limits, or out of memory
  kExitModel = 7,        // model mismatch, unknown or invalid model
  kExitExists = 8,       // the output exists and --force was not given
  kExitInternal = 10,    // a bug in pixelzip
};

// Text for --help: one line per exit code.
const char* ExitCodeHelp();

// A failure with the file it concerns ("<stdin>", "<stdout>" for "-"; may be
// empty for command-line problems) and the exit code it maps to.
class CommandError : public std::runtime_error {
 public:
  CommandError(std::string file, int exit_code, const std::string& message)
      : std::runtime_error(message), file_(std::move(file)), exit_code_(exit_code) {}
  const std::string& file() const { return file_; }
  int exit_code() const { return exit_code_; }

 private:
  std::string file_;
  int exit_code_;
};

// Maps a library error code to an exit code.
int ExitCodeFor(ErrorCode code);

// The single stderr line for an error: "pixelzip: FILE: PROBLEM" (or
// "pixelzip: PROBLEM" without a file). Newlines in the message become spaces,
// and a message that already starts with "FILE: " is not prefixed twice.
std::string FormatErrorLine(const std::string& file, const std::string& message);

struct CompressOptions {
  std::string input;             // path or "-" for stdin
  std::string output;            // empty: input + ".pxz", or stdout when input is "-"
  std::string order = "raster";  // raster | multiscale
  std::string model = "default"; // shipped model name or model file path
  std::string device = "auto";   // cpu | cuda | auto
  int threads = 0;               // the engines' threads (0: PIXELZIP_THREADS, else every core)
  bool force = false;            // overwrite an existing output; allow writing to a terminal
  bool verbose = false;          // print sizes and rate on stderr
  bool no_adaptive = false;      // code with the model alone (format 1.0), for comparison
  bool no_fallback = false;      // never the cheap codings (deflate, palette, the stage alone)
  int stage_kind = 0;            // the adaptive stage's kind (1-3; docs/format.md section 3.1); 0: from -e, else 3
  bool strip = false;            // drop the image's metadata (PNG chunks, PNM comments) on purpose
  bool quiet = false;            // no warnings, no progress bar
  bool remove_input = false;     // --rm: delete the input once its output is complete (not for stdin/stdout)
  int effort = -1;               // -e 0-9, instead of order and model (-1: not given); see EffortChoice
};

// What -e picks: 0 order0-adaptive in raster order (fastest, weakest); 1-3 the default
// multiscale model (fast decode), or raster where no multiscale model codes the image's
// colour channels; 4-9 the default raster model (best rate). Sets order and model.
// Effort 0: order0-adaptive; 1-3: the default multiscale model where one codes the image; 4-9: the
// default raster model. The stage kind: 1 (best rate, slowest) for 7-9, 3 (the default) otherwise.
void EffortChoice(int effort, uint32_t colour_channels, std::string* order, std::string* model, int* stage_kind);

struct DecompressOptions {
  std::string input;            // path or "-"
  std::string output;           // empty: input minus ".pxz" (".png" added if needed), or stdout for "-"
  std::string format;           // empty: from the output's extension (PNG on stdout); "png" or "pnm"
  std::string model;            // empty: the stream's model, found by its weights hash
  std::string device = "auto";
  int threads = 0;              // as CompressOptions::threads
  bool force = false;
  bool verbose = false;
  bool strip = false;           // do not write the stream's metadata into the image
  bool quiet = false;           // no warnings, no progress bar
  bool remove_input = false;    // --rm, as for compress
};

struct InfoOptions {
  std::string input;  // path or "-"
};

struct VerifyOptions {
  std::string first, second;  // images (PNG/PNM) or .pxz streams; "-" for stdin (once)
  bool quiet = false;
};

// Each REQUIRES the options above to be filled as documented; returns an exit
// code (kExitOk, or kExitDifferent for verify) or throws CommandError.
// Guarantees: the input is never modified; an output file either appears
// complete or not at all (no temporary file is left behind).
int RunCompress(const CompressOptions& options);
int RunDecompress(const DecompressOptions& options);
int RunInfo(const InfoOptions& options);
int RunVerify(const VerifyOptions& options);
// `pixelzip models`: one line per shipped model: name, order, channels, default.
int RunModels();

// The default output name `decompress` uses for `input` (not "-").
std::string DefaultDecompressedName(const std::string& input);

// Runs `run` on each input in turn (zstd-style several inputs): a failure prints its
// one line on stderr and the next input is still done. Returns 0 when all succeeded,
// else the exit code of the first failure.
int RunEach(const std::vector<std::string>& inputs, const std::function<int(const std::string&)>& run);

}  // namespace pixelzip::cli
