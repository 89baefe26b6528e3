// Integer layers of the exact CPU engine. Weights int8, or up to int16 where a
// model asks for wider weights (held as int16 either way), biases int32, activations int16, int32
// accumulation, integer requantisation (runtime/int_ops.h). Bit-exact by construction;
// the LibTorch path (torch/exact_ops.h) must reproduce these values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "models/nn/runtime/int_ops.h"
#include "models/nn/runtime/mixture_cdf.h"
#include "models/nn/runtime/model_file.h"

namespace pixelzip::models::nn {

// out[o] = clamp(RoundShift((bias[o] + sum_i weight[o][i] * in[i]) * multiplier[o], shift[o]), lo, hi)
struct IntLinear {
  int out = 0, in = 0;
  std::vector<int16_t> weight;  // [out][in], values in [-127, 127] unless the model widens its weights
  std::vector<int32_t> bias;
  std::vector<Requant> requant;
  int32_t lo = -kInt16Max, hi = kInt16Max;

  // REQUIRES: input has `in` values, |input| <= max_input (as proven at load); output has `out`.
  void Apply(const int16_t* input, int16_t* output) const;
  // Proves sum|w| * max_input + |b| < 2^24 for every output (exact in fp32 on any device, and
  // in int32); throws Error(kModelInvalid) naming `name` when not.
  void ProveBound(int32_t max_input, const std::string& name) const;
  // Written as int8 entry NAME.weight when every weight fits in [-127, 127], else as int16 NAME.weight16.
  void Write(ModelFile& f, const std::string& name) const;
  // Refuses weights outside [-max_weight, max_weight]; reads NAME.weight16 only when max_weight > 127.
  static IntLinear Read(const ModelFile& f, const std::string& name, int out, int in, int32_t max_weight = 127);
  // Throws Error(kModelInvalid) naming `name` when a weight lies outside [-max_weight, max_weight].
  void CheckWeights(int32_t max_weight, const std::string& name) const;
};

// Elementwise nonlinearity: idx = clamp(RoundShift(x * m, s), lo, lo + size - 1); y = table[idx - lo].
struct IntLut {
  Requant to_index;
  int32_t index_lo = 0;
  std::vector<int16_t> table;  // 4096 entries; int8 values unless the model widens its activations

  int16_t operator()(int32_t x) const {
    const int64_t i = RoundShift(int64_t(x) * to_index.multiplier, to_index.shift);
    const int64_t hi = int64_t(index_lo) + int64_t(table.size()) - 1;
    return table[size_t((i < index_lo ? index_lo : i > hi ? hi : i) - index_lo)];
  }
  void Write(ModelFile& f, const std::string& name) const;
  // Written as int8 entry NAME.table when every value fits in [-127, 127], else as int16 NAME.table16.
  // Read refuses values outside [-max_value, max_value]; NAME.table16 only when max_value > 127.
  static IntLut Read(const ModelFile& f, const std::string& name, int32_t max_value = 127);
  // Throws Error(kModelInvalid) naming `name` when a table value lies outside [-max_value, max_value].
  void CheckRange(int32_t max_value, const std::string& name) const;
};

inline constexpr int kLutSize = 4096;
inline constexpr int64_t kExactFp32Bound = int64_t{1} << 24;

void ValidateRequant(const Requant& r, const std::string& name);

// The entries every model file starts with: its architecture, hyperparameters and channel count.
void WriteModelHeader(ModelFile& f, const std::string& architecture, const std::string& hyper, int channels);
// The shape of a model file of `architecture` (Shape::FromHyper of its hyperparameters and channel count);
// throws Error(kModelInvalid) "model file is not a <architecture> model" for another one.
void CheckModelArchitecture(const ModelFile& f, const std::string& architecture);
template <class Shape>
Shape ReadModelShape(const ModelFile& f, const std::string& architecture) {
  CheckModelArchitecture(f, architecture);
  return Shape::FromHyper(f.Text("hyper"), f.Int32("channels", 1)[0]);
}
// The mixture CDF tables (runtime/mixture_cdf.h) under the keys `prefix` + "mixture.*".
void WriteMixtureTables(ModelFile& f, const MixtureTables& t, const std::string& prefix = "");
MixtureTables ReadMixtureTables(const ModelFile& f, const std::string& prefix = "");

}  // namespace pixelzip::models::nn
