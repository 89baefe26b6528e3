#include "models/order0_model.h"

#include <string>
#include <vector>

#include "models/identity.h"
#include "pixelzip/error.h"

namespace pixelzip::models {

AdaptiveFrequencies::AdaptiveFrequencies(const Params& params) : params_(params) {
  if (params.increment < 1 || params.limit < kSymbols + params.increment || params.limit > (1u << 24)) {
    throw Error(ErrorCode::kInvalidArgument,
                "adaptive frequencies: need increment >= 1 and 256 + increment <= limit <= 2^24, got increment " +
                    std::to_string(params.increment) + ", limit " + std::to_string(params.limit));
  }
  count_.fill(1);
  RebuildCumulative();
}

void AdaptiveFrequencies::RebuildCumulative() {
  cum_[0] = 0;
  for (int s = 0; s < kSymbols; ++s) cum_[s + 1] = cum_[s] + count_[s];
}

void AdaptiveFrequencies::Update(int symbol) {
  if (cum_[kSymbols] + params_.increment > params_.limit) {
    for (uint32_t& c : count_) c = (c + 1) >> 1;
    count_[symbol] += params_.increment;
    RebuildCumulative();
    return;
  }
  count_[symbol] += params_.increment;
  for (int s = symbol + 1; s <= kSymbols; ++s) cum_[s] += params_.increment;
}

std::string Order0Model::CanonicalDescription(const AdaptiveFrequencies::Params& params) {
  // Every parameter that changes a CDF appears here; the text is hashed as is.
  return std::string(kArchitecture) +
         "/v1 counts=per-channel init=1 increment=" + std::to_string(params.increment) +
         " limit=" + std::to_string(params.limit) +
         " halve=(c+1)>>1-before-update-when-total+increment>limit"
         " cdf=s+floor(C(s)*65280/total) order=raster channels=1,3";
}

Order0Model::Order0Model(const AdaptiveFrequencies::Params& params) : params_(params) {
  AdaptiveFrequencies check(params);  // validates the parameters
  const std::string text = CanonicalDescription(params);
  identity_.architecture = kArchitecture;
  identity_.weights_sha256 = Sha256(text.data(), text.size());
}

namespace {
void ReportRow(const Progress& progress, uint32_t y, uint32_t height) {
  if (progress) progress(static_cast<double>(y + 1) / height);
}
}  // namespace

void Order0Model::Encode(const PlaneView& image, SymbolSink& sink, const Progress& progress) const {
  std::vector<AdaptiveFrequencies> tables(image.channels, AdaptiveFrequencies(params_));
  for (uint32_t y = 0; y < image.height; ++y) {
    for (uint32_t x = 0; x < image.width; ++x) {
      for (uint32_t c = 0; c < image.channels; ++c) {
        const int v = image.at(y, x, c);
        sink.Put(SymbolPosition::At(y, x, c), tables[c], v);
        tables[c].Update(v);
      }
    }
    ReportRow(progress, y, image.height);
  }
}

void Order0Model::Decode(const PlaneView& image, SymbolSource& source, const Progress& progress) const {
  std::vector<AdaptiveFrequencies> tables(image.channels, AdaptiveFrequencies(params_));
  for (uint32_t y = 0; y < image.height; ++y) {
    for (uint32_t x = 0; x < image.width; ++x) {
      for (uint32_t c = 0; c < image.channels; ++c) {
        const int v = source.Get(SymbolPosition::At(y, x, c), tables[c]);
        image.at(y, x, c) = static_cast<uint8_t>(v);
        tables[c].Update(v);
      }
    }
    ReportRow(progress, y, image.height);
  }
}

}  // namespace pixelzip::models
