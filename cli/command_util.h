// Helpers shared by the pixelzip subcommands (commands.cpp, compare_command.cpp):
// turning library errors into CommandError, parsing --order/--device, rates,
// and the stderr progress bar. Internal to cli/.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <new>
#include <string>

#include "atomic_file.h"
#include "commands.h"
#include "pixelzip/codec.h"

namespace pixelzip::cli {

using Clock = std::chrono::steady_clock;

// Runs f(); turns any exception into a CommandError naming `file`.
template <class F>
auto WithFile(const std::string& file, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const CommandError&) {
    throw;
  } catch (const OutputExistsError& e) {
    throw CommandError(file, kExitExists, e.what());
  } catch (const Error& e) {
    throw CommandError(file, ExitCodeFor(e.code()), e.what());
  } catch (const std::bad_alloc&) {
    throw CommandError(file, kExitLimit, "out of memory");
  } catch (const std::exception& e) {
    throw CommandError(file, kExitInternal, std::string("internal error: ") + e.what());
  }
}

// An error that names the --model argument is the model's, not the input's:
// rethrown with the model as the file, and an unknown model is exit code 7.
[[noreturn]] void RethrowBlamingModel(const CommandError& e, const std::string& model);

bool EndsWithNoCase(const std::string& s, const std::string& suffix);

// "raster" | "multiscale"; "cpu" | "cuda" | "auto". Anything else: CommandError (usage).
Order ParseOrder(const std::string& s);
Device ParseDevice(const std::string& s);
const char* OrderName(Order order);

double BitsPerSubpixel(uint64_t bytes, uint64_t subpixels);
double SecondsSince(Clock::time_point start);

// A one-line progress bar on stderr: drawn only when stderr is a terminal and
// the work has taken more than a second since construction; erased by Clear()
// and on destruction. Beside the bar: time elapsed, the estimated time left
// (from the rate so far) and, given the work's size, megapixels per second:
//   compressing a.png [=========               ]  31%  0:12, ETA 0:27, 0.84 MP/s
// FormatProgressLine() is that text, for tests.
std::string FormatProgressLine(const std::string& label, double fraction, double elapsed_s, double megapixels);
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // A callback taking the fraction done in [0, 1]; empty when stderr is not a
  // terminal. Valid while this object lives.
  Progress Callback();
  // Changes the text in front of the bar (from the next redraw).
  void SetLabel(std::string label) { label_ = std::move(label); }
  // The size of the whole work in megapixels (0: no rate shown).
  void SetMegapixels(double megapixels) { megapixels_ = megapixels; }
  // Erases the bar (e.g. before writing to a stdout that may be the same terminal).
  void Clear();

 private:
  void Update(double fraction);

  std::string label_;
  double megapixels_ = 0;
  bool enabled_;
  bool drawn_ = false;
  Clock::time_point start_;
  Clock::time_point last_draw_;
};

}  // namespace pixelzip::cli
