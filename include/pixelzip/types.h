// The small value types shared by the public API (codec.h) and the models:
// one Order, one Device, one Limits, one Progress.
#pragma once

#include <cstdint>
#include <functional>

namespace pixelzip {

// The order in which a model visits an image's subpixels (docs/format.md).
enum class Order : uint8_t { kRaster = 0, kMultiscale = 1 };
// Which engine computes a model's parameters: what a caller asks for (any value), and what a model
// was made with (never kAuto: models::nn::ResolveDevice turns kAuto into kCuda or kCpu, in one place).
// Every engine computes the same integers bit for bit, so the stream never depends on it.
enum class Device : uint8_t {
  kAuto = 0,      // kCuda when LibTorch finds a CUDA device, else kCpu
  kCpu = 1,       // the integer CPU engines; no LibTorch
  kCuda = 2,      // the exact LibTorch passes on CUDA (the LibTorch plugin); kUnsupported without a device
  kTorchCpu = 3,  // the exact LibTorch passes on the CPU: slower than kCpu; checks the LibTorch path without a GPU
};

// Resource limits a decoder checks (overflow-safe) before it allocates anything.
// Defaults suit ordinary photographs; raise them for larger images.
struct Limits {
  uint64_t max_width = 1u << 16;
  uint64_t max_height = 1u << 16;
  uint64_t max_pixels = uint64_t{1} << 28;          // 268 megapixels
  uint64_t max_memory_bytes = uint64_t{4} << 30;    // all decoder allocations together
};

// Fraction done in [0, 1]; called from the coding thread; may be empty.
using Progress = std::function<void(double)>;

}  // namespace pixelzip
