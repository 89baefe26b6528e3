#include "models/nn/arch/aux_pixelcnn/engine.h"

#include <algorithm>

#include "models/nn/arch/multiscale/engine.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
int FloorDiv2(int v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); }
int CeilDiv2(int v) { return -FloorDiv2(-v); }
constexpr uint64_t kSpread = kCdfTotal - kSymbols;  // 65280
}  // namespace

void GreyConsistentRange(int grey, int channel, const int* coded, int* lo, int* hi) {
  // grey == (R + 2G + B + 2) >> 2  <=>  4 grey - 2 <= R + 2G + B <= 4 grey + 1.
  const int s_lo = 4 * grey - 2, s_hi = 4 * grey + 1;
  int a = 0, b = 255;
  if (channel == 0) {
    a = s_lo - 2 * 255 - 255;  // G = B = 255
    b = s_hi;                  // G = B = 0
  } else if (channel == 1) {
    a = CeilDiv2(s_lo - coded[0] - 255);
    b = FloorDiv2(s_hi - coded[0]);
  } else {
    a = s_lo - coded[0] - 2 * coded[1];
    b = s_hi - coded[0] - 2 * coded[1];
  }
  *lo = std::max(a, 0);
  *hi = std::min(b, 255);
}

void IntervalCdf::Restrict(const SubpixelCdf& base, int lo, int hi) {
  base_ = &base;
  lo_ = lo;
  hi_ = hi;
  base_lo_ = base.At(lo);
  excess_ = uint64_t(base.At(hi + 1) - base_lo_) - uint64_t(hi - lo + 1);
}

uint32_t IntervalCdf::At(int edge) const {
  if (edge <= lo_) return uint32_t(edge);
  if (edge > hi_ + 1) return uint32_t(edge) + uint32_t(kSpread);
  const uint64_t k = uint64_t(edge - lo_);
  const uint64_t share = excess_ == 0 ? k * kSpread / uint64_t(hi_ - lo_ + 1)
                                      : (uint64_t(base_->At(edge) - base_lo_) - k) * kSpread / excess_;
  return uint32_t(edge) + uint32_t(share);
}

void IntAuxGrey::Validate() const {
  if (grey.shape.channels != 1 || grey.shape.aux != 0 || colour.shape.channels != 3 || colour.shape.aux != 1)
    throw Error(ErrorCode::kModelInvalid, "aux-grey model: the grey network must code 1 channel unconditioned and "
                                          "the colour network 3 channels given 1 grey plane");
  grey.Validate();
  colour.Validate();
}

void IntAuxGrey::Write(ModelFile& f) const {
  f.PutText("architecture", kAuxGreyArch);
  f.PutInt32("channels", {3});
  grey.Write(f, "grey.");
  colour.Write(f, "colour.");
}

IntAuxGrey IntAuxGrey::Read(const ModelFile& f) {
  if (f.Text("architecture") != kAuxGreyArch) throw Error(ErrorCode::kModelInvalid, "model file is not an aux-grey model");
  if (f.Int32("channels", 1)[0] != 3) throw Error(ErrorCode::kModelInvalid, "aux-grey model: channels must be 3");
  IntAuxGrey m;
  m.grey = IntLocalPixelCnn::Read(f, "grey.");
  m.colour = IntLocalPixelCnn::Read(f, "colour.");
  m.Validate();
  return m;
}

void IntAuxPyramid::Validate() const {
  if (base_side < 1 || base_side > 4096)
    throw Error(ErrorCode::kModelInvalid, "aux-pyramid model: base_side out of range");
  if (base.shape.aux != 0 || cond.shape.channels != base.shape.channels || cond.shape.aux != base.shape.channels)
    throw Error(ErrorCode::kModelInvalid, "aux-pyramid model: the base network must be unconditioned and the level "
                                          "network must code its channels given as many conditioning planes");
  base.Validate();
  cond.Validate();
}

void IntAuxPyramid::Write(ModelFile& f) const {
  f.PutText("architecture", kAuxPyramidArch);
  f.PutInt32("channels", {channels()});
  f.PutInt32("base_side", {base_side});
  base.Write(f, "base.");
  cond.Write(f, "cond.");
}

IntAuxPyramid IntAuxPyramid::Read(const ModelFile& f) {
  if (f.Text("architecture") != kAuxPyramidArch)
    throw Error(ErrorCode::kModelInvalid, "model file is not an aux-pyramid model");
  IntAuxPyramid m;
  m.base_side = f.Int32("base_side", 1)[0];
  m.base = IntLocalPixelCnn::Read(f, "base.");
  m.cond = IntLocalPixelCnn::Read(f, "cond.");
  if (f.Int32("channels", 1)[0] != m.channels())
    throw Error(ErrorCode::kModelInvalid, "aux-pyramid model: channel count disagrees with its networks");
  m.Validate();
  return m;
}

int PyramidLevels(int width, int height, int base_side) { return MultiscaleLevels(width, height, base_side); }

QPlane PyramidLevel(const QPlane& full, int l) {
  const int s = 1 << l;
  QPlane p;
  p.width = (full.width + s - 1) / s;
  p.height = (full.height + s - 1) / s;
  p.channels = full.channels;
  p.q.resize(size_t(p.width) * p.height * p.channels);
  for (int y = 0; y < p.height; ++y)
    for (int x = 0; x < p.width; ++x)
      for (int c = 0; c < p.channels; ++c) p.q[(size_t(y) * p.width + x) * p.channels + c] = full.at(y * s, x * s, c);
  return p;
}

QPlane UpsampleNearest(const QPlane& lower, int width, int height) {
  QPlane p;
  p.width = width;
  p.height = height;
  p.channels = lower.channels;
  p.q.resize(size_t(width) * height * p.channels);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      for (int c = 0; c < p.channels; ++c) p.q[(size_t(y) * width + x) * p.channels + c] = lower.at(y >> 1, x >> 1, c);
  return p;
}

}  // namespace pixelzip::models::nn
