// The in-memory image every part of pixelzip exchanges: 8 bits per subpixel,
// row-major, channels interleaved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace pixelzip {

// 1 = grey, 2 = grey + alpha, 3 = RGB, 4 = RGBA.
struct Image {
  uint32_t width = 0;
  uint32_t height = 0;
  uint32_t channels = 0;
  std::vector<uint8_t> pixels;  // size() == width * height * channels

  size_t SubpixelCount() const { return size_t{width} * height * channels; }
  // REQUIRES: y < height, x < width, c < channels.
  uint8_t& at(uint32_t y, uint32_t x, uint32_t c) { return pixels[(size_t{y} * width + x) * channels + c]; }
  uint8_t at(uint32_t y, uint32_t x, uint32_t c) const { return pixels[(size_t{y} * width + x) * channels + c]; }
  bool operator==(const Image& o) const {
    return width == o.width && height == o.height && channels == o.channels && pixels == o.pixels;
  }
};

}  // namespace pixelzip
