// Fuzz target: any bytes given to Decode either throw pixelzip::Error or decode; a stream
// of order0-adaptive that decodes re-encodes to exactly the same payload (and a 4.0 stream without
// extras to the same bytes), since the encoder is canonical and the decoder checks the clean end
// and pixel CRC.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "codec/container.h"
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
  if (info.architecture == "order0-adaptive" && info.version_minor == 0) {
    pixelzip::EncodeOptions order0;
    order0.model = "order0-adaptive";
    order0.adaptive = info.adaptive;
    if (info.adaptive) {  // the record's stage kind (the encoder's default is not every stream's)
      size_t header_bytes = 0;
      const pixelzip::codec::Header h = pixelzip::codec::ReadHeader(data, size, options.limits, &header_bytes);
      if (!h.stage.empty()) order0.adaptive_kind = h.stage[0];
    }
    const std::vector<uint8_t> again = pixelzip::Encode(image, order0).stream;
    const pixelzip::StreamInfo again_info = pixelzip::ReadStreamInfo(again.data(), again.size());
    const std::vector<uint8_t> payload(data + info.header_bytes, data + size);
    const std::vector<uint8_t> again_payload(again.begin() + again_info.header_bytes, again.end());
    // The payload is canonical whatever the header's layout (a 1.x-3.x header, or extension
    // bytes of a minor version 0 that a 4.0 writer never writes). With the stage, a record with
    // other valid parameters can act the same on a small image (table sizes are capped by the
    // image size): compare the payloads when their sizes agree.
    if (!info.adaptive || again_payload.size() == payload.size()) PIXELZIP_FUZZ_CHECK(again_payload == payload);
    // A 4.0 stream of the model alone, without extension bytes, is this encoder's byte for byte.
    if (!info.adaptive && info.version_major == 4 && again_info.header_bytes == info.header_bytes)
      PIXELZIP_FUZZ_CHECK(again == std::vector<uint8_t>(data, data + size));
  }
  return 0;
}
