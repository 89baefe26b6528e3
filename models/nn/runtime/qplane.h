// Pixel values of an image being coded as the networks see them: q = 2v - 255.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/coding_model.h"  // PlaneView

namespace pixelzip::models::nn {

// Pixel values of an image being coded, as q = 2v - 255, zero outside the image.
struct QPlane {
  int width = 0, height = 0, channels = 0;
  std::vector<int16_t> q;  // [y][x][c]
  int16_t at(int y, int x, int c) const {
    return (y < 0 || x < 0 || x >= width || y >= height) ? int16_t(0) : q[(size_t(y) * width + x) * channels + c];
  }
};

// q = 2v - 255 of every subpixel of `image`.
QPlane ToQPlane(const PlaneView& image);
// A plane of the given size, every value 0 (a decoder fills it as it goes).
QPlane EmptyQPlane(int width, int height, int channels);

}  // namespace pixelzip::models::nn
