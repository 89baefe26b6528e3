// Integer discretized-logistic-mixture CDF (docs/design.md section 2.5).
// Built from a network's int16 output parameters with integer arithmetic and
// lookup tables only; the encoder evaluates it at a symbol's two edges, the
// decoder searches it. One function serves both sides.
#pragma once

#include <cstdint>
#include <vector>

#include "models/coding_model.h"

namespace pixelzip::models::nn {

// Fixed-point conventions of the network's output parameters (int16 each):
inline constexpr int kLogitFracBits = 8;      // mixture logits: real = q / 256
inline constexpr int kMeanFracBits = 4;       // means in pixel units q = 2v - 255: real q = m / 16
inline constexpr int kLogScaleFracBits = 8;   // log scales (of x in [-1, 1]): real = q / 256
inline constexpr int kCoeffFracBits = 8;      // pre-tanh coefficients: real = q / 256
inline constexpr int kLogScaleMin = -7 * 256, kLogScaleMax = 8 * 256;
inline constexpr int kLogitSpan = 16 * 256;   // logits more than 16 below the max get weight 0
inline constexpr int kCoeffSpan = 8 * 256;    // tanh saturates beyond |8|
inline constexpr int kSigmoidKnotsPerUnit = 64, kSigmoidRange = 16;  // knots at t = i/64, |t| <= 16
inline constexpr int kSigmoidBits = 24, kExpBits = 15, kTanhBits = 14, kInvScaleBits = 24;

// Lookup tables, stored in the model file (never recomputed with libm at coding time).
struct MixtureTables {
  std::vector<int32_t> sigmoid;    // 2 * 16 * 64 + 1 entries: round(2^24 * sigmoid(i / 64)), i = -1024..1024
  std::vector<int32_t> exp;        // kLogitSpan + 1 entries: round(2^15 * exp(-i / 256)), i = 0..4096
  std::vector<int32_t> inv_scale;  // one per log scale in [min, max]: round(2^24 * exp(-ls / 256) / 255)
  std::vector<int32_t> tanh;       // 2 * kCoeffSpan + 1 entries: round(2^14 * tanh(i / 256)), i = -2048..2048
  // Computes the tables in double precision (exporter only).
  static MixtureTables Compute();
  // Throws pixelzip::Error (kModelInvalid) when sizes or monotonicity are wrong.
  void Validate() const;
};

int MixtureParamCountInt(int channels, int mixtures);

// CDF of channel `channel` of one pixel given the int16 parameters of that
// pixel and the already coded values q = 2v - 255 of channels < channel. The
// mixture is joint over a pixel's channels: channel c uses the components'
// posterior weights given the coded channels (docs/design.md section 2.5).
// Satisfies the SubpixelCdf guarantees for any parameter values.
class MixtureCdf final : public SubpixelCdf {
 public:
  MixtureCdf(const MixtureTables& tables, int channels, int mixtures);
  // REQUIRES: params has MixtureParamCountInt(channels, mixtures) entries; 0 <= channel < channels;
  // previous[0..channel) hold coded values as 2v - 255.
  void Prepare(const int16_t* params, int channel, const int32_t* previous);
  uint32_t At(int edge) const override;
  // Returns the symbol s with At(s) <= target < At(s + 1) by binary search.
  int Find(uint32_t target) const;

 private:
  const MixtureTables& tables_;
  int channels_, mixtures_;
  int64_t weight_[16];      // pi_k, or the posterior weights given the coded channels (unnormalised, < 2^16)
  int64_t mean16_[16];      // mean in q / 16 units
  int64_t inv_scale_[16];   // 2^24 / (255 s)
  int64_t total_ = 0;       // sum of weights * 2^24
  // Component k's CDF at `edge` (2^24 scale, 0 below edge 1, 2^24 from edge 256), for the current channel.
  int64_t ComponentSigmoid(int k, int edge) const;
  int64_t Mass(int edge) const;
  // Means and inverse scales of `channel` given the coded channels before it.
  void SetChannel(const int16_t* params, int channel, const int32_t* previous);
};

}  // namespace pixelzip::models::nn
