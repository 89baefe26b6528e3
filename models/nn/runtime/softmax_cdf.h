// Integer softmax CDF over the 256 values of a subpixel (docs/design.md section 2,
// point 5) for networks with a 256-way softmax output (the plain PixelCNN).
// Integer logits (fixed point, kSoftmaxLogitFracBits) become frequencies with
// a 2^16 total through a lookup table of exp(-(max logit - logit)) stored in
// the model file. The encoder reads the CDF at a symbol's two edges, the
// decoder searches it: one function, shared by both sides.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "models/coding_model.h"

namespace pixelzip::models::nn {

inline constexpr int kSoftmaxLogitFracBits = 4;  // logit real value (nats) = integer / 16
inline constexpr int kSoftmaxExpEntries = 512;   // differences beyond 511 (about 32 nats) use the last entry
inline constexpr int kSoftmaxExpBits = 24;       // table[0] = 2^24

// round(2^24 * exp(-d / 16)) for d = 0..511 (double precision; the exporter only).
std::vector<int32_t> ComputeSoftmaxExpTable();
// Throws pixelzip::Error(kModelInvalid) unless the table has kSoftmaxExpEntries entries, table[0] == 2^24,
// and the entries are non-increasing and >= 0.
void ValidateSoftmaxExpTable(const std::vector<int32_t>& table);

// Frequencies: e_s = table[min(max_logit - logit_s, 511)], S = sum e_s,
// f_s = 1 + floor(e_s * floor(65280 * 2^32 / S) / 2^32), and the remainder of 2^16 goes to the
// first symbol with the largest logit.
// Guarantees At(0) == 0, At(256) == 2^16, At(s + 1) - At(s) >= 1, for any logits.
class SoftmaxCdf final : public SubpixelCdf {
 public:
  // REQUIRES: `exp_table` passed ValidateSoftmaxExpTable and outlives this object.
  explicit SoftmaxCdf(const std::vector<int32_t>& exp_table) : table_(exp_table) {}
  // REQUIRES: logits has 256 entries.
  void Prepare(const int16_t* logits);
  uint32_t At(int edge) const override { return cum_[size_t(edge)]; }
  // Returns the symbol s with At(s) <= target < At(s + 1). REQUIRES: target < 2^16.
  int Find(uint32_t target) const;

 private:
  const std::vector<int32_t>& table_;
  std::array<uint32_t, kSymbols + 1> cum_{};
};

}  // namespace pixelzip::models::nn
