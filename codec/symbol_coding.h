// Adapters between the models' SymbolSink/SymbolSource and the range coder, and
// the codec's own alpha-channel coder.
#pragma once

#include <cstdint>

#include "adaptive/stage.h"
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
  void Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) override;
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
  int Get(const models::SymbolPosition& at, const models::SubpixelCdf& cdf) override;

 private:
  entropy::RangeDecoder& decoder_;
};

// Codes each subpixel through the adaptive stage (adaptive/stage.h): the model's CDF
// is refined and the symbol coded as 8 binary decisions (docs/format.md section 6).
// Sums the cost -log2(p / 2^16) of every decision in bits. Any CDF is accepted: the
// stage's decisions keep their guarantees whatever the model returns.
class AdaptiveSymbolSink final : public models::SymbolSink {
 public:
  // `encoder` and `stage` must outlive the sink.
  AdaptiveSymbolSink(entropy::RangeEncoder& encoder, adaptive::Stage& stage) : encoder_(encoder), stage_(stage) {}
  // REQUIRES: 0 <= symbol < 256 (pixelzip::Error kInternal otherwise). The stage reads
  // the neighbours at `at` (as its record's positions mode says).
  void Put(const models::SymbolPosition& at, const models::SubpixelCdf& cdf, int symbol) override;
  double bits() const { return bits_; }

 private:
  entropy::RangeEncoder& encoder_;
  adaptive::Stage& stage_;
  double bits_ = 0;
};

// The stage's view of a model's symbol position.
inline adaptive::Position StagePosition(const models::SymbolPosition& at) {
  if (!at.pixel) return adaptive::Position{};
  return adaptive::Position::At(at.y, at.x, at.channel, at.scale, at.group);
}

// Decodes what AdaptiveSymbolSink codes, with a stage in the same state. Throws
// pixelzip::Error kCorruptInput when the range decoder reports an inconsistent payload.
class AdaptiveSymbolSource final : public models::SymbolSource {
 public:
  AdaptiveSymbolSource(entropy::RangeDecoder& decoder, adaptive::Stage& stage) : decoder_(decoder), stage_(stage) {}
  int Get(const models::SymbolPosition& at, const models::SubpixelCdf& cdf) override;

 private:
  entropy::RangeDecoder& decoder_;
  adaptive::Stage& stage_;
};

// The alpha channel (the last of 2 or 4) in raster order, each value with an adaptive
// order-0 table chosen by whether the left and upper alpha are 0, 255 or other
// (docs/format.md, section 4). Progress is reported once per row.
// REQUIRES: image.channels is 2 or 4 and image.pixels holds all subpixels.
void EncodeAlpha(const Image& image, models::SymbolSink& sink, const Progress& progress);
// Fills the alpha channel of `image` (allocated, dimensions set); other channels are untouched.
void DecodeAlpha(Image& image, models::SymbolSource& source, const Progress& progress);
// The same values into a plane of its own: `alpha` holds width * height bytes, one per pixel.
void DecodeAlphaPlane(uint32_t width, uint32_t height, uint8_t* alpha, models::SymbolSource& source,
                      const Progress& progress);

}  // namespace pixelzip::codec
