#include "models/nn/runtime/mixture_cdf.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "models/nn/runtime/int_ops.h"
#include "pixelzip/error.h"

namespace pixelzip::models::nn {

namespace {
constexpr int kSigmoidHalf = kSigmoidKnotsPerUnit * kSigmoidRange;  // 1024
}

int MixtureParamCountInt(int channels, int mixtures) {
  return mixtures * (1 + 2 * channels + channels * (channels - 1) / 2);
}

MixtureTables MixtureTables::Compute() {
  MixtureTables t;
  for (int i = -kSigmoidHalf; i <= kSigmoidHalf; ++i) {
    const double x = double(i) / kSigmoidKnotsPerUnit;
    t.sigmoid.push_back(int32_t(std::llround(std::ldexp(1.0 / (1.0 + std::exp(-x)), kSigmoidBits))));
  }
  for (int i = 0; i <= kLogitSpan; ++i)
    t.exp.push_back(int32_t(std::llround(std::ldexp(std::exp(-double(i) / (1 << kLogitFracBits)), kExpBits))));
  for (int ls = kLogScaleMin; ls <= kLogScaleMax; ++ls)
    t.inv_scale.push_back(int32_t(std::llround(std::ldexp(std::exp(-double(ls) / (1 << kLogScaleFracBits)) / 255.0, kInvScaleBits))));
  for (int i = -kCoeffSpan; i <= kCoeffSpan; ++i)
    t.tanh.push_back(int32_t(std::llround(std::ldexp(std::tanh(double(i) / (1 << kCoeffFracBits)), kTanhBits))));
  return t;
}

void MixtureTables::Validate() const {
  auto fail = [](const std::string& what) { throw Error(ErrorCode::kModelInvalid, "mixture table " + what); };
  if (sigmoid.size() != size_t(2 * kSigmoidHalf + 1)) fail("sigmoid has the wrong size");
  if (exp.size() != size_t(kLogitSpan + 1)) fail("exp has the wrong size");
  if (inv_scale.size() != size_t(kLogScaleMax - kLogScaleMin + 1)) fail("inv_scale has the wrong size");
  if (tanh.size() != size_t(2 * kCoeffSpan + 1)) fail("tanh has the wrong size");
  for (size_t i = 1; i < sigmoid.size(); ++i)
    if (sigmoid[i] < sigmoid[i - 1]) fail("sigmoid is not monotone");
  if (sigmoid.front() < 0 || sigmoid.back() > (1 << kSigmoidBits)) fail("sigmoid is out of range");
  if (exp[0] != (1 << kExpBits)) fail("exp(0) is not 2^15");
  for (auto v : exp) if (v < 0 || v > (1 << kExpBits)) fail("exp is out of range");
  for (auto v : inv_scale) if (v < 1) fail("inv_scale has a zero entry");
  for (auto v : tanh) if (v < -(1 << kTanhBits) || v > (1 << kTanhBits)) fail("tanh is out of range");
}

MixtureCdf::MixtureCdf(const MixtureTables& tables, int channels, int mixtures)
    : tables_(tables), channels_(channels), mixtures_(mixtures) {
  if (mixtures < 1 || mixtures > 16 || (channels != 1 && channels != 3))
    throw Error(ErrorCode::kModelInvalid, "mixture head needs 1..16 components and 1 or 3 channels");
}

void MixtureCdf::SetChannel(const int16_t* p, int channel, const int32_t* previous) {
  const int K = mixtures_, C = channels_;
  const int16_t* means = p + K;
  const int16_t* log_scales = p + K + C * K;
  const int16_t* coeffs = p + K + 2 * C * K;
  for (int k = 0; k < K; ++k) {
    int64_t mean = means[channel * K + k];
    auto add_dependence = [&](int coeff_index, int32_t value) {
      const int32_t c = std::clamp<int32_t>(coeffs[coeff_index * K + k], -kCoeffSpan, kCoeffSpan);
      // tanh in 2^-14 units times a pixel value, to q / 16 units.
      mean += RoundShift(int64_t(tables_.tanh[c + kCoeffSpan]) * value, kTanhBits - kMeanFracBits);
    };
    if (channel == 1) add_dependence(0, previous[0]);
    if (channel == 2) {
      add_dependence(1, previous[0]);
      add_dependence(2, previous[1]);
    }
    mean16_[k] = mean;
    const int32_t ls = std::clamp<int32_t>(log_scales[channel * K + k], kLogScaleMin, kLogScaleMax);
    inv_scale_[k] = tables_.inv_scale[ls - kLogScaleMin];
  }
}

void MixtureCdf::Prepare(const int16_t* p, int channel, const int32_t* previous) {
  const int K = mixtures_;
  const int16_t* logits = p;
  int32_t max_logit = logits[0];
  for (int k = 1; k < K; ++k) max_logit = std::max<int32_t>(max_logit, logits[k]);
  int64_t prior[16];
  for (int k = 0; k < K; ++k) prior[k] = weight_[k] = tables_.exp[std::min<int32_t>(max_logit - logits[k], kLogitSpan)];
  // The mixture is joint over the channels: the weights for channel c are the
  // posterior weights given the coded channels < c, pi_k * prod p_k(v_c'),
  // renormalised to at most 2^16 after each factor (integers only).
  for (int prev = 0; prev < channel; ++prev) {
    SetChannel(p, prev, previous);
    const int v = (previous[prev] + 255) / 2;
    int64_t largest = 0;
    for (int k = 0; k < K; ++k) {
      const int64_t bin = ComponentSigmoid(k, v + 1) - ComponentSigmoid(k, v);  // in 2^24 units
      weight_[k] *= bin;  // <= 2^16 * 2^24
      largest = std::max(largest, weight_[k]);
    }
    if (largest == 0) {  // every component gives the coded value probability 0 at this precision
      for (int k = 0; k < K; ++k) weight_[k] = prior[k];
      continue;
    }
    int shift = 0;
    while ((largest >> shift) >= (int64_t{1} << 16)) ++shift;
    for (int k = 0; k < K; ++k) weight_[k] >>= shift;
  }
  SetChannel(p, channel, previous);
  total_ = 0;
  for (int k = 0; k < K; ++k) total_ += weight_[k] << kSigmoidBits;
  if (total_ == 0) {  // only possible when shifting dropped every weight: fall back to the prior
    for (int k = 0; k < K; ++k) total_ += (weight_[k] = prior[k]) << kSigmoidBits;
  }
}

int64_t MixtureCdf::ComponentSigmoid(int k, int edge) const {
  if (edge <= 0) return 0;
  if (edge >= kSymbols) return int64_t{1} << kSigmoidBits;
  const int64_t e16 = int64_t(2 * edge - 256) * (int64_t{1} << kMeanFracBits);
  constexpr int kFrac = 8;
  constexpr int kToKnots = kMeanFracBits + kInvScaleBits - 6 - kFrac;
  constexpr int64_t kLimit = int64_t(kSigmoidHalf) << kFrac;
  const int64_t t = (e16 - mean16_[k]) * inv_scale_[k];
  int64_t u = t >= 0 ? (t >> kToKnots) : -((-t) >> kToKnots);
  u = std::clamp(u, -kLimit, kLimit);
  const int64_t pos = u + kLimit;
  const int64_t i = pos >> kFrac, frac = pos & ((1 << kFrac) - 1);
  int64_t s = tables_.sigmoid[i];
  if (frac) s += ((int64_t(tables_.sigmoid[i + 1]) - s) * frac) >> kFrac;
  return s;
}

int64_t MixtureCdf::Mass(int edge) const {
  int64_t mass = 0;
  for (int k = 0; k < mixtures_; ++k)
    if (weight_[k] != 0) mass += weight_[k] * ComponentSigmoid(k, edge);
  return mass;
}

uint32_t MixtureCdf::At(int edge) const {
  if (edge <= 0) return 0;
  if (edge >= kSymbols) return kCdfTotal;
  const int64_t mass = std::clamp<int64_t>(Mass(edge), 0, total_);
  // Every symbol gets 1; the remaining 2^16 - 256 are shared by mass.
  return uint32_t(edge + (mass * int64_t(kCdfTotal - kSymbols)) / total_);
}

int MixtureCdf::Find(uint32_t target) const {
  int lo = 0, hi = kSymbols;  // At(lo) <= target < At(hi)
  while (hi - lo > 1) {
    const int mid = (lo + hi) / 2;
    if (At(mid) <= target) lo = mid; else hi = mid;
  }
  return lo;
}

}  // namespace pixelzip::models::nn
