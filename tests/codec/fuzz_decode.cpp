// Fuzz target: any bytes given to Decode either throw pixelzip::Error or decode; a stream
// of order0-adaptive that decodes (and has no minor-version extras) re-encodes to exactly the same bytes,
// since the encoder is canonical and the decoder checks the clean end and pixel CRC.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "pixelzip/codec.h"
#include "tests/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pixelzip::DecodeOptions options;
  options.limits.max_pixels = 1u << 16;  // keep each run fast; the checks are the same
  pixelzip::Image image;
  pixelzip::StreamInfo info;
  try {
    info = pixelzip::ReadStreamInfo(data, size, options.limits);
    image = pixelzip::Decode(data, size, options);
  } catch (const pixelzip::Error&) {
    return 0;
  }
  PIXELZIP_FUZZ_CHECK(image.width == info.width && image.height == info.height &&
                      image.channels == info.channels);
  // Format 2.0 (the adaptive stage) adds a 2-byte length and the 7-byte stage record.
  const size_t stage_bytes = info.adaptive ? 2 + 7 : 0;
  if (info.architecture == "order0-adaptive" && info.version_minor == 0 &&
      info.header_bytes == 69 + info.architecture.size() + stage_bytes) {
    pixelzip::EncodeOptions order0;
    order0.model = "order0-adaptive";
    order0.adaptive = info.adaptive;
    const std::vector<uint8_t> again = pixelzip::Encode(image, order0).stream;
    if (!info.adaptive) {
      PIXELZIP_FUZZ_CHECK(again == std::vector<uint8_t>(data, data + size));
    } else if (again.size() == size) {
      // A record with other valid parameters can act the same on a small image (table
      // sizes are capped by the image size): compare the payloads, which are canonical.
      PIXELZIP_FUZZ_CHECK(std::vector<uint8_t>(again.begin() + info.header_bytes, again.end()) ==
                          std::vector<uint8_t>(data + info.header_bytes, data + size));
    }
  }
  return 0;
}
