// Encodes an image in memory with pixelzip, decodes it and checks the pixels
// are identical. Uses only the installed public API (pixelzip/codec.h).
//
//   roundtrip            a synthetic 96x64 RGB image
//   roundtrip FILE.ppm   a binary PGM/PPM (P5/P6, maxval 255), read here
//
// Exit status: 0 identical, 1 different or failed.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "pixelzip/codec.h"

namespace {

// A smooth gradient with a little deterministic texture: something a model can predict.
pixelzip::Image SyntheticImage(uint32_t width, uint32_t height) {
  pixelzip::Image image;
  image.width = width;
  image.height = height;
  image.channels = 3;
  image.pixels.resize(image.SubpixelCount());
  uint32_t state = 12345;
  for (uint32_t y = 0; y < height; ++y) {
    for (uint32_t x = 0; x < width; ++x) {
      state = state * 1103515245u + 12345u;
      const int noise = static_cast<int>((state >> 16) % 7) - 3;
      const int base = static_cast<int>((x * 255) / width);
      image.at(y, x, 0) = static_cast<uint8_t>(std::min(255, std::max(0, base + noise)));
      image.at(y, x, 1) = static_cast<uint8_t>((y * 255) / height);
      image.at(y, x, 2) = static_cast<uint8_t>((base + y) / 2);
    }
  }
  return image;
}

// Reads one whitespace-separated header number of a PNM file, skipping comments.
bool ReadPnmNumber(const std::vector<uint8_t>& data, size_t& pos, uint32_t& value) {
  while (pos < data.size()) {
    if (data[pos] == '#') {
      while (pos < data.size() && data[pos] != '\n') ++pos;
    } else if (std::isspace(data[pos])) {
      ++pos;
    } else {
      break;
    }
  }
  if (pos >= data.size() || !std::isdigit(data[pos])) return false;
  uint64_t v = 0;
  while (pos < data.size() && std::isdigit(data[pos])) {
    v = v * 10 + (data[pos++] - '0');
    if (v > 1000000) return false;
  }
  value = static_cast<uint32_t>(v);
  return true;
}

// Binary P5 (grey) or P6 (RGB) with maxval 255; exits with a message on anything else.
pixelzip::Image ReadPnm(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::cerr << "roundtrip: " << path << ": cannot open\n";
    std::exit(1);
  }
  std::vector<uint8_t> data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  pixelzip::Image image;
  size_t pos = 2;
  uint32_t maxval = 0;
  const bool ok_magic = data.size() > 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '6');
  if (!ok_magic || !ReadPnmNumber(data, pos, image.width) || !ReadPnmNumber(data, pos, image.height) ||
      !ReadPnmNumber(data, pos, maxval) || maxval != 255 || pos >= data.size()) {
    std::cerr << "roundtrip: " << path << ": not a binary 8-bit PGM/PPM\n";
    std::exit(1);
  }
  ++pos;  // the single whitespace byte after maxval
  image.channels = data[1] == '5' ? 1 : 3;
  if (data.size() - pos < image.SubpixelCount()) {
    std::cerr << "roundtrip: " << path << ": truncated\n";
    std::exit(1);
  }
  image.pixels.assign(data.begin() + static_cast<std::ptrdiff_t>(pos),
                      data.begin() + static_cast<std::ptrdiff_t>(pos + image.SubpixelCount()));
  return image;
}

}  // namespace

int main(int argc, char** argv) {
  const pixelzip::Image image = argc > 1 ? ReadPnm(argv[1]) : SyntheticImage(96, 64);
  try {
    const pixelzip::EncodeResult encoded = pixelzip::Encode(image);
    const pixelzip::Image decoded = pixelzip::Decode(encoded.stream);
    const double bits = 8.0 * static_cast<double>(encoded.stream.size()) / static_cast<double>(image.SubpixelCount());
    std::printf("%ux%ux%u: %zu bytes, %.3f bits/subpixel, pixels %s\n", image.width, image.height,
                image.channels, encoded.stream.size(), bits, decoded == image ? "identical" : "DIFFERENT");
    return decoded == image ? 0 : 1;
  } catch (const pixelzip::Error& e) {
    std::fprintf(stderr, "roundtrip: %s: %s\n", pixelzip::ErrorCodeName(e.code()), e.what());
    return 1;
  }
}
