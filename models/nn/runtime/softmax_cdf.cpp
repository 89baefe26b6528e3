#include "models/nn/runtime/softmax_cdf.h"

#include <algorithm>
#include <cmath>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

std::vector<int32_t> ComputeSoftmaxExpTable() {
  std::vector<int32_t> t;
  for (int d = 0; d < kSoftmaxExpEntries; ++d)
    t.push_back(int32_t(std::llround(std::ldexp(std::exp(-double(d) / (1 << kSoftmaxLogitFracBits)), kSoftmaxExpBits))));
  return t;
}

void ValidateSoftmaxExpTable(const std::vector<int32_t>& t) {
  bool ok = t.size() == size_t(kSoftmaxExpEntries) && t[0] == (1 << kSoftmaxExpBits);
  for (size_t i = 1; ok && i < t.size(); ++i) ok = t[i] >= 0 && t[i] <= t[i - 1];
  if (!ok) throw Error(ErrorCode::kModelInvalid, "model softmax exp table is invalid");
}

void SoftmaxCdf::Prepare(const int16_t* logits) {
  constexpr uint32_t kBudget = kCdfTotal - kSymbols;  // 65280: what is left after 1 per symbol
  int best = 0;
  for (int s = 1; s < kSymbols; ++s)
    if (logits[s] > logits[best]) best = s;
  const int32_t max_logit = logits[best];
  uint32_t e[kSymbols];
  uint64_t total = 0;  // <= 256 * 2^24 = 2^32
  for (int s = 0; s < kSymbols; ++s) {
    const int32_t d = std::min<int32_t>(max_logit - logits[s], kSoftmaxExpEntries - 1);
    e[s] = uint32_t(table_[size_t(d)]);
    total += e[s];
  }
  // total >= table[0] = 2^24, so ratio <= 65280 * 2^8 and e * ratio < 2^56.
  const uint64_t ratio = (uint64_t{kBudget} << 32) / total;
  uint32_t cum = 0;
  for (int s = 0; s < kSymbols; ++s) {
    cum_[size_t(s)] = cum;
    cum += 1 + uint32_t((uint64_t{e[s]} * ratio) >> 32);
  }
  // sum of floor(e * ratio / 2^32) <= floor(total * ratio / 2^32) <= kBudget, so the remainder is >= 0.
  const uint32_t remainder = kCdfTotal - cum;
  for (int s = best + 1; s < kSymbols; ++s) cum_[size_t(s)] += remainder;
  cum_[kSymbols] = kCdfTotal;
}

int SoftmaxCdf::Find(uint32_t target) const {
  // The last s with cum_[s] <= target.
  return int(std::upper_bound(cum_.begin(), cum_.end(), target) - cum_.begin()) - 1;
}

}  // namespace pixelzip::models::nn
