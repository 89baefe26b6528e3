// Deterministic distributions and symbol streams for the range coder tests, fuzzers
// and replays. Portable: the same seed gives the same numbers on every platform
// (no std:: distributions, whose output is implementation-defined).
#pragma once

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "entropy/range_coder.h"

namespace pixelzip::entropy::test_support {

// SplitMix64 (Steele, Lea, Flood 2014).
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for 1 <= n < 2^32 (multiply-shift; bias below 2^-32).
  uint32_t Below(uint32_t n) { return static_cast<uint32_t>(((Next() >> 32) * n) >> 32); }

 private:
  uint64_t state_;
};

enum class Shape {
  kUniform,         // equal frequencies (remainder to the first symbols)
  kRandom,          // independent random weights
  kExtreme,         // one symbol holds all but num_symbols - 1 of the total
  kNearDegenerate,  // two symbols share nearly everything, the rest have frequency 1
  kPeaked,          // two-sided geometric around a random centre, like a pixel predictor
};
inline constexpr int kNumShapes = 5;

// Scales weights (each >= 0) to frequencies >= 1 summing to kTotal; returns the CDF.
inline std::vector<uint32_t> CdfFromWeights(const std::vector<uint64_t>& weights) {
  const uint64_t n = weights.size();
  if (n == 0 || n > kTotal) throw std::invalid_argument("CdfFromWeights: bad alphabet size");
  uint64_t total_weight = 0;
  size_t heaviest = 0;
  for (size_t i = 0; i < n; ++i) {
    total_weight += weights[i];
    if (weights[i] > weights[heaviest]) heaviest = i;
  }
  std::vector<uint32_t> freqs(n, 1);
  uint64_t sum = n;
  if (total_weight > 0) {
    for (size_t i = 0; i < n; ++i) {
      const uint64_t extra = weights[i] * (kTotal - n) / total_weight;  // weights < 2^32 each
      freqs[i] += static_cast<uint32_t>(extra);
      sum += extra;
    }
  }
  freqs[heaviest] += static_cast<uint32_t>(kTotal - sum);
  std::vector<uint32_t> cdf(n + 1, 0);
  for (size_t i = 0; i < n; ++i) cdf[i + 1] = cdf[i] + freqs[i];
  return cdf;
}

// REQUIRES: 1 <= num_symbols <= kTotal.
inline std::vector<uint32_t> MakeCdf(Shape shape, int num_symbols, SplitMix64& rng) {
  const size_t n = static_cast<size_t>(num_symbols);
  std::vector<uint64_t> weights(n, 0);
  switch (shape) {
    case Shape::kUniform:
      for (auto& w : weights) w = 1;
      break;
    case Shape::kRandom:
      for (auto& w : weights) w = rng.Below(1u << 20);
      break;
    case Shape::kExtreme:
      weights[rng.Below(num_symbols)] = 1;
      break;
    case Shape::kNearDegenerate: {
      const uint32_t a = rng.Below(num_symbols);
      const uint32_t b = rng.Below(num_symbols);
      weights[a] += 1 + rng.Below(1u << 20);
      weights[b] += 1 + rng.Below(1u << 20);
      break;
    }
    case Shape::kPeaked: {
      const int centre = static_cast<int>(rng.Below(num_symbols));
      const int spread = 1 + static_cast<int>(rng.Below(8));
      for (int i = 0; i < num_symbols; ++i) {
        const int distance = (i > centre ? i - centre : centre - i) / spread;
        weights[i] = distance >= 30 ? 0 : (uint64_t{1} << 30) >> distance;
      }
      break;
    }
  }
  if (shape == Shape::kUniform) {
    // Exact equal split, remainder to the first symbols.
    std::vector<uint32_t> cdf(n + 1, 0);
    for (size_t i = 0; i < n; ++i) cdf[i + 1] = cdf[i] + kTotal / n + (i < kTotal % n ? 1 : 0);
    return cdf;
  }
  return CdfFromWeights(weights);
}

// The symbol s with cdf[s] <= u < cdf[s + 1], for u in [0, kTotal): sampling with u
// uniform gives symbols with exactly the probabilities freq / 2^16.
inline int SymbolAt(const std::vector<uint32_t>& cdf, uint32_t u) {
  return static_cast<int>(std::upper_bound(cdf.begin(), cdf.end(), u) - cdf.begin()) - 1;
}

inline uint32_t Freq(const std::vector<uint32_t>& cdf, int symbol) { return cdf[symbol + 1] - cdf[symbol]; }

}  // namespace pixelzip::entropy::test_support
