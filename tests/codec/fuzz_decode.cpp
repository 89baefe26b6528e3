// Fuzz target: any bytes given to Decode either throw pixelzip::Error or decode; a stream
// of order0-adaptive that decodes (and has no minor-version extras) re-encodes to exactly the same bytes,
// since the encoder is canonical and the decoder checks the clean end and pixel CRC.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_check.h"
#include "pixelzip/codec.h"

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
  PIXELZIP_CODEC_FUZZ_CHECK(image.width == info.width && image.height == info.height &&
                            image.channels == info.channels);
  if (info.architecture == "order0-adaptive" && info.version_minor == 0 &&
      info.header_bytes == 69 + info.architecture.size()) {
    pixelzip::EncodeOptions order0;
    order0.model = "order0-adaptive";
    const std::vector<uint8_t> again = pixelzip::Encode(image, order0).stream;
    PIXELZIP_CODEC_FUZZ_CHECK(again == std::vector<uint8_t>(data, data + size));
  }
  return 0;
}
