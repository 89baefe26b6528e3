// The per-pixel step every mixture-coded model shares: one MixtureCdf per
// subpixel, channels in order, each conditioned on the ones coded before it.
#pragma once

#include <cstdint>

#include "models/coding_model.h"
#include "models/nn/runtime/mixture_cdf.h"

namespace pixelzip::models::nn {

class MixturePixelCoder {
 public:
  MixturePixelCoder(const MixtureTables& tables, int channels, int mixtures) : cdf_(tables, channels, mixtures), channels_(channels) {}

  // Codes the channels of pixel (y, x) of `image` under the mixture parameters `params`.
  // `scale` and `group`: the pixel's multiscale grid and group (SymbolPosition), 0 in raster order.
  void Encode(const PlaneView& image, int y, int x, const int16_t* params, SymbolSink& sink, int scale = 0,
              int group = 0) {
    SymbolPosition at = SymbolPosition::At(uint32_t(y), uint32_t(x), 0);
    at.scale = uint8_t(scale), at.group = uint8_t(group);
    for (int c = 0; c < channels_; ++c) {
      cdf_.Prepare(params, c, previous_);
      const int v = image.at(uint32_t(y), uint32_t(x), uint32_t(c));
      at.channel = uint32_t(c);
      sink.Put(at, cdf_, v);
      previous_[c] = 2 * v - 255;
    }
  }
  // Decodes them into `image` and, when q_out is given, their q = 2v - 255 into q_out[0..channels).
  void Decode(const PlaneView& image, int y, int x, const int16_t* params, SymbolSource& source,
              int16_t* q_out = nullptr, int scale = 0, int group = 0) {
    SymbolPosition at = SymbolPosition::At(uint32_t(y), uint32_t(x), 0);
    at.scale = uint8_t(scale), at.group = uint8_t(group);
    for (int c = 0; c < channels_; ++c) {
      cdf_.Prepare(params, c, previous_);
      at.channel = uint32_t(c);
      const int v = source.Get(at, cdf_);
      image.at(uint32_t(y), uint32_t(x), uint32_t(c)) = uint8_t(v);
      previous_[c] = 2 * v - 255;
      if (q_out) q_out[c] = int16_t(previous_[c]);
    }
  }
  // q = 2v - 255 of the channels of the pixel coded last.
  const int32_t* previous() const { return previous_; }

 private:
  MixtureCdf cdf_;
  int channels_;
  int32_t previous_[3] = {0, 0, 0};
};

// Reports progress after row y of `height`: every 8 rows and after the last.
inline void ReportRow(const Progress& progress, int y, int height) {
  if (progress && (y % 8 == 7 || y == height - 1)) progress(double(y + 1) / height);
}

}  // namespace pixelzip::models::nn
