// Integer primitives of the exact-arithmetic contract (docs/design.md section 2).
// Every device computes these identically; the LibTorch path reproduces them
// with int64 tensor ops (floor division), the CPU engine with these functions.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace pixelzip::models::nn {

// floor(v / 2^shift + 1/2): rounding half up, for any sign of v.
// REQUIRES: 1 <= shift <= 62.
inline int64_t RoundShift(int64_t v, int shift) {
  // Arithmetic right shift is floor division for negative v on every compiler
  // we support (and mandated by C++20); spelled with a check to be explicit.
  const int64_t x = v + (int64_t{1} << (shift - 1));
  return x >= 0 ? (x >> shift) : -((-x + (int64_t{1} << shift) - 1) >> shift);
}

// A real factor f approximated as multiplier / 2^shift with multiplier in [2^14, 2^15).
struct Requant {
  int32_t multiplier = 1 << 14;
  int32_t shift = 14;
};

// REQUIRES: 2^-40 <= factor < 2^16. Guarantees |multiplier / 2^shift - factor| <= factor * 2^-15.
inline Requant RequantFromFactor(double factor) {
  int exponent = 0;
  const double mantissa = std::frexp(factor, &exponent);  // factor = mantissa * 2^exponent, mantissa in [0.5, 1)
  Requant r;
  r.shift = 15 - exponent;
  r.multiplier = static_cast<int32_t>(std::llround(mantissa * 32768.0));
  if (r.multiplier == 32768) { r.multiplier = 16384; r.shift -= 1; }
  return r;
}

// clamp(RoundShift(v * multiplier, shift), lo, hi).
inline int32_t ApplyRequant(int64_t v, const Requant& r, int32_t lo, int32_t hi) {
  const int64_t x = RoundShift(v * r.multiplier, r.shift);
  return static_cast<int32_t>(std::clamp<int64_t>(x, lo, hi));
}

inline constexpr int32_t kInt16Max = 32767;
inline constexpr int32_t kInt8Max = 127;

}  // namespace pixelzip::models::nn
