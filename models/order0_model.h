// The reference model "order0-adaptive": one adaptive order-0 frequency table
// per colour channel, raster order. No network, no floats: it exists so that
// the codec, the container and the tests have an exact, cheap model that never
// changes (its identity hash pins its behaviour).
#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "models/coding_model.h"

namespace pixelzip::models {

// Adaptive counts over 256 symbols, exposed as an integer CDF of total 2^16.
//
// Counts start at 1. Update(s) adds `increment` to count(s); when the total
// would exceed `limit`, every count is first halved rounding up ((c + 1) / 2,
// so it stays >= 1). With C(s) = count(0) + ... + count(s - 1) and T = C(256):
//   At(s) = s + floor(C(s) * (65536 - 256) / T)
// which gives At(0) = 0, At(256) = 65536 and At(s + 1) - At(s) >= 1, by
// integer arithmetic only. The codec's alpha coder uses this class too.
class AdaptiveFrequencies final : public SubpixelCdf {
 public:
  struct Params {
    uint32_t increment = 32;
    uint32_t limit = 1u << 16;
  };
  // REQUIRES: increment >= 1, 256 + increment <= limit <= 2^24 (throws pixelzip::Error
  // kInvalidArgument otherwise).
  explicit AdaptiveFrequencies(const Params& params);
  AdaptiveFrequencies() : AdaptiveFrequencies(Params{}) {}

  // REQUIRES: 0 <= edge <= 256. Guarantees the SubpixelCdf invariants.
  uint32_t At(int edge) const override {
    return static_cast<uint32_t>(edge) +
           static_cast<uint32_t>(uint64_t{cum_[edge]} * (kCdfTotal - kSymbols) / cum_[kSymbols]);
  }
  // REQUIRES: 0 <= symbol < 256. Counts `symbol` once (see the class comment).
  void Update(int symbol);

  uint32_t Count(int symbol) const { return count_[symbol]; }
  uint32_t Total() const { return cum_[kSymbols]; }

 private:
  void RebuildCumulative();

  Params params_;
  std::array<uint32_t, kSymbols> count_;
  std::array<uint32_t, kSymbols + 1> cum_;  // cum_[s] = C(s)
};

class Order0Model final : public CodingModel {
 public:
  static constexpr const char* kArchitecture = "order0-adaptive";

  // REQUIRES: params valid for AdaptiveFrequencies. The defaults are the shipped model;
  // other parameters give another model with another identity (used by tests).
  explicit Order0Model(const AdaptiveFrequencies::Params& params = {});

  // The canonical text whose SHA-256 is this model's weights_sha256. Changing the
  // model's behaviour requires changing this text (and so the hash).
  static std::string CanonicalDescription(const AdaptiveFrequencies::Params& params);

  const ModelIdentity& Identity() const override { return identity_; }
  pixelzip::Order Order() const override { return pixelzip::Order::kRaster; }
  bool SupportsChannels(uint32_t channels) const override { return channels == 1 || channels == 3; }
  // Raster order; within a pixel channel 0, 1, 2; each channel has its own table.
  // Progress is reported once per row.
  void Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const override;
  void Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const override;

 private:
  AdaptiveFrequencies::Params params_;
  ModelIdentity identity_;
};

}  // namespace pixelzip::models
