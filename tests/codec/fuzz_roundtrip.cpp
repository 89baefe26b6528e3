// Fuzz target: an image made from the input (byte 0: channels, and bit 2 set for a 16-bit
// image; byte 1: width; the rest are the pixels, as many whole rows as there are) encodes
// and decodes to itself, by the model and with the fallbacks on.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pixelzip/codec.h"
#include "tests/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  pixelzip::Image image;
  image.channels = 1 + data[0] % 4;
  image.bit_depth = (data[0] & 4) != 0 ? 16 : 8;
  image.width = 1 + data[1] % 64;
  const size_t row = size_t{image.width} * image.channels * image.BytesPerSample();
  image.height = static_cast<uint32_t>((size - 2) / row);
  if (image.height == 0) return 0;
  image.pixels.assign(data + 2, data + 2 + row * image.height);
  pixelzip::EncodeOptions order0;
  order0.model = "order0-adaptive";
  const pixelzip::EncodeResult encoded = pixelzip::Encode(image, order0);
  PIXELZIP_FUZZ_CHECK(pixelzip::Decode(encoded.stream) == image);
  // With the fallback codings (deflate, palette, the stage alone): whichever is smallest.
  order0.fallback = pixelzip::Fallback::kOn;
  const pixelzip::EncodeResult best = pixelzip::Encode(image, order0);
  PIXELZIP_FUZZ_CHECK(pixelzip::Decode(best.stream) == image);
  PIXELZIP_FUZZ_CHECK(best.stream.size() <= encoded.stream.size());
  return 0;
}
