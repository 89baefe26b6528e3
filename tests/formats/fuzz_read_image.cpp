// Fuzz target: any byte string either decodes to a consistent image that
// survives a PNG and a PNM round trip, or is refused with pixelzip::Error.
// Any other exception escapes and fails the run (std::terminate); crashes,
// over-reads and UB are caught by the sanitizers.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "formats/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pixelzip::Image image;
  try {
    image = pixelzip::ReadImageBytes(data, size, "fuzz");
  } catch (const pixelzip::Error&) {
    return 0;
  }
  if (image.width == 0 || image.height == 0 || image.channels < 1 || image.channels > 4 ||
      (image.bit_depth != 8 && image.bit_depth != 16) || image.pixels.size() != image.ByteCount()) {
    std::abort();
  }
  if (image.SubpixelCount() <= (size_t{1} << 20)) {
    const std::vector<uint8_t> png = pixelzip::EncodePng(image, 1);
    const std::vector<uint8_t> pnm = pixelzip::EncodePnm(image);
    if (!(pixelzip::ReadImageBytes(png.data(), png.size(), "png") == image)) std::abort();
    if (!(pixelzip::ReadImageBytes(pnm.data(), pnm.size(), "pnm") == image)) std::abort();
    // With metadata: the same pixels, and the kept items come back through each format.
    pixelzip::ImageMetadata metadata;
    if (!(pixelzip::ReadImageBytes(data, size, "fuzz", &metadata) == image)) std::abort();
    std::vector<std::string> not_kept;
    const std::vector<uint8_t> png2 = pixelzip::EncodePng(image, 1, metadata.items, &not_kept);
    const std::vector<uint8_t> pnm2 = pixelzip::EncodePnm(image, metadata.items, &not_kept);
    pixelzip::ImageMetadata back;
    if (!(pixelzip::ReadImageBytes(png2.data(), png2.size(), "png", &back) == image)) std::abort();
    if (!(pixelzip::ReadImageBytes(pnm2.data(), pnm2.size(), "pnm", &back) == image)) std::abort();
  }
  return 0;
}
