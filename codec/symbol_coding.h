// Adapters between the models' SymbolSink/SymbolSource and the range coder, and
// the codec's own alpha-channel coder.
#pragma once

#include <cstdint>

#include "entropy/range_coder.h"
#include "models/coding_model.h"
#include "pixelzip/image.h"

namespace pixelzip::codec {

// Codes each subpixel with its CDF and sums its cost -log2(freq / 2^16) in bits.
class RangeSymbolSink final : public models::SymbolSink {
 public:
  // `encoder` must outlive the sink.
  explicit RangeSymbolSink(entropy::RangeEncoder& encoder) : encoder_(encoder) {}
  // REQUIRES: 0 <= symbol < 256 and cdf meets the SubpixelCdf guarantees at `symbol`
  // (checked: pixelzip::Error kInternal names the broken model otherwise).
  void Put(const models::SubpixelCdf& cdf, int symbol) override;
  double bits() const { return bits_; }

 private:
  entropy::RangeEncoder& encoder_;
  double bits_ = 0;
};

// Decodes each subpixel with its CDF. Throws pixelzip::Error kCorruptInput when the
// range decoder reports an exhausted or inconsistent payload (entropy::DecodeError):
// the container has already checked that the whole payload is present.
class RangeSymbolSource final : public models::SymbolSource {
 public:
  // `decoder` must outlive the source.
  explicit RangeSymbolSource(entropy::RangeDecoder& decoder) : decoder_(decoder) {}
  // Guarantees: 0 <= result < 256.
  int Get(const models::SubpixelCdf& cdf) override;

 private:
  entropy::RangeDecoder& decoder_;
};

// The alpha channel (the last of 2 or 4) in raster order, each value with an adaptive
// order-0 table chosen by whether the left and upper alpha are 0, 255 or other
// (docs/format.md, section 4). Progress is reported once per row.
// REQUIRES: image.channels is 2 or 4 and image.pixels holds all subpixels.
void EncodeAlpha(const Image& image, models::SymbolSink& sink, const models::ProgressFn& progress);
// Fills the alpha channel of `image` (allocated, dimensions set); other channels are untouched.
void DecodeAlpha(Image& image, models::SymbolSource& source, const models::ProgressFn& progress);
// The same values into a plane of its own: `alpha` holds width * height bytes, one per pixel.
void DecodeAlphaPlane(uint32_t width, uint32_t height, uint8_t* alpha, models::SymbolSource& source,
                      const models::ProgressFn& progress);

}  // namespace pixelzip::codec
