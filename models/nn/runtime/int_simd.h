// SIMD integer kernels of the CPU engine (Highway, runtime dispatch to the best
// instruction set of the CPU): batched linear layers (int16 activations times
// int16 weights, int32 accumulation, the engine's requantisation) and the LUT
// nonlinearities. Every result is bit-identical to the scalar reference
// (IntLinear::Apply, IntLut::operator()): the loader proves
// sum|w| * max|a| + |b| < 2^24 per output, so int32 accumulation is exact in
// any order, and the requantisation is the same integer formula.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/int_layers.h"

namespace pixelzip::models::nn {

enum class KernelKind { kScalar, kSimd };

// One IntLinear with its weights packed for the SIMD kernel: [in_pairs][out_pad][2],
// pairs of consecutive inputs side by side (pmaddwd layout), zero padded.
struct PackedLinear {
  const IntLinear* layer = nullptr;
  int in = 0, out = 0, in_pairs = 0, out_pad = 0;
  std::vector<int16_t> w;
  std::vector<int32_t> bias;     // out_pad (zero padded)
  std::vector<int64_t> mult;     // out_pad: requant multiplier
  std::vector<int64_t> round;    // out_pad: 2^(shift-1)
  std::vector<int64_t> shift;    // out_pad
  std::vector<double> f_bias, f_mult, f_round, f_scale;  // the same as doubles (f_scale = 2^-shift), exact
  PackedLinear() = default;
  explicit PackedLinear(const IntLinear& layer);
};

// An IntLut widened to int32 entries (for gathers).
struct PackedLut {
  const IntLut* lut = nullptr;
  std::vector<int32_t> table;
  int32_t mult = 0, shift = 0, lo = 0, hi = 0;
  PackedLut() = default;
  explicit PackedLut(const IntLut& lut);
};

// Rows of activations: row n of `in` starts at in + n * in_stride and holds layer.in values
// (then zeros up to 2 * in_pairs: REQUIRES in_stride >= 2 * in_pairs and those entries set,
// e.g. to 0); |value| <= the max_input the loader proved. Writes layer.out values of row n
// at out + n * out_stride. kScalar runs IntLinear::Apply per row (the reference).
void LinearRows(const PackedLinear& layer, const int16_t* in, size_t in_stride, size_t rows, int16_t* out,
                size_t out_stride, KernelKind kind);
// out[i] = lut(in[i]) for i < count (in == out allowed).
void LutRows(const PackedLut& lut, const int16_t* in, int16_t* out, size_t count, KernelKind kind);
// h[i] = clamp(h[i] + inc[i], -32767, 32767) for i < count.
void ResidualAdd(int16_t* h, const int16_t* inc, size_t count, KernelKind kind);

// Name of the instruction set the SIMD kernels dispatch to on this CPU (e.g. "AVX3_DL").
std::string SimdTargetName();
// Every instruction set compiled in and supported here, as Highway target bits; for tests
// that run the kernels on each (SetSimdTargetForTest(0) restores the automatic choice).
std::vector<int64_t> SimdTargetsForTest();
void SetSimdTargetForTest(int64_t target);
std::string SimdTargetNameOf(int64_t target);

}  // namespace pixelzip::models::nn
