// PixelCNN with auxiliary variables (Kolesnikov and Lampert 2017, "PixelCNN
// Models with Auxiliary Variables for Natural Image Modeling"), as exact integer
// models. Both variants are built from conditional local PixelCNNs
// (arch/local_pixelcnn/engine.h with `aux` conditioning planes seen through a 3x3
// window, non-causal):
//
//  * aux-grey: the grey image g = GreyOf(R, G, B) is coded first by a grey local
//    PixelCNN (raster order), then the colour image by a local PixelCNN that also
//    sees g; every colour subpixel's CDF is restricted to the values consistent
//    with g and the pixel's already coded channels (IntervalCdf).
//  * aux-pyramid: the image subsampled by 2^L (x[::2^L, ::2^L]) is coded by a
//    local PixelCNN in raster order; then for l = L-1 .. 0 the level-l image
//    x[::2^l, ::2^l] is completed: its pixels with an odd row or column (the
//    even-even ones are level l+1's) are coded in raster order by a conditional
//    local PixelCNN whose conditioning planes are level l+1 upsampled by nearest
//    neighbour (pixel (y, x) sees level l+1's (y >> 1, x >> 1) and neighbours).
//
// This file: grey constraint, restricted CDF, pyramid geometry, the integer
// models (file format, exactness proof at load). Engines: arch/aux_pixelcnn/coding_model.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/coding_model.h"
#include "models/nn/arch/local_pixelcnn/engine.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

inline constexpr const char* kAuxGreyArch = "aux-grey";
inline constexpr const char* kAuxPyramidArch = "aux-pyramid";

// The auxiliary grey value of a colour pixel: (R + 2G + B + 2) >> 2, in [0, 255].
inline int GreyOf(int r, int g, int b) { return (r + 2 * g + b + 2) >> 2; }

// The values [*lo, *hi] of channel `channel` (0 = R, 1 = G, 2 = B) for which some completion of the pixel
// has grey value `grey`, given the pixel's coded values coded[0..channel). *lo > *hi when there is none
// (only possible when the coded values are themselves inconsistent with `grey`).
// REQUIRES: 0 <= grey <= 255, 0 <= channel < 3, coded values in [0, 255].
void GreyConsistentRange(int grey, int channel, const int* coded, int* lo, int* hi);

// A CDF restricted to the symbols [lo, hi]: symbols outside get frequency 1 (the coder's minimum); each
// symbol inside gets 1 plus its share of the remaining 65280 (= 2^16 - 256), in proportion to its base
// frequency minus one:  At(e) = e                                      for e <= lo,
//                         At(e) = e + floor(X(e) * 65280 / X(hi + 1))    for lo < e <= hi + 1,
//                         At(e) = e + 65280                              for e > hi + 1,
// with X(e) = base.At(e) - base.At(lo) - (e - lo) (uniform over [lo, hi] when X(hi + 1) == 0).
// The restriction to [0, 255] is the base CDF itself. Integer arithmetic only.
class IntervalCdf final : public SubpixelCdf {
 public:
  // REQUIRES: 0 <= lo <= hi <= 255; `base` outlives the use of this CDF and is not re-prepared meanwhile.
  void Restrict(const SubpixelCdf& base, int lo, int hi);
  uint32_t At(int edge) const override;

 private:
  const SubpixelCdf* base_ = nullptr;
  int lo_ = 0, hi_ = 255;
  uint32_t base_lo_ = 0;
  uint64_t excess_ = 0;  // X(hi + 1)
};

struct IntAuxGrey {
  IntLocalPixelCnn grey;    // file entries "grey.*": 1 channel, no conditioning planes
  IntLocalPixelCnn colour;  // file entries "colour.*": 3 channels, 1 conditioning plane (the grey image)
  // Validates both networks and their roles; throws kModelInvalid.
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntAuxGrey Read(const ModelFile& f);
};

struct IntAuxPyramid {
  int base_side = 8;       // the smallest level has max(height, width) <= base_side (as MultiscaleLevels)
  IntLocalPixelCnn base;   // file entries "base.*": C channels, no conditioning planes
  IntLocalPixelCnn cond;   // file entries "cond.*": C channels, C conditioning planes (the lower level)
  int channels() const { return base.shape.channels; }
  void Validate() const;
  void Write(ModelFile& f) const;
  static IntAuxPyramid Read(const ModelFile& f);
};

// Number of levels L of the pyramid: the smallest L >= 0 with max(ceil(h / 2^L), ceil(w / 2^L)) <= base_side.
int PyramidLevels(int width, int height, int base_side);
// The level-l image of `full`: full[::2^l, ::2^l] (ceil(h / 2^l) x ceil(w / 2^l)).
QPlane PyramidLevel(const QPlane& full, int l);
// The conditioning planes of level `upper` (the size of the larger level) from the next smaller level:
// out(y, x) = lower(y >> 1, x >> 1). REQUIRES: lower is upper's size halved, rounded up.
QPlane UpsampleNearest(const QPlane& lower, int width, int height);
// True for the pixels of a level that it codes (not known from the smaller level).
inline bool PyramidCodes(int y, int x) { return (y & 1) || (x & 1); }

}  // namespace pixelzip::models::nn
