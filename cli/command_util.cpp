#include "command_util.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <utility>

namespace pixelzip::cli {

void RethrowBlamingModel(const CommandError& e, const std::string& model) {
  const std::string what = e.what();
  if (!model.empty() && model != "default" && what.find(model) != std::string::npos) {
    throw CommandError(model, e.exit_code() == kExitUsage ? kExitModel : e.exit_code(), what);
  }
  throw e;
}

bool EndsWithNoCase(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  return std::equal(suffix.rbegin(), suffix.rend(), s.rbegin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  });
}

Order ParseOrder(const std::string& s) {
  if (s == "raster") return Order::kRaster;
  if (s == "multiscale") return Order::kMultiscale;
  throw CommandError("", kExitUsage, "--order must be raster or multiscale, not '" + s + "'");
}

Device ParseDevice(const std::string& s) {
  if (s == "auto") return Device::kAuto;
  if (s == "cpu") return Device::kCpu;
  if (s == "cuda") return Device::kCuda;
  throw CommandError("", kExitUsage, "--device must be cpu, cuda or auto, not '" + s + "'");
}

const char* OrderName(Order order) {
  switch (order) {
    case Order::kRaster: return "raster";
    case Order::kMultiscale: return "multiscale";
  }
  return "unknown";
}

double BitsPerSubpixel(uint64_t bytes, uint64_t subpixels) {
  return subpixels == 0 ? 0.0 : 8.0 * static_cast<double>(bytes) / static_cast<double>(subpixels);
}

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

namespace {
// m:ss, or h:mm:ss from an hour on.
std::string ClockText(double seconds) {
  const long s = seconds < 0 ? 0 : static_cast<long>(seconds + 0.5);
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%ld:%02ld", s / 60, s % 60);
  }
  return buf;
}
}  // namespace

std::string FormatProgressLine(const std::string& label, double fraction, double elapsed_s, double megapixels) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  constexpr int kWidth = 24;
  const int filled = static_cast<int>(fraction * kWidth);
  std::string bar(static_cast<size_t>(filled), '=');
  bar.resize(kWidth, ' ');
  char pct[8];
  std::snprintf(pct, sizeof pct, "%3d%%", static_cast<int>(fraction * 100.0));
  std::string line = label + " [" + bar + "] " + pct + "  " + ClockText(elapsed_s);
  if (fraction > 0.005 && fraction < 1.0) line += ", ETA " + ClockText(elapsed_s * (1.0 - fraction) / fraction);
  if (megapixels > 0 && elapsed_s > 0) {
    char rate[32];
    std::snprintf(rate, sizeof rate, ", %.2f MP/s", fraction * megapixels / elapsed_s);
    line += rate;
  }
  return line;
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) != 0), start_(Clock::now()) {}

ProgressBar::~ProgressBar() { Clear(); }

Progress ProgressBar::Callback() {
  if (!enabled_) return {};
  return [this](double fraction) { Update(fraction); };
}

void ProgressBar::Clear() {
  if (drawn_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
    drawn_ = false;
  }
}

void ProgressBar::Update(double fraction) {
  const auto now = Clock::now();
  if (now - start_ < std::chrono::seconds(1)) return;
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100) && fraction < 1.0) return;
  last_draw_ = now;
  const std::string line =
      FormatProgressLine(label_, fraction, std::chrono::duration<double>(now - start_).count(), megapixels_);
  // "\033[K" erases what a longer line left behind.
  std::fprintf(stderr, "\r%s\033[K", line.c_str());
  std::fflush(stderr);
  drawn_ = true;
}

}  // namespace pixelzip::cli
