// Helpers shared by the formats tests.
#pragma once

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "formats/image_io.h"

namespace pixelzip::formats_test {

inline std::string PngSuiteDir() { return std::string(PIXELZIP_TEST_DATA_DIR) + "/pngsuite"; }

inline std::vector<uint8_t> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline Image MakeTestImage(uint32_t width, uint32_t height, uint32_t channels, uint32_t seed) {
  Image image;
  image.width = width;
  image.height = height;
  image.channels = channels;
  image.pixels.resize(image.SubpixelCount());
  uint32_t state = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < image.pixels.size(); ++i) {
    state = state * 1664525u + 1013904223u;
    // Mix smooth gradients with noise so both filters and literals are used.
    image.pixels[i] = static_cast<uint8_t>((i % 7 == 0) ? (state >> 24) : (i * 3 + seed));
  }
  return image;
}

// Runs fn and returns the pixelzip::Error it throws; fails the test (and
// returns a kInternal placeholder) if it throws nothing or something else.
template <typename Fn>
Error CatchError(Fn&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "threw a non-pixelzip exception: " << e.what();
    return Error(ErrorCode::kInternal, "wrong exception");
  }
  ADD_FAILURE() << "did not throw";
  return Error(ErrorCode::kInternal, "no exception");
}

}  // namespace pixelzip::formats_test
