// The small value types shared by the public API (codec.h) and the models:
// one Order, one Device, one Limits, one Progress.
#pragma once

#include <cstdint>
#include <functional>

namespace pixelzip {

// The order in which a model visits an image's subpixels (docs/format.md).
enum class Order : uint8_t { kRaster = 0, kMultiscale = 1 };
// Where the encoder's batched model pass runs. kAuto: CUDA when LibTorch finds a device, else the CPU.
enum class Device : uint8_t { kAuto = 0, kCpu = 1, kCuda = 2 };

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
