#include "models/nn/runtime/int_layers.h"

#include <algorithm>
#include <cstdlib>

#include "pixelzip/error.h"

namespace pixelzip::models::nn {

void ValidateRequant(const Requant& r, const std::string& name) {
  if (r.multiplier < (1 << 14) || r.multiplier >= (1 << 15) || r.shift < 1 || r.shift > 46)
    throw Error(ErrorCode::kModelInvalid, "model layer '" + name + "' has an invalid requantisation constant");
}

void IntLinear::Apply(const int16_t* input, int16_t* output) const {
  for (int o = 0; o < out; ++o) {
    const int16_t* w = weight.data() + size_t(o) * in;
    int32_t acc = 0;
    for (int i = 0; i < in; ++i) acc += int32_t(w[i]) * int32_t(input[i]);
    output[o] = int16_t(ApplyRequant(int64_t(acc) + bias[o], requant[o], lo, hi));
  }
}

void IntLinear::ProveBound(int32_t max_input, const std::string& name) const {
  for (int o = 0; o < out; ++o) {
    int64_t sum = std::llabs(int64_t(bias[o]));
    for (int i = 0; i < in; ++i) sum += int64_t(std::abs(weight[size_t(o) * in + i])) * max_input;
    if (sum >= kExactFp32Bound)
      throw Error(ErrorCode::kModelInvalid, "model layer '" + name + "' output " + std::to_string(o) +
                                                " fails the exactness bound: sum|w|*max|a|+|b| = " + std::to_string(sum) +
                                                " >= 2^24");
  }
}

void IntLinear::CheckWeights(int32_t max_weight, const std::string& name) const {
  for (int16_t v : weight)
    if (v < -max_weight || v > max_weight)
      throw Error(ErrorCode::kModelInvalid, "model layer '" + name + "' has a weight outside [-" + std::to_string(max_weight) +
                                                ", " + std::to_string(max_weight) + "]");
}

void IntLinear::Write(ModelFile& f, const std::string& name) const {
  std::vector<int32_t> rq;
  for (const auto& r : requant) { rq.push_back(r.multiplier); rq.push_back(r.shift); }
  const bool fits_int8 = std::all_of(weight.begin(), weight.end(), [](int16_t v) { return v >= -127 && v <= 127; });
  if (fits_int8)
    f.PutInt8(name + ".weight", std::vector<int8_t>(weight.begin(), weight.end()));
  else
    f.PutInt16(name + ".weight16", weight);
  f.PutInt32(name + ".bias", bias);
  f.PutInt32(name + ".requant", rq);
  f.PutInt32(name + ".clamp", {lo, hi});
}

IntLinear IntLinear::Read(const ModelFile& f, const std::string& name, int out, int in, int32_t max_weight) {
  IntLinear l;
  l.out = out;
  l.in = in;
  if (max_weight > 127 && f.Has(name + ".weight16")) {
    l.weight = f.Int16(name + ".weight16", size_t(out) * in);
  } else {
    const auto& w = f.Int8(name + ".weight", size_t(out) * in);
    l.weight.assign(w.begin(), w.end());
  }
  l.CheckWeights(std::min<int32_t>(max_weight, kInt16Max), name);
  l.bias = f.Int32(name + ".bias", size_t(out));
  const auto& rq = f.Int32(name + ".requant", size_t(out) * 2);
  for (int o = 0; o < out; ++o) {
    l.requant.push_back(Requant{rq[2 * o], rq[2 * o + 1]});
    ValidateRequant(l.requant.back(), name);
  }
  const auto& c = f.Int32(name + ".clamp", 2);
  l.lo = c[0];
  l.hi = c[1];
  if (l.lo < -kInt16Max || l.hi > kInt16Max || l.lo > l.hi)
    throw Error(ErrorCode::kModelInvalid, "model layer '" + name + "' has an invalid output range");
  return l;
}

void IntLut::Write(ModelFile& f, const std::string& name) const {
  f.PutInt32(name + ".index", {to_index.multiplier, to_index.shift, index_lo});
  const bool fits_int8 = std::all_of(table.begin(), table.end(), [](int16_t v) { return v >= -127 && v <= 127; });
  if (fits_int8)
    f.PutInt8(name + ".table", std::vector<int8_t>(table.begin(), table.end()));
  else
    f.PutInt16(name + ".table16", table);
}

IntLut IntLut::Read(const ModelFile& f, const std::string& name, int32_t max_value) {
  IntLut l;
  const auto& p = f.Int32(name + ".index", 3);
  l.to_index = Requant{p[0], p[1]};
  ValidateRequant(l.to_index, name);
  l.index_lo = p[2];
  if (l.index_lo < -(1 << 20) || l.index_lo > (1 << 20))
    throw Error(ErrorCode::kModelInvalid, "model LUT '" + name + "' has an invalid index range");
  if (max_value > 127 && f.Has(name + ".table16")) {
    l.table = f.Int16(name + ".table16", kLutSize);
  } else {
    const auto& t = f.Int8(name + ".table", kLutSize);
    l.table.assign(t.begin(), t.end());
  }
  l.CheckRange(max_value, name);
  return l;
}

void IntLut::CheckRange(int32_t max_value, const std::string& name) const {
  for (auto v : table)
    if (v < -max_value || v > max_value)
      throw Error(ErrorCode::kModelInvalid, "model LUT '" + name + "' has a value outside [-" + std::to_string(max_value) +
                                                ", " + std::to_string(max_value) + "]");
}

void WriteModelHeader(ModelFile& f, const std::string& architecture, const std::string& hyper, int channels) {
  f.PutText("architecture", architecture);
  f.PutText("hyper", hyper);
  f.PutInt32("channels", {channels});
}

void CheckModelArchitecture(const ModelFile& f, const std::string& architecture) {
  if (f.Text("architecture") != architecture)
    throw Error(ErrorCode::kModelInvalid, "model file is not a " + architecture + " model");
}

void WriteMixtureTables(ModelFile& f, const MixtureTables& t, const std::string& prefix) {
  f.PutInt32(prefix + "mixture.sigmoid", t.sigmoid);
  f.PutInt32(prefix + "mixture.exp", t.exp);
  f.PutInt32(prefix + "mixture.inv_scale", t.inv_scale);
  f.PutInt32(prefix + "mixture.tanh", t.tanh);
}

MixtureTables ReadMixtureTables(const ModelFile& f, const std::string& prefix) {
  MixtureTables t;
  t.sigmoid = f.Int32(prefix + "mixture.sigmoid", 2 * kSigmoidKnotsPerUnit * kSigmoidRange + 1);
  t.exp = f.Int32(prefix + "mixture.exp", kLogitSpan + 1);
  t.inv_scale = f.Int32(prefix + "mixture.inv_scale", kLogScaleMax - kLogScaleMin + 1);
  t.tanh = f.Int32(prefix + "mixture.tanh", 2 * kCoeffSpan + 1);
  return t;
}

}  // namespace pixelzip::models::nn
